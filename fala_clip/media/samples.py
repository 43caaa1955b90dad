"""Sample media generated on the spot (``make demo``, benchmarks): no downloads.

``sample_video``: segments of different ffmpeg test sources joined by hard
cuts, with motion, white flashes and 1 kHz beeps at known instants over a
quiet tone bed.  ``sample_track``: a 120 BPM song with quiet and loud
sections (kick, snare, hats, a chord pad), written with numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fala_clip.media.procs import ffmpeg_bin, run

FLASH_TIMES = (7.0, 19.5, 33.0, 46.5)


def sample_video(path: Path, *, duration: float = 60.0, width: int = 960, height: int = 540, fps: int = 30) -> Path:
    """H.264/AAC MP4 with hard cuts every ``duration/5`` s and flash+beep pairs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seg = duration / 5
    size = f"{width}x{height}"
    sources = [
        f"testsrc2=size={size}:rate={fps}:duration={seg}",
        f"gradients=size={size}:rate={fps}:speed=0.03:duration={seg}",
        f"smptehdbars=size={size}:rate={fps}:duration={seg},hue=H=2*PI*t/{seg}",
        f"life=size={width // 4}x{height // 4}:rate={fps}:mold=10:ratio=0.3:death_color=#203040,"
        f"scale={size}:flags=neighbor,trim=duration={seg}",
        f"cellauto=size={width // 4}x{height // 4}:rate={fps}:rule=110,scale={size}:flags=neighbor,trim=duration={seg}",
    ]
    flash = "+".join(f"between(t,{t},{t + 1 / fps - 1e-3})" for t in FLASH_TIMES)
    beep = "+".join(f"between(t,{t},{t + 0.1})" for t in FLASH_TIMES)
    parts = []
    for i, src in enumerate(sources):
        parts.append(f"{src},format=yuv420p,setsar=1,settb=1/{fps}[v{i}]")
    concat = "".join(f"[v{i}]" for i in range(len(sources)))
    graph = ";".join(
        [
            *parts,
            f"{concat}concat=n={len(sources)}:v=1:a=0[cat]",
            f"color=white:size={size}:rate={fps}:duration={duration}[white]",
            f"[cat][white]overlay=enable='{flash}'[vout]",
            f"sine=frequency=1000:sample_rate=48000:duration={duration},volume=enable='not({beep})':volume=0[beep]",
            f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.05:duration={duration}[bed]",
            "[beep][bed]amix=inputs=2:normalize=0[aout]",
        ]
    )
    cmd = [
        ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-filter_complex", graph, "-map", "[vout]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", "-t", str(duration), "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    run(cmd, timeout=600, capture_stdout=False, what="sample video")
    return path


def sample_track(path: Path, *, duration: float = 45.0, bpm: float = 120.0, sr: int = 44100, seed: int = 7) -> Path:
    """A WAV song: quiet verse (pad), loud chorus (drums + pad), repeated."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(duration * sr)
    y = np.zeros(n, np.float32)
    beat = 60.0 / bpm
    t_kick = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-t_kick * 30)) * t_kick) * np.exp(-t_kick * 12)
    snare = rng.standard_normal(int(0.18 * sr)) * np.exp(-np.arange(int(0.18 * sr)) / (0.04 * sr)) * 0.5
    hat = rng.standard_normal(int(0.04 * sr)) * np.exp(-np.arange(int(0.04 * sr)) / (0.008 * sr)) * 0.25
    bar = 4 * beat
    loud = lambda t: (t // (8 * bar)) % 2 == 1  # noqa: E731 - 8-bar sections alternate quiet / loud

    def add(x: np.ndarray, at: float, gain: float) -> None:
        s = int(at * sr)
        e = min(n, s + x.size)
        if s < n:
            y[s:e] += gain * x[: e - s].astype(np.float32)

    k = 0
    while k * beat < duration:
        t = k * beat
        if loud(t):
            add(kick, t, 0.9 if k % 4 == 0 else 0.7)
            if k % 4 in (1, 3):
                add(snare, t, 0.8)
            add(hat, t + beat / 2, 1.0)
        else:
            add(kick, t, 0.35 if k % 4 == 0 else 0.0)
        k += 1
    tt = np.arange(n) / sr
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    pad = np.zeros(n, np.float32)
    for i, chord in enumerate(chords * int(duration // (len(chords) * bar) + 1)):
        s, e = int(i * bar * sr), min(n, int((i + 1) * bar * sr))
        if s >= n:
            break
        seg = tt[s:e]
        pad[s:e] = sum(np.sin(2 * np.pi * f * seg) for f in chord) / 3
    gain = np.where(np.array([loud(t) for t in tt[:: sr // 10]]).repeat(sr // 10)[:n], 0.25, 0.12)
    y += pad * gain[: pad.size].astype(np.float32)
    y /= max(1e-6, float(np.max(np.abs(y)))) / 0.8
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([y, y], axis=1), sr, subtype="PCM_16")
    return path
