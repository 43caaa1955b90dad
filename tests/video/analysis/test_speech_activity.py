"""Fine speech activity (Silero probability per 32 ms) on speech planted at known times."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from video.analysis.decode import decode_audio
from video.analysis.speech import speech_analysis, speech_per_second

SR = 16000

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def spoken(tmp: Path, text: str) -> np.ndarray:
    out = tmp / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "pt", "-s", "150", "-w", str(out), text], check=True, capture_output=True)
    return decode_audio(out)


def sounding(audio: np.ndarray, hop: float = 0.01) -> np.ndarray:
    """Per ``hop``: the planted sound is audible (RMS above -45 dBFS)."""
    n = int(len(audio) / (hop * SR))
    frames = audio[: int(n * hop * SR)].reshape(n, -1)
    return 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9) > -45


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """9 s: two Portuguese sentences (espeak-ng) at 1.0 s and 5.0 s, silence elsewhere."""
    tmp = tmp_path_factory.mktemp("speech")
    audio = np.zeros(9 * SR, np.float32)
    spans = []
    for at, text in ((1.0, "o gato subiu no telhado"), (5.0, "amanhã vamos ao mercado")):
        s = spoken(tmp, text)
        i = int(at * SR)
        audio[i : i + s.size] = s
        snd = np.flatnonzero(sounding(s))
        spans.append((at + snd[0] * 0.01, at + (snd[-1] + 1) * 0.01))
    return audio, spans


def test_fine_activity_follows_the_planted_sentences(planted):
    audio, spans = planted
    share, activity, info = speech_analysis(audio, SR, 9)
    assert info["name"].startswith("silero")
    hop = activity["hop_s"]
    assert hop == pytest.approx(0.032)
    v = np.asarray(activity["values"])
    assert v.size == pytest.approx(9 / hop, abs=1) and v.min() >= 0 and v.max() <= 1
    t = (np.arange(v.size) + 0.5) * hop
    for a, b in spans:
        inside = (t >= a + 0.15) & (t <= b - 0.15)
        assert (v[inside] >= 0.5).mean() > 0.8, (a, b)
    gap = (t >= spans[0][1] + 0.4) & (t <= spans[1][0] - 0.2)  # the pause between the sentences
    assert gap.any() and (v[gap] < 0.5).all()
    lead = t <= spans[0][0] - 0.2
    assert (v[lead] < 0.5).all()
    # the per-second view is the same as before (one VAD pass gives both)
    assert speech_per_second(audio, SR, 9)[0] == share


def test_no_audio_gives_an_empty_activity():
    share, activity, _ = speech_analysis(None, SR, 3)
    assert share == [0.0, 0.0, 0.0] and activity["values"] == [] and activity["hop_s"] > 0
