"""Music analysis on real songs: the GTZAN dev set against its annotations (``make eval``).

Reads ``../shared/media/dev/gtzan`` (50 clips, 10 genres, annotated beats,
downbeats and tempo; README there) and prints, per genre and overall:

* beat F-measure of the project's tracker and of plain
  ``librosa.beat.beat_track`` (±70 ms, first 5 s discarded: mir_eval's
  convention), downbeat F, tempo Acc1 (±4 %) and Acc2 (±4 % with ×2, ×½,
  ×3, ×⅓), meter accuracy (3 vs 4 beats per bar, from the annotated bar
  positions), the tracker's mean confidence and seconds per clip;
* lyrics coverage on the vocal genres and FLEURS pt WER
  (:mod:`bench.bench_lyrics`), genre leave-one-out accuracy
  (:mod:`bench.bench_genre`), when those modules are present.

Skips with a clear message (exit 0) when the dev set is absent. ``--json F``
writes every per-clip figure; ``--only rhythm`` skips lyrics and genre.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
GTZAN = Path(os.environ.get("FALA_GTZAN_DIR", SHARED_MEDIA / "dev" / "gtzan"))


def clips(gtzan: Path = GTZAN) -> list[dict[str, Any]]:
    """Every annotated clip: ``{"name", "genre", "audio", "beats", "positions", "downbeats", "tempo", "meter"}``."""
    out = []
    for wav in sorted((gtzan / "audio").glob("*.wav")):
        genre, num = wav.stem.split(".")
        ann = gtzan / "beats" / f"gtzan_{genre}_{num}.beats"
        bpm = gtzan / "tempo" / f"gtzan_{genre}_{num}.bpm"
        if not ann.is_file():
            continue
        rows = np.loadtxt(ann, ndmin=2)
        beats, pos = rows[:, 0], rows[:, 1].astype(int)
        out.append(
            {
                "name": wav.stem,
                "genre": genre,
                "audio": wav,
                "beats": beats,
                "positions": pos,
                "downbeats": beats[pos == 1],
                "tempo": float(np.loadtxt(bpm)) if bpm.is_file() else float(60.0 / np.median(np.diff(beats))),
                "meter": int(pos.max()),
            }
        )
    return out


DOWNBEAT_C = 0.1  # the downbeat model's regularisation (fixed, not tuned per fold)


def f_measure(ref: np.ndarray, est: np.ndarray) -> float:
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(ref, dtype=float))
    est = mir_eval.beat.trim_beats(np.asarray(est, dtype=float))
    if ref.size == 0 and est.size == 0:
        return 1.0
    if ref.size == 0 or est.size == 0:
        return 0.0
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07))


def tempo_acc(ref: float, est: float) -> tuple[bool, bool]:
    """(Acc1, Acc2): within 4 % of the reference; Acc2 also at ×2, ×½, ×3, ×⅓."""
    if est <= 0:
        return False, False
    acc1 = abs(est - ref) <= 0.04 * ref
    acc2 = any(abs(est * k - ref) <= 0.04 * ref for k in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))
    return acc1, acc2


def rhythm_row(clip: dict[str, Any]) -> dict[str, Any]:
    import librosa

    from music.analysis import rhythm

    y, _ = librosa.load(clip["audio"], sr=22050, mono=True)
    sr = 22050
    t0 = time.perf_counter()
    rh = rhythm.analyze_rhythm(y, sr)
    secs = time.perf_counter() - t0
    tempo_l, beats_l = librosa.beat.beat_track(y=y, sr=sr, units="time")
    tempo_l = float(np.atleast_1d(tempo_l)[0])
    a1, a2 = tempo_acc(clip["tempo"], float(rh["tempo"]))
    la1, la2 = tempo_acc(clip["tempo"], tempo_l)
    return {
        "name": clip["name"],
        "genre": clip["genre"],
        "beat_f": f_measure(clip["beats"], np.asarray(rh["beats"])),
        "librosa_f": f_measure(clip["beats"], beats_l),
        "downbeat_f": f_measure(clip["downbeats"], np.asarray(rh["downbeats"])),
        "acc1": a1,
        "acc2": a2,
        "librosa_acc1": la1,
        "librosa_acc2": la2,
        "tempo": float(rh["tempo"]),
        "ref_tempo": clip["tempo"],
        "meter": int(rh["meter"]),
        "ref_meter": clip["meter"],
        "meter_ok": int(rh["meter"]) == clip["meter"],
        "confidence": float(rh.get("confidence", float("nan"))),
        "seconds": secs,
        "duration": y.size / sr,
    }


def fit_downbeats(cl: list[dict[str, Any]], c_reg: float = DOWNBEAT_C, write: Path | None = None) -> dict[str, Any]:
    """Fit the downbeat model (``music/analysis/downbeat_model.json``) on the annotated beats.

    Prints leave-one-clip-out figures first: for each clip a model fitted on
    the other clips labels its annotated beats (meter and phase decided as in
    the analyser), so the downbeat F and meter accuracy shown are
    out-of-sample. Then fits on every clip and writes the model to ``write``.
    """
    import librosa
    from sklearn.linear_model import LogisticRegression

    from music.analysis import rhythm

    feats, labels, tracked = [], [], []
    for c in cl:
        y, _ = librosa.load(c["audio"], sr=22050, mono=True)
        sp = rhythm.Spectra(y, 22050)
        frames = np.clip(np.round(c["beats"] * sp.fps).astype(int), 0, sp.n_frames - 1)
        feats.append(rhythm.downbeat_features(sp, frames))
        labels.append(c["positions"] == 1)
        beats = np.asarray(rhythm.analyze_rhythm(y, 22050)["beats"])  # our tracker's beats
        tframes = np.clip(np.round((beats - rhythm.ONSET_LATENCY_S) * sp.fps).astype(int), 0, sp.n_frames - 1)
        tracked.append((beats, rhythm.downbeat_features(sp, tframes)))

    def fit(idx: list[int]) -> tuple[np.ndarray, float]:
        X = np.concatenate([feats[i] for i in idx])
        Y = np.concatenate([labels[i] for i in idx])
        m = LogisticRegression(C=c_reg, max_iter=5000, class_weight="balanced").fit(X, Y)
        return m.coef_[0].astype(np.float64), float(m.intercept_[0])

    fs, meter_ok, fs_tracked = [], [], []
    for i, c in enumerate(cl):
        model = fit([j for j in range(len(cl)) if j != i])
        meter, pos = rhythm.decide_meter(rhythm.downbeat_logodds(feats[i], model))
        fs.append(f_measure(c["downbeats"], c["beats"][np.asarray(pos) == 1]))
        meter_ok.append(meter == c["meter"])
        beats, tf = tracked[i]
        if beats.size:
            _, tpos = rhythm.decide_meter(rhythm.downbeat_logodds(tf, model))
            fs_tracked.append(f_measure(c["downbeats"], beats[np.asarray(tpos) == 1]))
        else:
            fs_tracked.append(0.0)
    loo = {
        "downbeat_f": round(float(np.mean(fs)), 3),
        "meter_accuracy": round(float(np.mean(meter_ok)), 3),
        "downbeat_f_tracked_beats": round(float(np.mean(fs_tracked)), 3),
    }
    print(
        f"leave-one-clip-out: downbeat F {loo['downbeat_f']:.3f} on the annotated beats (meter accuracy "
        f"{loo['meter_accuracy']:.3f}), {loo['downbeat_f_tracked_beats']:.3f} on our tracked beats"
    )
    w, b = fit(list(range(len(cl))))
    data = {
        "about": "fala-clip downbeat model: logistic regression over music.analysis.rhythm.downbeat_features, "
        "fitted by bench/bench_gtzan.py --fit-downbeats on the GTZAN dev set's annotated beats",
        "features": list(rhythm.DOWNBEAT_FEATURES),
        "context_beats": rhythm.CONTEXT_BEATS,
        "C": c_reg,
        "clips": len(cl),
        "leave_one_out": loo,
        "intercept": round(b, 6),
        "weights": [round(float(v), 6) for v in w],
    }
    if write is not None:
        write.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {write}")
    return data


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([float(r[key]) for r in rows])) if rows else float("nan")


def rhythm_table(rows: list[dict[str, Any]]) -> str:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[r["genre"]].append(r)
    cols = (
        "beat_f",
        "librosa_f",
        "downbeat_f",
        "acc1",
        "acc2",
        "librosa_acc1",
        "librosa_acc2",
        "meter_ok",
        "confidence",
    )
    head = f"{'genre':<10} {'n':>3} " + " ".join(f"{c:>12}" for c in cols)
    lines = [head, "-" * len(head)]
    for g in sorted(by):
        lines.append(f"{g:<10} {len(by[g]):>3} " + " ".join(f"{_mean(by[g], c):>12.3f}" for c in cols))
    lines.append("-" * len(head))
    lines.append(f"{'overall':<10} {len(rows):>3} " + " ".join(f"{_mean(rows, c):>12.3f}" for c in cols))
    worse = [g for g in sorted(by) if _mean(by[g], "beat_f") < _mean(by[g], "librosa_f") - 1e-9]
    lines.append(f"genres where the project's beat F trails plain librosa: {', '.join(worse) or 'none'}")
    secs = sum(r["seconds"] for r in rows)
    dur = sum(r["duration"] for r in rows)
    lines.append(f"rhythm analysis: {secs:.1f} s for {dur:.0f} s of audio ({secs / dur:.3f} x real time)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--only", choices=["rhythm", "lyrics", "genre"], help="run one part only")
    ap.add_argument("--genre", action="append", help="restrict rhythm to these genres (repeatable)")
    ap.add_argument("--json", type=Path, help="write per-clip figures here")
    ap.add_argument("--fit-downbeats", action="store_true", help="refit music/analysis/downbeat_model.json and stop")
    args = ap.parse_args()
    if not (GTZAN / "audio").is_dir():
        print(
            f"SKIP: the GTZAN dev set is not at {GTZAN} (set FALA_GTZAN_DIR or put ../shared/media/dev/gtzan in place)"
        )
        return 0
    report: dict[str, Any] = {}
    if args.fit_downbeats:
        from music.analysis.rhythm import DOWNBEAT_MODEL_PATH

        fit_downbeats(clips(), write=DOWNBEAT_MODEL_PATH)
        return 0
    if args.only in (None, "rhythm"):
        cl = [c for c in clips() if not args.genre or c["genre"] in args.genre]
        rows = [rhythm_row(c) for c in cl]
        print("== rhythm: project vs plain librosa (beat/downbeat F ±70 ms after 5 s; tempo Acc1/Acc2 ±4 %) ==")
        print(rhythm_table(rows), flush=True)
        report["rhythm"] = rows
    if args.only in (None, "lyrics"):
        try:
            from bench.bench_lyrics import lyrics_report
        except ImportError as exc:
            print(f"lyrics: not measured ({exc})")
        else:
            report["lyrics"] = lyrics_report(GTZAN, SHARED_MEDIA)
    if args.only in (None, "genre"):
        try:
            from bench.bench_genre import genre_report
        except ImportError as exc:
            print(f"genre: not measured ({exc})")
        else:
            report["genre"] = genre_report(GTZAN)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
