"""Music-analysis benchmark: one 3-minute track through ``analyze_track``.

Budget (DESIGN §10): music analysis with transcription <= 0.25 x track
duration (45 s for 3 min) on 2 CPU cores, peak memory < 3 GiB.

Without ``--track`` it generates a 3-minute song with ffmpeg (aevalsrc):
120 BPM kick / off-beat hats / bass / pad in intro-verse-chorus-verse-
chorus-bridge-chorus-outro sections, and, when ../shared/media is present,
real speech (jfk + five FLEURS pt clips, ~80 s) mixed over the verses and
choruses as a stand-in for vocals, so whisper has real work to do.

Usage: ``python bench/bench_music.py [--track FILE] [--language pt]
[--whisper-model base] [--beam-size N] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", REPO.parent / "shared" / "media"))
DURATION = 180.0

# Section envelopes: (start, end) per instrument group, 120 BPM = bars of 2 s.
_DRUMS = "(between(t,16,136)+between(t,156,170))"
_HATS = "(between(t,46,76)+between(t,106,170))"
_LOUD = "(1+0.6*(between(t,46,76)+between(t,106,136)+between(t,156,170)))"


def generate_track(out: Path, duration: float = DURATION) -> Path:
    """Write a synthetic song (+ speech as vocals when shared media exists)."""
    kick = "0.9*sin(2*PI*(55*mod(t,0.5)+3*(1-exp(-mod(t,0.5)/0.03))))*exp(-mod(t,0.5)/0.12)"
    hat = "0.25*(2*random(0)-1)*exp(-mod(t+0.25,0.5)/0.012)"
    bass_f = "55*(1+0.189*eq(mod(floor(t/2),4),1)+0.335*eq(mod(floor(t/2),4),2)-0.109*eq(mod(floor(t/2),4),3))"
    bass = f"0.3*sin(2*PI*{bass_f}*t)*exp(-mod(t,0.5)/0.3)"
    pad = "0.08*(sin(2*PI*220*t)+sin(2*PI*277.2*t)+sin(2*PI*329.6*t))"
    expr = f"({kick}*{_DRUMS}+{hat}*{_HATS}+{bass}*{_DRUMS}+{pad})*{_LOUD}*0.5"
    inputs = ["-f", "lavfi", "-i", f"aevalsrc='{expr}':s=44100:d={duration}"]
    speech = ["jfk.flac"] + [f"fleurs-pt-00{i}.ogg" for i in range(5)]
    have_speech = all((SHARED_MEDIA / f).is_file() for f in speech)
    if have_speech:
        for f in speech:
            inputs += ["-i", str(SHARED_MEDIA / f)]
        n = len(speech)
        parts = "".join(f"[{i + 1}:a]aresample=44100,aformat=channel_layouts=mono[s{i}];" for i in range(n))
        chain = "".join(f"[s{i}]" for i in range(n))
        graph = (
            f"{parts}{chain}concat=n={n}:v=0:a=1,asplit=2[sp1][sp2];"
            "[sp1]adelay=delays=18000:all=1[d1];[sp2]adelay=delays=106000:all=1,volume=0.9[d2];"
            "[0:a][d1][d2]amix=inputs=3:duration=first:normalize=0,alimiter=limit=0.95[out]"
        )
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", *inputs, "-filter_complex", graph, "-map", "[out]"]
    else:
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", *inputs]
    cmd += ["-t", str(duration), "-ac", "2", "-c:a", "libmp3lame", "-b:a", "192k", str(out)]
    subprocess.run(cmd, check=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--track", type=Path)
    ap.add_argument("--language", default=None)
    ap.add_argument("--whisper-model", default=None)
    ap.add_argument("--beam-size", type=int, default=None)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-music-") as tmp:
        track = args.track
        if track is None:
            t0 = time.perf_counter()
            track = generate_track(Path(tmp) / "bench_track.mp3")
            print(f"generated {track.name} in {time.perf_counter() - t0:.1f} s")

        from music.analysis.pipeline import analyze_track

        t0 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        result = analyze_track(
            track,
            language=args.language,
            whisper_model=args.whisper_model,
            beam_size=args.beam_size,
            on_step=lambda s: print(f"  [{time.perf_counter() - t0:6.1f} s] {s}", flush=True),
        )
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)

    duration = result["duration"]
    budget = 0.25 * duration
    peak_mib = cpu1.ru_maxrss / 1024.0  # Linux: KiB
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"\ntrack: {duration:.1f} s   tempo {result['tempo']} BPM   sections {len(result['sections'])}")
    words = sum(len(s["words"]) for s in result["transcription"]["segments"])
    print(f"transcription: lang={result['transcription']['language']} words={words}")
    print("step timings (s):")
    for k, v in result["timings"].items():
        print(f"  {k:22s} {v:7.2f}")
    print(f"wall {wall:.1f} s (budget {budget:.1f} s = 0.25 x duration) -> {'OK' if wall <= budget else 'OVER'}")
    print(f"cpu {cpu_s:.1f} s   peak RSS {peak_mib:.0f} MiB (budget 3072 MiB)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "duration": duration,
                    "wall_s": round(wall, 2),
                    "budget_s": budget,
                    "cpu_s": round(cpu_s, 2),
                    "peak_rss_mib": round(peak_mib),
                    "timings": result["timings"],
                    "versions": result["versions"],
                },
                indent=1,
            )
        )
    return 0 if wall <= budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
