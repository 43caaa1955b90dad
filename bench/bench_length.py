"""Cost flat in source length: the clip pipeline on 1, 5, 20 and 60-minute sources.

Each source is 1080p30 H.264 at ~8 Mb/s with a 2 s keyframe interval and AAC
audio, like W5 (``bench/common.py``), with the W5 track as ``--music``.  Per
size, ``manage.py clip`` runs in a subprocess (SQLite, filesystem, a fresh
``FALA_VAR_DIR`` each time) while its whole process tree is sampled every
0.2 s from ``/proc`` (``VmRSS`` and the kernel's own high-water mark
``VmHWM``), so the peak RSS is reported per process kind: the Python pipeline
process, the ffmpeg decode pass, the ffmpeg renders, and any other child by
its command name.  The stage timings come from the run's ``summary.json``.

Prints wall time, time per source minute, peak RSS per kind and the key
stages per size, then the ratios largest/smallest; flags ``GROWS`` (exit 1)
when the pipeline process's peak RSS at the largest size exceeds the
smallest's by more than 25 %, or the time per source minute rises by more
than 15 % between the two largest sizes.  Everything also goes to
``<workdir>/bench_length.json``.

Sources: x264 at 1080p30 runs at ~2x real time on the 2 shared cores, so one
60 s piece is encoded once (``w5_source(60)``: testsrc2, moving and changing
over time) and the longer sources repeat its *video* stream through the
concat demuxer with ``-c copy``.  The audio is not stream-copied: every AAC
piece carries its encoder priming and end padding, which a stream-copy concat
keeps (measured: +37 ms of audio per piece at 48 kHz, i.e. the soundtrack
drifts 2.2 s behind the picture over 60 pieces), so the W5 beep is generated
for the whole length and encoded once (native AAC, ~90x real time).  Each
source is checked with ffprobe (frame count, durations, start times, constant
packet spacing in both streams) and cached as ``FALA_BENCH_DIR/len_{N}min.mp4``
(~60 MB per minute).

The 60-minute run takes ~10 minutes here (20 min of source: ~3 min), so
``bench/run_all.py`` runs this only when asked (``--length`` or
``FALA_BENCH_LENGTH=1``).

Usage: ``.venv/bin/python bench/bench_length.py [--sizes 1,5,20,60] [--workdir /tmp/fala-bench]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import BENCH_DIR, w5_source, w5_track  # noqa: E402

PIECE_S = 60
FPS = 30
SAMPLE_EVERY_S = 0.2
RSS_GROWTH_LIMIT = 1.25  # python peak RSS, largest size vs smallest
TIME_GROWTH_LIMIT = 1.15  # seconds per source minute, largest size vs the one before
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


# --------------------------------------------------------------------------- sources


def _probe_streams(path: Path) -> dict[str, dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,start_time,duration,nb_frames",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def _packet_spacing(path: Path) -> dict[str, dict[int, int]]:
    """Histogram of the dts step between consecutive packets, per stream (a concat seam shows as an odd step)."""
    proc = subprocess.Popen(
        ["ffprobe", "-v", "error", "-show_entries", "packet=codec_type,dts", "-of", "csv=p=0", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    last: dict[str, int] = {}
    steps: dict[str, Counter[int]] = {"video": Counter(), "audio": Counter()}
    for line in proc.stdout:
        kind, _, dts = line.strip().partition(",")
        if kind not in steps or not dts.lstrip("-").isdigit():
            continue
        d = int(dts)
        if kind in last:
            steps[kind][d - last[kind]] += 1
        last[kind] = d
    if proc.wait() != 0:
        raise RuntimeError(f"ffprobe failed on {path}")
    return {k: dict(v) for k, v in steps.items()}


def _decoded_audio_s(path: Path, rate: int = 16000) -> float:
    """Seconds of audio a timestamp-blind consumer gets (16 kHz mono f32 to a pipe, as the analysis decodes it)."""
    proc = subprocess.Popen(
        [*FFMPEG, "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    n = 0
    while chunk := proc.stdout.read(1 << 20):
        n += len(chunk)
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not decode the audio of {path}")
    return n / 4 / rate


def verify_source(path: Path, minutes: int, *, packets: bool) -> dict[str, Any]:
    """Duration, frame count and A/V alignment of a generated source; raises when off.

    ``packets``: also check that both streams' packets are evenly spaced (no
    seam at the piece boundaries) and that the decoded soundtrack is as long as
    the picture (no drift for a consumer that ignores timestamps).
    """
    s = _probe_streams(path)
    v, a = s.get("video"), s.get("audio")
    if v is None or a is None:
        raise RuntimeError(f"{path}: needs a video and an audio stream")
    want = minutes * 60.0
    report: dict[str, Any] = {
        "video_frames": int(v.get("nb_frames") or 0),
        "video_s": float(v["duration"]),
        "audio_s": float(a["duration"]),
        "video_start_s": float(v["start_time"]),
        "audio_start_s": float(a["start_time"]),
    }
    problems = []
    if report["video_frames"] != minutes * 60 * FPS:
        problems.append(f"{report['video_frames']} video frames, want {minutes * 60 * FPS}")
    if abs(report["video_s"] - want) > 0.05:
        problems.append(f"video lasts {report['video_s']:.3f} s, want {want:.0f}")
    if abs(report["audio_s"] - report["video_s"]) > 0.05:
        problems.append(f"audio lasts {report['audio_s']:.3f} s vs video {report['video_s']:.3f} s")
    if abs(report["audio_start_s"] - report["video_start_s"]) > 0.005:
        problems.append(f"audio starts at {report['audio_start_s']:.4f} s, video at {report['video_start_s']:.4f} s")
    if packets:
        spacing = _packet_spacing(path)
        report["dts_steps"] = {k: {str(d): n for d, n in c.items()} for k, c in spacing.items()}
        for kind, c in spacing.items():
            if len(c) != 1:
                problems.append(f"{kind} packets are not evenly spaced (dts steps {c})")
        report["decoded_audio_s"] = round(_decoded_audio_s(path), 4)
        if abs(report["decoded_audio_s"] - want) > 0.05:
            problems.append(f"the audio decodes to {report['decoded_audio_s']:.3f} s, want {want:.0f}")
    if problems:
        raise RuntimeError(f"{path}: " + "; ".join(problems))
    return report


def length_source(minutes: int) -> tuple[Path, dict[str, Any]]:
    """``len_{minutes}min.mp4``: the 60 s piece's video ``minutes`` times (stream copy) + fresh AAC audio."""
    out = BENCH_DIR / f"len_{minutes}min.mp4"
    if out.exists():
        return out, verify_source(out, minutes, packets=False)
    piece = w5_source(PIECE_S)
    piece_video = BENCH_DIR / f"len_piece_{PIECE_S}s_video.mp4"
    if not piece_video.exists():
        tmp = piece_video.with_suffix(".tmp.mp4")
        subprocess.run([*FFMPEG, "-i", str(piece), "-map", "0:v:0", "-c", "copy", str(tmp)], check=True)
        tmp.rename(piece_video)
    listing = BENCH_DIR / f"len_{minutes}min.txt"
    listing.write_text(f"file '{piece_video}'\n" * minutes)
    seconds = minutes * 60
    tmp = out.with_suffix(".tmp.mp4")
    print(f"building {out} ({minutes} x {PIECE_S} s video, stream copy; audio encoded once) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [*FFMPEG, "-f", "concat", "-safe", "0", "-i", str(listing),
         "-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:sample_rate=48000:duration={seconds}",
         "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
         "-shortest", "-movflags", "+faststart", str(tmp)],
        check=True,
    )  # fmt: skip
    report = verify_source(tmp, minutes, packets=True)
    tmp.rename(out)
    listing.unlink()
    print(f"  done in {time.perf_counter() - t0:.1f} s, verified: {report}", flush=True)
    return out, report


# --------------------------------------------------------------------------- process tree sampling


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            kids += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            pass
    return kids


def _status(pid: int) -> dict[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def _kib(value: str | None) -> int:
    return int(value.split()[0]) if value else 0  # "123456 kB"


def process_kind(pid: int, root: int, name: str, cmdline: list[str]) -> str:
    if pid == root:
        return "python"
    if name == "ffmpeg":
        text = " ".join(cmdline)
        if "[small]" in text:
            return "ffmpeg decode"
        if "libx264" in text:
            return "ffmpeg render"
        if "loudnorm" in text:
            return "ffmpeg loudness"
        if "ebur128" in text:
            return "ffmpeg verify"
        if "f32le" in text:
            return "ffmpeg audio"
        return "ffmpeg other"
    if name.startswith("python"):
        return "python child"  # e.g. a process-pool worker or the TransNetV2 worker
    return name


class TreeSampler(threading.Thread):
    """Peak RSS of every process under ``root``, sampled every ``every`` seconds.

    Per process the peak is the largest of its sampled ``VmRSS`` and its last
    ``VmHWM`` (the kernel's high-water mark), so a spike between two samples
    still counts unless it comes in a process's last ``every`` seconds;
    processes that live less than one interval may be missed.  A child seen
    between fork and exec still shows the parent's name and command line (and
    its shared pages as RSS): when its name changes at exec, its record starts
    over, and a fork never seen after exec that lived under a second is
    dropped.  The root's RSS is also kept over time (``timeline``).
    """

    def __init__(self, root: int, every: float = SAMPLE_EVERY_S):
        super().__init__(name="rss-sampler", daemon=True)
        self.root, self.every = root, every
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.procs: dict[int, dict[str, Any]] = {}
        self.timeline: list[tuple[float, float]] = []  # (seconds from start, root RSS MiB)
        self.samples = 0
        self._root_argv: list[str] | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            self.sample()
            self.stop.wait(max(0.0, self.every - (time.monotonic() - t0)))

    def _new_record(self, pid: int, name: str) -> dict[str, Any]:
        try:
            argv = [c.decode(errors="replace") for c in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if c]
        except OSError:
            argv = []
        if pid == self.root:
            self._root_argv = argv
        kind = process_kind(pid, self.root, name, argv)
        if pid != self.root and argv == self._root_argv:
            kind = "python fork"  # not exec'd (yet)
        first_s = round(time.monotonic() - self.t0, 2)
        return {"pid": pid, "name": name, "kind": kind, "argv": " ".join(argv)[:300], "peak_kib": 0, "first_s": first_s}

    def sample(self) -> None:
        todo, seen = [self.root], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            st = _status(pid)
            if st is None:
                continue
            name = st.get("Name", "?")
            rec = self.procs.get(pid)
            if rec is None or rec["name"] != name:  # first seen, or exec'd since
                rec = self.procs[pid] = self._new_record(pid, name)
            rss = _kib(st.get("VmRSS"))
            rec["peak_kib"] = max(rec["peak_kib"], rss, _kib(st.get("VmHWM")))
            rec["last_s"] = round(time.monotonic() - self.t0, 2)
            if pid == self.root:
                self.timeline.append((round(rec["last_s"], 1), round(rss / 1024, 1)))
            todo += _children(pid)
        self.samples += 1

    def records(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.procs.values()
            if not (r["kind"] == "python fork" and r.get("last_s", 0) - r["first_s"] < 1.0)
        ]

    def peaks(self) -> dict[str, dict[str, float]]:
        """Per kind: peak RSS (MiB) over its processes and how many were seen."""
        out: dict[str, dict[str, float]] = {}
        for rec in self.records():
            k = out.setdefault(rec["kind"], {"peak_mib": 0.0, "processes": 0})
            k["peak_mib"] = max(k["peak_mib"], rec["peak_kib"] / 1024)
            k["processes"] += 1
        return out

    def root_peak_at(self) -> float | None:
        """Seconds from the start when the root's sampled RSS was highest."""
        return max(self.timeline, key=lambda p: p[1])[0] if self.timeline else None


# --------------------------------------------------------------------------- one run


def run_size(minutes: int, src: Path, track: Path, wd: Path) -> dict[str, Any]:
    var = wd / "var_length"
    shutil.rmtree(var, ignore_errors=True)  # fresh database and storage: no reused analysis
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(FALA_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="fala_clip.settings.base")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    out = wd / f"length_out_{minutes}min"
    shutil.rmtree(out, ignore_errors=True)
    print(f"\n{minutes} min: manage.py clip {src.name} ...", flush=True)
    out.mkdir(parents=True)
    log = out / "clip.log"
    with log.open("wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "clip", str(src), "--music", str(track), "--out", str(out)],
            cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    if rc != 0:
        tail = log.read_text(errors="replace").replace("\r", "\n")[-3000:]
        raise RuntimeError(f"manage.py clip exited {rc} on {src} after {wall:.0f} s; {log} ends:\n{tail}")
    summary = json.loads((out / "summary.json").read_text())
    stages = dict(summary["stage_timings"])
    music = summary.get("music_stage_timings") or {}
    peaks = sampler.peaks()
    row = {
        "minutes": minutes,
        "source": str(src),
        "wall_s": round(wall, 2),
        "s_per_source_min": round(wall / minutes, 2),
        "peak_rss_mib": {k: round(v["peak_mib"], 1) for k, v in sorted(peaks.items())},
        "processes": {k: int(v["processes"]) for k, v in sorted(peaks.items())},
        "samples": sampler.samples,
        "python_peak_at_s": sampler.root_peak_at(),
        # the pipeline process's RSS once a second, and every child process seen
        "python_rss_timeline": sampler.timeline[:: max(1, round(1 / SAMPLE_EVERY_S))],
        "process_records": [
            {**{k: v for k, v in r.items() if k != "peak_kib"}, "peak_mib": round(r["peak_kib"] / 1024, 1)}
            for r in sorted(sampler.records(), key=lambda r: r["first_s"])
        ],
        "stage_timings": stages,
        "music_stage_timings": music,
        "key_stages": {
            "video.decode": stages.get("video.decode"),
            "video.embeddings": stages.get("video.embeddings"),
            "music.total": music.get("total"),
            "renders": round(sum(v for k, v in stages.items() if k.startswith("render.")), 3),
        },
        "files": summary.get("files", []),
    }
    print(
        f"  {wall:.1f} s wall (python peak at {row['python_peak_at_s']} s), peak RSS "
        + ", ".join(f"{k} {v} MiB" for k, v in row["peak_rss_mib"].items())
    )
    return row


# --------------------------------------------------------------------------- report


def _fmt(v: Any, spec: str = "8.1f") -> str:
    return format(v, spec) if isinstance(v, int | float) else format("-", ">" + spec.split(".")[0])


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fixed = ["python", "ffmpeg decode", "ffmpeg render"]
    others = sorted({k for r in rows for k in r["peak_rss_mib"]} - set(fixed))
    kinds = fixed + others
    print("\nCost vs source length: 1080p30 H.264 8 Mb/s sources + the 3-min W5 track (manage.py clip)")
    widths = {k: max(len(k), 6) for k in kinds}
    head = f"{'min':>4s} {'wall s':>8s} {'s/min':>7s} {'video s/min':>11s} "
    head += " ".join(f"{k:>{widths[k]}s}" for k in kinds)
    head += f" {'decode':>8s} {'embed':>8s} {'music':>8s} {'renders':>8s}"
    print("s/min: wall time per source minute; video s/min: the video analysis (video.total) per source minute")
    print("peak RSS in MiB per process kind; then key stages in seconds")
    print(head)
    for r in rows:
        k = r["key_stages"]
        video = r["stage_timings"].get("video.total")
        line = f"{r['minutes']:4d} {r['wall_s']:8.1f} {r['s_per_source_min']:7.1f} "
        line += _fmt(video / r["minutes"] if video is not None else None, "11.1f") + " "
        line += " ".join(_fmt(r["peak_rss_mib"].get(kind), f"{widths[kind]}.0f") for kind in kinds)
        line += " " + " ".join(_fmt(k[s]) for s in ("video.decode", "video.embeddings", "music.total", "renders"))
        print(line)

    stages = list(dict.fromkeys(s for r in rows for s in r["stage_timings"]))
    print(f"\n{'stage (s)':24s} " + " ".join(f"{str(r['minutes']) + ' min':>9s}" for r in rows))
    for s in stages:
        print(f"{s:24s} " + " ".join(_fmt(r["stage_timings"].get(s), "9.2f") for r in rows))

    verdict: dict[str, Any] = {"grows": False, "reasons": []}
    if len(rows) >= 2:
        by = sorted(rows, key=lambda r: r["minutes"])
        small, large, prev = by[0], by[-1], by[-2]
        py_small, py_large = small["peak_rss_mib"].get("python", 0.0), large["peak_rss_mib"].get("python", 0.0)
        rss_ratio = py_large / py_small if py_small else float("nan")
        tpm_ratio = large["s_per_source_min"] / small["s_per_source_min"]
        tpm_last = large["s_per_source_min"] / prev["s_per_source_min"]
        per_min_mib = (py_large - py_small) / (large["minutes"] - small["minutes"])
        verdict.update(
            python_peak_rss_ratio=round(rss_ratio, 3),
            python_peak_rss_growth_mib_per_source_min=round(per_min_mib, 2),
            time_per_min_ratio=round(tpm_ratio, 3),
            time_per_min_ratio_two_largest=round(tpm_last, 3),
        )
        print(
            f"\npython peak RSS {large['minutes']} min / {small['minutes']} min: {py_large:.0f} / {py_small:.0f} MiB"
            f" = {rss_ratio:.2f}x ({per_min_mib:+.1f} MiB per source minute; limit {RSS_GROWTH_LIMIT:.2f}x)"
        )
        for kind in kinds[1:]:
            a, b = small["peak_rss_mib"].get(kind), large["peak_rss_mib"].get(kind)
            if a and b:
                print(f"{kind} peak RSS {large['minutes']} min / {small['minutes']} min: {b / a:.2f}x")
        print(
            f"wall time per source minute {large['minutes']} min / {small['minutes']} min: {tpm_ratio:.2f}x; "
            f"{large['minutes']} min / {prev['minutes']} min: {tpm_last:.2f}x (limit {TIME_GROWTH_LIMIT:.2f}x)"
        )
        va, vb = prev["stage_timings"].get("video.total"), large["stage_timings"].get("video.total")
        if va and vb:
            video_last = (vb / large["minutes"]) / (va / prev["minutes"])
            verdict["video_time_per_min_ratio_two_largest"] = round(video_last, 3)
            print(f"video analysis per source minute {large['minutes']} / {prev['minutes']} min: {video_last:.2f}x")
        if rss_ratio > RSS_GROWTH_LIMIT:
            verdict["reasons"].append(
                f"python peak RSS x{rss_ratio:.2f} from {small['minutes']} to {large['minutes']} min"
            )
        if tpm_last > TIME_GROWTH_LIMIT:
            verdict["reasons"].append(
                f"time per source minute x{tpm_last:.2f} from {prev['minutes']} to {large['minutes']} min"
            )
        verdict["grows"] = bool(verdict["reasons"])
        print("GROWS: " + "; ".join(verdict["reasons"]) if verdict["grows"] else "flat: OK")
    return verdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", default="1,5,20,60", help="source lengths in minutes, comma-separated")
    ap.add_argument("--workdir", default="/tmp/fala-bench")
    args = ap.parse_args()
    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    if not sizes or min(sizes) < 1:
        ap.error("--sizes: whole minutes >= 1")
    wd = Path(args.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    track = w5_track()
    sources = {m: length_source(m) for m in sizes}
    rows = [run_size(m, sources[m][0], track, wd) for m in sizes]
    verdict = report(rows)
    result = {
        "sizes": sizes,
        "sample_every_s": SAMPLE_EVERY_S,
        "sources": {str(m): {"path": str(p), **check} for m, (p, check) in sources.items()},
        "runs": rows,
        "verdict": verdict,
    }
    out = wd / "bench_length.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out}")
    return 1 if verdict["grows"] else 0


if __name__ == "__main__":
    sys.exit(main())
