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
        f"life=size={width // 4}x{height // 4}:rate={fps}:mold=10:ratio=0.3:seed=5:death_color=#203040,"
        f"scale={size}:flags=neighbor,trim=duration={seg}",
        f"cellauto=size={width // 4}x{height // 4}:rate={fps}:rule=110:seed=5,"
        f"scale={size}:flags=neighbor,trim=duration={seg}",
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
            f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.05:seed=5:duration={duration}[bed]",
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


#: The demo sample's spoken line (spoken by espeak-ng when it is installed).  English: whisper
#: base reads espeak-ng's Portuguese voice as Latin, English or Spanish and its guards then reject
#: the words (measured on "Olá! Este é o fala clip…" with the pt and pt-br voices at 130-150
#: words/min); espeak's English comes back word for word, so the demo shows its captions.
DEMO_LINE = "Hello! This is fala clip. Cuts on the beat, captions and framing, all automatic."
DEMO_VOICE = "en"
DEMO_TITLE = "FALA CLIP  DEMO"
#: Seed of the demo's random sources (the noise bed, the texture): the same file every run, so the
#: line's transcript does not depend on which noise happened to be drawn.
DEMO_SEED = 2
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _face_photo() -> Path | None:
    """The astronaut portrait scikit-image ships (a real face photo, public domain, NASA)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    png = Path(spec.origin).parent / "data" / "astronaut.png"
    return png if png.exists() else None


def _speak(text: str, path: Path, *, voice: str = DEMO_VOICE) -> Path | None:
    """``text`` spoken into a WAV by Debian's espeak-ng; None when espeak-ng is not installed."""
    import shutil

    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    run([exe, "-v", voice, "-s", "150", "-w", str(path), text], timeout=60, capture_stdout=False, what="espeak-ng")
    return path


def demo_video(path: Path, *, duration: float = 60.0, width: int = 960, height: int = 540, fps: int = 30) -> Path:
    """The ``make demo`` source: what the product does best, on content a newcomer recognises.

    Five shots of ``duration/5`` s joined by hard cuts: (1) a title card that fades in from black,
    the title spanning most of the width (a 9:16 crop would cut it: the renderer must fit it);
    (2) a subject moving across a textured background (no face: the crop follows it);
    (3) a real face photo drifting across the frame while a line is spoken
    (captions, clean cuts in the pauses); (4) two subjects at the left and right edges (fit);
    (5) colour bars.  White one-frame flashes with 1 kHz beeps at :data:`FLASH_TIMES` (inside the
    duration), over a quiet noise bed.  Without espeak-ng the line is left out; without
    scikit-image's photo shot 3 shows a drawn subject; without DejaVu the title uses ffmpeg's default font.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    seg = duration / 5
    size = f"{width}x{height}"
    font = f"fontfile={DEJAVU_BOLD}:" if DEJAVU_BOLD.exists() else ""
    fsize = max(12, int(width * 0.085))
    inputs: list[str] = []
    face = _face_photo()
    speech = _speak(DEMO_LINE, path.with_suffix(".speech.wav"))
    graph: list[str] = []
    # (1) title card, fading in from black over the first second
    graph.append(
        f"gradients=size={size}:rate={fps}:c0=0x1d2b53:c1=0x7e2553:speed=0.02:duration={seg},"
        f"drawtext={font}text='{DEMO_TITLE}':fontsize={fsize}:fontcolor=white:x=(w-tw)/2:y=(h-th)/2,"
        f"fade=t=in:st=0:d=1,format=yuv420p,setsar=1[v0]"
    )
    # (2) a subject (an orange disc-like box) moving left to right and back over a texture
    box = max(8, height // 5)
    graph.append(
        f"cellauto=size={width // 8}x{height // 8}:rate={fps}:rule=30:seed={DEMO_SEED},scale={size}:flags=neighbor,"
        f"trim=duration={seg},colorlevels=romax=0.35:gomax=0.35:bomax=0.45[bg1]"
    )
    graph.append(f"color=c=0xff8c1a:size={box}x{box}:rate={fps}:duration={seg}[sub1]")
    graph.append(
        f"[bg1][sub1]overlay=x='(W-w)*(0.5-0.45*cos(2*PI*t/{seg}))':y='(H-h)/2+H/8*sin(2*PI*t/3)':shortest=1,"
        f"format=yuv420p,setsar=1[v1]"
    )
    # (3) the face photo drifting across a grey set
    fh = int(height * 0.6) // 2 * 2
    graph.append(f"color=c=0x404650:size={size}:rate={fps}:duration={seg}[bg2]")
    if face is not None:
        inputs += ["-loop", "1", "-framerate", str(fps), "-t", f"{seg}", "-i", str(face)]
        graph.append(f"[0:v]scale=-2:{fh},format=yuv420p[sub2]")
    else:
        graph.append(f"color=c=0xe0c0a0:size={fh * 3 // 4}x{fh}:rate={fps}:duration={seg}[sub2]")
    graph.append(f"[bg2][sub2]overlay=x='(W-w)*(0.15+0.7*t/{seg})':y='(H-h)/2':shortest=1,format=yuv420p,setsar=1[v2]")
    # (4) two subjects at the edges
    graph.append(f"color=c=0x2a5d3a:size={size}:rate={fps}:duration={seg}[bg3]")
    graph.append(f"color=c=0xf0e040:size={box}x{box * 2}:rate={fps}:duration={seg}[l3]")
    graph.append(f"color=c=0x40c0f0:size={box}x{box * 2}:rate={fps}:duration={seg}[r3]")
    graph.append("[bg3][l3]overlay=x='W*0.03':y='(H-h)/2+H/10*sin(2*PI*t/2)':shortest=1[lr3]")
    graph.append("[lr3][r3]overlay=x='W*0.97-w':y='(H-h)/2-H/10*sin(2*PI*t/2)':shortest=1,format=yuv420p,setsar=1[v3]")
    # (5) colour bars with a hue rotation
    graph.append(f"smptehdbars=size={size}:rate={fps}:duration={seg},hue=H=2*PI*t/{seg},format=yuv420p,setsar=1[v4]")
    flashes = [t for t in FLASH_TIMES if t < duration - 1]
    flash = "+".join(f"between(t,{t},{t + 1 / fps - 1e-3})" for t in flashes) or "0"
    beep = "+".join(f"between(t,{t},{t + 0.1})" for t in flashes) or "0"
    graph += [
        "".join(f"[v{i}]" for i in range(5)) + "concat=n=5:v=1:a=0,settb=1/" + str(fps) + "[cat]",
        f"color=white:size={size}:rate={fps}:duration={duration}[white]",
        f"[cat][white]overlay=enable='{flash}'[vout]",
        f"sine=frequency=1000:sample_rate=48000:duration={duration},volume=enable='not({beep})':volume=0[beep]",
        f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.03:seed={DEMO_SEED}:duration={duration}[bed]",
    ]
    if speech is not None:
        idx = 1 if face is not None else 0
        inputs += ["-i", str(speech)]
        delay = int((2 * seg + 1.0) * 1000)
        graph.append(
            f"[{idx}:a]aresample=48000,aformat=channel_layouts=mono,adelay={delay},apad,"
            f"atrim=duration={duration}[voice]"
        )
        graph.append("[beep][bed][voice]amix=inputs=3:normalize=0[aout]")
    else:
        graph.append("[beep][bed]amix=inputs=2:normalize=0[aout]")
    cmd = [
        ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs,
        "-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", "-t", str(duration), "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    try:
        run(cmd, timeout=600, capture_stdout=False, what="demo video")
    finally:
        if speech is not None:
            speech.unlink(missing_ok=True)
    return path
