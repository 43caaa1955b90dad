"""A generated source with planted content for the clean-edge checks (tests and figures).

46.4 s at 320x180, 25 fps: a 1.6 s black intro, eight distinct 5.6 s shots (lavfi patterns)
the first fading in over 1.6 s and the last fading out to black over its last 1.6 s; Portuguese
sentences spoken by espeak-ng at known times on an otherwise near-silent track.  Returns the
path and the ground truth (blank spans, shot cuts, sounding spans of the speech).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

FPS = 25
SIZE = "320x180"
INTRO_BLACK = 1.6
FADE = 1.6
SHOT_S = 5.6
SHOTS = [  # distinct pictures, no fades or colour cycling inside (those are the detector's to find)
    "testsrc2=s={s}:r={r}",
    "mandelbrot=s={s}:r={r}",
    "smptehdbars=s={s}:r={r}",
    "life=s={s}:r={r}:mold=10:ratio=0.2:death_color=#203040:life_color=#e0c060",
    "rgbtestsrc=s={s}:r={r}",
    "cellauto=s={s}:r={r}:rule=110",
    "yuvtestsrc=s={s}:r={r}",
    "testsrc=s={s}:r={r}",
]
SENTENCES = [
    (3.5, "o gato subiu no telhado da casa amarela"),
    (8.0, "amanhã vamos todos ao mercado da cidade"),
    (12.5, "a música começa quando a luz se apaga"),
    (17.0, "ninguém sabia onde estava a chave do carro"),
    (21.5, "o vento frio chegou com a chuva da tarde"),
    (26.0, "as crianças correram até a praia deserta"),
    (30.5, "o livro ficou esquecido em cima da mesa"),
    (35.0, "depois do jantar contamos histórias antigas"),
    (39.5, "a estrada seguia reta até o horizonte"),
]
SR = 16000


def _sounding_spans(wav: np.ndarray, at: float, hop: float = 0.01) -> list[tuple[float, float]]:
    """Spans where the spoken sentence is audible (RMS over -40 dBFS), gaps < 60 ms closed."""
    n = wav.size // int(hop * SR)
    frames = wav[: n * int(hop * SR)].reshape(n, -1)
    on = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9) > -40
    spans: list[list[float]] = []
    for i in np.flatnonzero(on):
        t0, t1 = at + i * hop, at + (i + 1) * hop
        if spans and t0 - spans[-1][1] < 0.06:
            spans[-1][1] = t1
        else:
            spans.append([t0, t1])
    return [(a, b) for a, b in spans]


def make_planted_source(out_dir: Path) -> tuple[Path, dict[str, Any]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    duration = INTRO_BLACK + len(SHOTS) * SHOT_S  # 46.4 s
    audio = (1e-4 * np.random.default_rng(0).standard_normal(int(duration * SR))).astype(np.float32)
    speech: list[tuple[float, float]] = []
    for k, (at, text) in enumerate(SENTENCES):
        wav_path = out_dir / f"s{k}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "pt", "-s", "150", "-w", str(wav_path), text], check=True, capture_output=True
        )
        raw = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                str(wav_path),
                "-f",
                "f32le",
                "-ac",
                "1",
                "-ar",
                str(SR),
                "-",
            ],
            check=True,
            capture_output=True,
        ).stdout
        wav = np.frombuffer(raw, np.float32)
        i = int(at * SR)
        audio[i : i + wav.size] += wav[: audio.size - i]
        speech += _sounding_spans(wav, at)
    pcm = out_dir / "track.f32"
    audio.tofile(pcm)
    args: list[str] = ["-f", "lavfi", "-i", f"color=black:s={SIZE}:r={FPS}:d={INTRO_BLACK}"]
    for src in SHOTS:
        args += ["-f", "lavfi", "-i", src.format(s=SIZE, r=FPS) + f",trim=duration={SHOT_S}"]
    graph = "[0]format=yuv420p,setsar=1[v0];"
    for k in range(len(SHOTS)):
        filt = f"[{k + 1}]format=yuv420p,setsar=1,setpts=PTS-STARTPTS"
        if k == 0:
            filt += f",fade=t=in:st=0:d={FADE}"
        if k == len(SHOTS) - 1:
            filt += f",fade=t=out:st={SHOT_S - FADE}:d={FADE}"
        graph += f"{filt}[v{k + 1}];"
    graph += "".join(f"[v{k}]" for k in range(len(SHOTS) + 1)) + f"concat=n={len(SHOTS) + 1}:v=1:a=0[v]"
    out = out_dir / "planted.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *args,
            "-f",
            "f32le",
            "-ar",
            str(SR),
            "-ac",
            "1",
            "-i",
            str(pcm),
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            f"{len(SHOTS) + 1}:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    cuts = [INTRO_BLACK + k * SHOT_S for k in range(len(SHOTS))]
    truth = {
        "duration": duration,
        "blank": [(0.0, INTRO_BLACK + FADE), (duration - FADE, duration)],
        "cuts": cuts[1:],
        "speech": speech,
    }
    return out, truth
