"""Genre classifier on real songs: leave-one-out on the GTZAN dev set.

The 50 dev clips (``../shared/media/dev/gtzan/audio``, 10 genres x 5, the
file-name prefix is the label) play the catalogue: each clip is classified
by a :class:`music.analysis.genre.GenreClassifier` trained and calibrated on
the other 49 (:func:`music.analysis.genre.leave_one_out`). The clips carry
no artist labels, so a leave-one-*artist*-out split (the stricter test,
since GTZAN repeats artists within a genre) is not possible here; expect
held-out material to score somewhat lower.

Prints per-genre top-1, overall top-1 / top-3, the confident-right and
confident-wrong counts at the confidence floor (answers under the floor are
``"unknown"``), the expected calibration error, and the descriptor's cost on
a 3-minute track, next to the figures recorded for descriptor v1 before this
change. ``genre_report(gtzan_dir)`` is what ``bench/bench_gtzan.py`` imports.

    python bench/bench_genre.py [--own] [--json out.json]

By default tempo, beats and meter come from
:func:`music.analysis.rhythm.analyze_rhythm` and are passed to the
descriptor, as the pipeline does (~1 s per clip more); ``--own`` lets the
descriptor estimate them itself (its fallback when they are not passed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
GTZAN = Path(os.environ.get("FALA_GTZAN_DIR", SHARED_MEDIA / "dev" / "gtzan"))
SR = 22050

# Recorded with descriptor v1 (212-d) and the v1 classifier (standardised logreg C=0.1, Platt only with
# >= 5 tracks per genre, so uncalibrated in leave-one-out), commit 46bb27e, same 50 clips, floor 0.4.
BEFORE_V1: dict[str, Any] = {
    "label": "v1 descriptor + v1 classifier (recorded)",
    "top1": 0.56,
    "top3": 0.94,
    "per_genre": {
        "blues": 0.4,
        "classical": 0.8,
        "country": 0.4,
        "disco": 0.4,
        "hiphop": 0.4,
        "jazz": 0.8,
        "metal": 0.6,
        "pop": 0.4,
        "reggae": 0.6,
        "rock": 0.8,
    },
    "floor": 0.4,
    "confident_right": 20,
    "confident_wrong": 14,
    "seconds_3min": 3.1,
}


def audio_dir(gtzan_dir: Path) -> Path:
    """``gtzan_dir/audio`` when present (the dev-set root), else ``gtzan_dir`` itself."""
    return gtzan_dir / "audio" if (gtzan_dir / "audio").is_dir() else gtzan_dir


def load_clip(path: Path) -> np.ndarray:
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != SR:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    return np.ascontiguousarray(y, dtype=np.float32)


def descriptors(wavs: list[Path], *, rhythm: bool = False) -> tuple[np.ndarray, float]:
    """(vectors, seconds spent in the descriptor) for the clips, in order."""
    from music.analysis.embeddings import audio_embedding

    vecs, spent = [], 0.0
    for wav in wavs:
        y = load_clip(wav)
        kw: dict[str, Any] = {}
        if rhythm:
            from music.analysis.rhythm import analyze_rhythm

            rh = analyze_rhythm(y, SR)
            kw = {"tempo": rh["tempo"] or None, "beats": rh["beats"], "meter": rh["meter"]}
        t0 = time.perf_counter()
        vecs.append(audio_embedding(y, SR, **kw)["vector"])
        spent += time.perf_counter() - t0
    return np.asarray(vecs, dtype=np.float64), spent


def three_minute_seconds(wavs: list[Path]) -> float:
    """Descriptor time for a 3-minute track (six clips of different genres end to end), best of 2."""
    from music.analysis.embeddings import audio_embedding

    y = np.concatenate([load_clip(w) for w in wavs[:: max(1, len(wavs) // 6)][:6]])[: 180 * SR]
    audio_embedding(y[: 5 * SR], SR)  # warm-up (imports, FFT plans)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        audio_embedding(y, SR)
        best = min(best, time.perf_counter() - t0)
    return best


def table(rows: list[dict[str, Any]]) -> str:
    genres = sorted({g for r in rows for g in r["per_genre"]})
    width = max(len(r["label"]) for r in rows)
    head = (
        f"{'':<{width}} "
        + " ".join(f"{g[:9]:>9}" for g in genres)
        + f" {'top1':>6} {'top3':>6} {'right':>6} {'wrong':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['label']:<{width}} "
            + " ".join(f"{r['per_genre'].get(g, float('nan')):>9.2f}" for g in genres)
            + f" {r['top1']:>6.2f} {r['top3']:>6.2f} {r['confident_right']:>6d} {r['confident_wrong']:>6d}"
        )
    return "\n".join(lines)


def genre_report(gtzan_dir: Path, *, rhythm: bool = True, timing: bool = True) -> dict[str, Any]:
    """Leave-one-clip-out genre figures on the GTZAN dev set (prints a table).

    Returns ``{"top1", "top3", "per_genre", "confident_right", "confident_wrong",
    "floor", "unknown", "ece", "mean_score", "n", "method", "seconds_per_clip",
    "seconds_3min" (own estimates), "before", "rhythm_source"}``, or
    ``{"skipped": reason}`` when the clips are absent.
    """
    from music.analysis.embeddings import AUDIO_DIM, audio_model_id
    from music.analysis.genre import CONFIDENCE_FLOOR, GenreClassifier, leave_one_out

    wavs = sorted(audio_dir(Path(gtzan_dir)).glob("*.wav"))
    if not wavs:
        reason = f"no GTZAN clips under {gtzan_dir} (set FALA_GTZAN_DIR or put ../shared/media/dev/gtzan in place)"
        print(f"genre: SKIP: {reason}")
        return {"skipped": reason}
    labels = [w.name.split(".")[0] for w in wavs]
    X, spent = descriptors(wavs, rhythm=rhythm)
    t0 = time.perf_counter()
    rep = leave_one_out(X, labels, confidence_floor=CONFIDENCE_FLOOR)
    loo_s = time.perf_counter() - t0
    rep.pop("predictions")
    rep["method"] = GenreClassifier().fit(X, labels).method
    rep["seconds_per_clip"] = round(spent / len(wavs), 3)
    rep["seconds_3min"] = round(three_minute_seconds(wavs), 3) if timing else None
    rep["before"] = BEFORE_V1
    rep["rhythm_source"] = "analyze_rhythm" if rhythm else "descriptor"
    rhythm_src = "tempo/beats/meter from analyze_rhythm" if rhythm else "descriptor's own tempo/beats/meter"
    after = {**rep, "label": f"{audio_model_id()} ({AUDIO_DIM}-d) + calibrated logreg"}
    print(f"== genre: leave-one-clip-out on {len(wavs)} GTZAN dev clips (no artist labels: not artist-out) ==")
    print(table([BEFORE_V1, after]))
    print(
        f"confidence floor {rep['floor']}: right {rep['confident_right']}, wrong {rep['confident_wrong']}, "
        f"unknown {rep['unknown']}; ECE {rep['ece']:.3f} (10 bins), mean top probability {rep['mean_score']:.3f} "
        f"vs top-1 {rep['top1']:.3f}"
    )
    print(f"classifier on all {len(wavs)} clips: {rep['method']}; leave-one-out took {loo_s:.1f} s")
    three = f"{rep['seconds_3min']:.2f} s" if rep["seconds_3min"] is not None else "not measured"
    print(
        f"descriptor ({rhythm_src}): {rep['seconds_per_clip']:.3f} s per 30-s clip; "
        f"3-minute track: {three} (v1: {BEFORE_V1['seconds_3min']:.1f} s)",
        flush=True,
    )
    return rep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--own", action="store_true", help="let the descriptor estimate tempo/beats/meter itself")
    ap.add_argument("--json", type=Path, help="write the report here")
    args = ap.parse_args()
    rep = genre_report(GTZAN, rhythm=not args.own)
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
