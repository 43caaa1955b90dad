"""The offline feedback interpreter: free text (pt-BR first, English) → engine adjustments.

``interpret("cortes mais rápidos e menos tremido")`` returns an :class:`Interpretation` with
``cuts_faster`` (cuts per bar ×2, min shot ×0.7, shot_change ×1.3) and ``less_motion``
(motion ×0.6), each with a confidence and the words that triggered it.

Pipeline, and why in this order:

1. **Language** by a stop-word vote (accents count for Portuguese); "und" when unsure.  It
   only matters for the English "no" (a negation) vs the Portuguese "no" ("no refrão").
2. **Clauses**: split on punctuation and on conjunctions ("e", "and", "mas", "but", …), because
   one message usually asks for several things and each clause has its own direction.  A clause
   joined by "e"/"and" that has no direction word of its own inherits the previous clause's
   ("menos fala e cantoria" = less of both).
3. **Rules** (``rules.py``) first: exact, direction-aware, attributable.  Confidence is the rule's
   specificity (0.9 for a two-keyword phrase, 0.75-0.85 for one keyword) times a penalty per
   typo-matched word.  A bare "no refrão" beside another request ("cortes rápidos no refrão") is
   a *location*, not a request to start there: it is kept below the floor (0.45) so it shows up
   in the result without being applied.
4. **Embeddings** (``embed.py``) for the clauses the rules did not understand at all.
5. **Merge**: the same intent asked twice keeps one adjustment per key (the stronger step, the
   higher confidence); a ``set`` on a key keeps the most confident value.  Different intents on
   the same key stay separate, so each stays attributable; the learning service multiplies them.

Deterministic; no Django; ~1 ms per text for rules, a few ms more per clause that needs
embeddings (the model loads once per process).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from .contracts import DEFAULT_CONFIDENCE_FLOOR, MAX_STEP, Adjustment, Interpretation, validate_adjustment
from .intents import INTENTS, intent_adjustment
from .rules import DIRECTION_MODIFIERS, RuleMatch, explicit_length, match_rules, normalize, read_slots, tokenize, words

INTERPRETER = "rules+embeddings"
LOCATIVE_CONFIDENCE = 0.45

_PT_WORDS = words(
    "o os as de do da dos das que nao um uma na nos nas mais menos com sem pra para por muito muita "
    "quero queria ta esta esse essa isso mas eu voce vc ficou bem tem deixa cortes mesmo tambem coloca "
    "poderia pode gostei gosto video musica camera refrao rapido lento tudo nada favor"
)
_EN_WORDS = words(
    "the an of to is it and but more less i you want please with without on in too very dont make this "
    "that cuts can could should would be get some like camera song chorus fast slow less much lot its "
    "keep show start there are was talking shaky faster slower shorter longer shots frame face faces "
    "singing lyrics cut cutting crop"
)
_PT_CHARS = frozenset("ãõçáéíóúâêô")

_SPLIT = re.compile(
    r"[,;:\n!?]+|[.](?=\s|$)|\s+(?=nem\s)|\s+[-–—]\s+|\s+(e|and|mas|but|porem|porém|though|also|tambem|também|ou|or"
    r"|plus|then|depois|alem disso|além disso|and also)\s+",
    re.IGNORECASE,
)
_JOINING = frozenset({"e", "and", "ou", "or", "plus", "also", "tambem", "and also"})


def detect_language(text: str) -> str:
    """'pt', 'en' or 'und' by a stop-word vote (Portuguese accents count double)."""
    tokens = [t.norm for t in tokenize(text)]
    pt = sum(t in _PT_WORDS for t in tokens) + 2 * sum(c in _PT_CHARS for c in text.lower())
    en = sum(t in _EN_WORDS for t in tokens)
    if pt == en:
        return "und"
    return "pt" if pt > en else "en"


def split_clauses(text: str) -> list[tuple[str, bool]]:
    """``(clause, joined_by_and)`` pairs; empty pieces dropped."""
    out: list[tuple[str, bool]] = []
    pos = 0
    joined = False
    for m in _SPLIT.finditer(text):
        piece = text[pos : m.start()].strip()
        if piece:
            out.append((piece, joined))
        joined = bool(m.group(1)) and normalize(m.group(1)) in _JOINING
        pos = m.end()
    piece = text[pos:].strip()
    if piece:
        out.append((piece, joined))
    return out


def _phrase(clause: str, tokens: list, positions: Iterable[int]) -> str:
    pos = sorted(set(positions))
    if not pos:
        return clause
    return clause[tokens[pos[0]].start : tokens[pos[-1]].end]


def _rule_adjustments(
    clause: str, tokens: list, matches: list[RuleMatch], unmatched: list[str], notes: list[str]
) -> list[Adjustment]:
    out: list[Adjustment] = []
    others = len(matches) > 1
    for m in matches:
        intent_id = m.rule.intent
        if m.flipped:
            opposite = INTENTS[intent_id].opposite
            phrase = _phrase(clause, tokens, [*m.positions, *m.modifier_positions])
            if opposite is None:
                unmatched.append(phrase)
                notes.append(f"negated {intent_id!r} has no opposite: not applied ({phrase!r})")
                continue
            intent_id = opposite
        confidence = m.confidence
        if m.rule.locative and others:
            confidence = min(confidence, LOCATIVE_CONFIDENCE)
        out.extend(
            intent_adjustment(
                intent_id,
                exponent=m.exponent,
                confidence=confidence,
                phrase=_phrase(clause, tokens, [*m.positions, *m.modifier_positions]),
                source="rules",
                max_step=MAX_STEP,
            )
        )
    return out


def _embedding_adjustments(clause: str, language: str, negative: bool) -> tuple[list[Adjustment], float]:
    from . import embed

    best = embed.match(clause)
    if best.intent is None:
        return [], best.confidence
    intent_id = best.intent
    if negative != best.prototype_negative:
        opposite = INTENTS[intent_id].opposite
        if opposite is None:
            return [], 0.0
        intent_id = opposite
    adjs = intent_adjustment(
        intent_id, confidence=best.confidence, phrase=clause, source="embeddings", max_step=MAX_STEP
    )
    return adjs, best.confidence


def merge(adjustments: Iterable[Adjustment]) -> tuple[Adjustment, ...]:
    """One adjustment per (intent, kind, key, op); one ``set`` per (kind, key).  Stable order."""
    by_key: dict[tuple[str, ...], Adjustment] = {}
    for a in adjustments:
        k = (a.kind, a.key, a.op) if a.op == "set" else (a.intent, a.kind, a.key, a.op)
        prev = by_key.get(k)
        if prev is None:
            by_key[k] = a
            continue
        if a.op == "set":
            if a.confidence > prev.confidence:
                by_key[k] = a
            continue
        # The same request twice: keep the stronger step, not their product.
        stronger = a if abs(math.log(float(a.value))) > abs(math.log(float(prev.value))) else prev
        phrase = prev.phrase if a.phrase in prev.phrase else f"{prev.phrase}; {a.phrase}"
        by_key[k] = Adjustment(
            intent=prev.intent,
            kind=prev.kind,
            key=prev.key,
            op=prev.op,
            value=stronger.value,
            confidence=max(prev.confidence, a.confidence),
            phrase=phrase,
            source=prev.source if prev.source == a.source else f"{prev.source}+{a.source}",
        )
    return tuple(by_key.values())


def interpret(text: str, *, language: str | None = None, floor: float = DEFAULT_CONFIDENCE_FLOOR) -> Interpretation:
    """Interpret one feedback text (see the module doc).  Never raises on odd input."""
    text = text or ""
    lang = language or detect_language(text)
    adjustments: list[Adjustment] = []
    unmatched: list[str] = []
    notes: list[str] = []
    previous: RuleMatch | None = None
    for clause, joined in split_clauses(text):
        tokens = tokenize(clause)
        if not tokens:
            continue
        slots = read_slots(tokens, language=lang)
        found: list[Adjustment] = []
        length = explicit_length(normalize(clause))
        if length is not None:
            seconds, said = length
            found += intent_adjustment(
                "set_length",
                confidence=0.9,
                phrase=said,
                source="rules",
                set_value=round(seconds, 2),
                max_step=MAX_STEP,
            )
        matches = match_rules(slots)
        if (
            matches
            and joined
            and previous is not None
            and not any(m.modifiers & DIRECTION_MODIFIERS for m in matches)
            and previous.modifiers & DIRECTION_MODIFIERS
        ):
            for m in matches:
                m.modifiers |= previous.modifiers
        found += _rule_adjustments(clause, tokens, matches, unmatched, notes)
        if matches:
            previous = matches[-1]
        elif length is None:
            negative = any(s.modifiers & {"NEG", "LESS", "COMPLAINT"} for s in slots)
            emb, conf = _embedding_adjustments(clause, lang, negative)
            found += emb
            if not emb or conf < floor:
                unmatched.append(clause)
            previous = None
        adjustments += found
    merged: list[Adjustment] = []
    for a in merge(adjustments):
        try:
            merged.append(validate_adjustment(a))
        except ValueError as exc:  # a catalogue bug must not lose the whole feedback
            notes.append(f"dropped {a.intent} {a.key}: {exc}")
    if text.strip() and not merged and not unmatched:
        unmatched.append(text.strip())
    return Interpretation(
        text=text,
        language=lang,
        adjustments=tuple(merged),
        interpreter=INTERPRETER,
        unmatched=tuple(dict.fromkeys(unmatched)),
        notes=tuple(notes),
        floor=floor,
    )


__all__ = ["INTENTS", "INTERPRETER", "detect_language", "interpret", "merge", "split_clauses"]
