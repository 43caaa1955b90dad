"""The optional LLM interpreter, through the real ``openai`` client over real HTTP.

The provider is ``tests/learning/llm_server.py`` on 127.0.0.1 (fixture ``llm_server``), so the
client's own error mapping (status → exception, read timeout, unparsable body) is what is
tested.  Each failure kind must fall back to the local interpreter — the result is then exactly
what ``learning.interpret.interpreter.interpret`` returns, plus the fallback note first — and
must leave exactly one ``LlmUsage`` row with the right status.
"""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from learning.llm import adjustment_json_schema, build_messages, estimate_input_tokens, llm_interpret, system_prompt
from learning.models import ImmutableVersionError, LlmUsage
from learning.usage import Prices, compute_cost, prices_for, record_llm_usage, usage_totals
from tests.learning.llm_server import DEFAULT_USAGE, empty_choices, http_error, malformed, ok, slow

pytestmark = pytest.mark.django_db

PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached": 0.075}, "other-model": {"input": 1, "output": 2}}
TEXT = "cortes mais rápidos e começa no refrão, mas o vídeo ficou lindo"

GOOD_REPLY = {
    "language": "pt",
    "adjustments": [
        {
            "intent": "cuts_faster",
            "kind": "param",
            "key": "cuts_per_bar",
            "op": "scale",
            "value": 2.0,
            "confidence": 0.9,
            "phrase": "cortes mais rápidos",
        },
        {
            "intent": "start_on_chorus",
            "kind": "param",
            "key": "hook.music_start",
            "op": "set",
            "value": "chorus",
            "confidence": 0.85,
            "phrase": "começa no refrão",
        },
        {
            "intent": "cuts_faster",
            "kind": "weight",
            "key": "shot_change",
            "op": "scale",
            "value": 1.3,
            "confidence": 0.4,
            "phrase": "cortes mais rápidos",
        },
    ],
    "unmatched": ["mas o vídeo ficou lindo"],
}


def _adj(**over):
    base = dict(GOOD_REPLY["adjustments"][0])
    base.update(over)
    return base


@pytest.fixture(autouse=True)
def _prices(settings):
    settings.LLM_PRICES = PRICES
    settings.LEARNING_CONFIDENCE_FLOOR = 0.5


@pytest.fixture
def local_interpret():
    """The offline interpreter the LLM path falls back to (skips until that module exists)."""
    mod = pytest.importorskip("learning.interpret.interpreter")
    return mod.interpret


@pytest.fixture
def track(user):
    from music.models import MusicAsset

    return MusicAsset.objects.create(
        owner=user, artist=user.artist, title="t", sha256="0" * 64, file="m/0", size_bytes=1,
        format="wav", duration=10.0,
    )  # fmt: skip


def _header(request: dict, name: str) -> str:
    return next((v for k, v in request["headers"].items() if k.lower() == name.lower()), "")


def _assert_fell_back(result, local_interpret, *, reason_contains: str):
    note = result.notes[0]
    assert note.startswith("fell back to the local interpreter: "), result.notes
    assert reason_contains.lower() in note.lower(), note
    expected = local_interpret(TEXT, language=None, floor=0.5)
    assert dataclasses.replace(result, notes=result.notes[1:]) == expected


# --- success -----------------------------------------------------------------------------------


def test_success_returns_llm_adjustments_and_records_provider_usage(llm_server, user, track):
    llm_server.push(ok(GOOD_REPLY, request_id="chatcmpl-test-1"))

    result = llm_interpret(TEXT, user=user, music=track)

    assert result.interpreter == "llm:gpt-4o-mini"
    assert result.language == "pt"
    assert [(a.intent, a.key, a.op, a.value, a.source) for a in result.adjustments] == [
        ("cuts_faster", "cuts_per_bar", "scale", 2.0, "llm"),
        ("start_on_chorus", "hook.music_start", "set", "chorus", "llm"),
        ("cuts_faster", "shot_change", "scale", 1.3, "llm"),
    ]
    assert [a.key for a in result.applicable] == ["cuts_per_bar", "hook.music_start"]  # 0.4 < floor
    assert result.unmatched == ("mas o vídeo ficou lindo",)
    assert result.notes == ()

    # What went over the wire: the model, the strict schema, the engine prompt and the text.
    [request] = llm_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert _header(request, "Authorization") == "Bearer test-key"
    body = request["body"]
    assert body["model"] == "gpt-4o-mini"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == adjustment_json_schema()
    assert body["messages"][0] == {"role": "system", "content": system_prompt()}
    assert body["messages"][1]["role"] == "user" and TEXT in body["messages"][1]["content"]

    [row] = LlmUsage.objects.all()
    assert row.status == "ok" and row.error == ""
    assert row.request_id == "chatcmpl-test-1"
    assert (row.user, row.music, row.model, row.operation) == (user, track, "gpt-4o-mini", "interpret_feedback")
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (1200, 85, 1024)
    assert row.estimated is False
    assert row.estimated_input_tokens == estimate_input_tokens(build_messages(TEXT), adjustment_json_schema())
    assert row.estimated_input_tokens > 0
    assert row.latency_ms > 0
    assert (row.price_input_per_mtok, row.price_output_per_mtok, row.price_cached_per_mtok) == (
        Decimal("0.15"),
        Decimal("0.60"),
        Decimal("0.075"),
    )
    # (1200 - 1024) * 0.15 + 1024 * 0.075 + 85 * 0.60 = 26.4 + 76.8 + 51.0 = 154.2 USD per 1e6
    assert row.cost_usd == Decimal("0.0001542")


def test_tokens_estimate_grows_with_the_text():
    short = estimate_input_tokens(build_messages("mais rápido"))
    long = estimate_input_tokens(build_messages("mais rápido " * 50))
    assert 0 < short < long
    assert long - short >= 50  # every repetition is at least one token


# --- failures → local interpreter ------------------------------------------------------------

REPORTED = (DEFAULT_USAGE["prompt_tokens"], DEFAULT_USAGE["completion_tokens"], 1024)


@pytest.mark.parametrize(
    ("behaviour", "status", "reason", "tokens"),
    [
        pytest.param(http_error(500), "error", "HTTP 500", (0, 0, 0), id="http-500"),
        pytest.param(http_error(429), "error", "HTTP 429", (0, 0, 0), id="http-429"),
        pytest.param(slow(5, GOOD_REPLY), "timeout", "timeout", (0, 0, 0), id="timeout"),
        pytest.param(malformed(), "invalid_output", "malformed JSON", REPORTED, id="malformed-json"),
        pytest.param(
            ok({**GOOD_REPLY, "adjustments": [_adj(key="sparkle")]}),
            "invalid_output",
            "violates the schema at adjustments/0/key",
            REPORTED,
            id="schema-unknown-feature",
        ),
        pytest.param(
            ok({**GOOD_REPLY, "adjustments": [_adj(confidence=1.7)]}),
            "invalid_output",
            "violates the schema at adjustments/0/confidence",
            REPORTED,
            id="schema-confidence-out-of-range",
        ),
        pytest.param(
            ok({"language": "pt", "adjustments": []}),
            "invalid_output",
            "violates the schema",
            REPORTED,
            id="schema-missing-unmatched",
        ),
        pytest.param(empty_choices(), "invalid_output", "no choices", REPORTED, id="empty-choices"),
    ],
)
def test_every_failure_falls_back_and_records_one_usage_row(
    llm_server, user, local_interpret, behaviour, status, reason, tokens
):
    llm_server.push(behaviour)

    result = llm_interpret(TEXT, user=user)

    _assert_fell_back(result, local_interpret, reason_contains=reason)
    assert len(llm_server.requests) == 1  # max_retries=0: one attempt, one row
    [row] = LlmUsage.objects.all()
    assert row.status == status
    assert reason.lower() in row.error.lower()
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == tokens
    assert row.estimated is (tokens == (0, 0, 0))  # estimated = the provider reported nothing
    assert row.estimated_input_tokens > 0  # counted before the call, whatever happened after
    assert row.request_id  # the provider's id, or a generated one
    if status == "timeout":
        assert row.latency_ms >= 1000 * 0.9
    expected_cost = compute_cost(
        input_tokens=tokens[0], output_tokens=tokens[1], cached_tokens=tokens[2], prices=prices_for("gpt-4o-mini")
    )
    assert row.cost_usd == expected_cost
    assert (row.cost_usd > 0) is (tokens != (0, 0, 0))


def test_connection_refused_falls_back(llm_server, settings, user, local_interpret):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"

    result = llm_interpret(TEXT, user=user)

    _assert_fell_back(result, local_interpret, reason_contains="connection error")
    [row] = LlmUsage.objects.all()
    assert (row.status, row.input_tokens, row.estimated, row.cost_usd) == ("error", 0, True, Decimal(0))
    assert llm_server.requests == []


def test_invalid_adjustments_are_dropped_with_a_note_and_the_rest_kept(llm_server, user):
    reply = {
        "language": "pt",
        "adjustments": [
            _adj(),  # valid
            _adj(kind="weight", key="motion", op="set", value=0.5),  # weights are only scaled
            _adj(key="reframe", op="set", value="sideways"),  # not a reframe choice
            _adj(key="reframe", op="scale", value=2.0),  # a choice cannot be scaled
            _adj(value=9.0),  # beyond the 4x step
            _adj(kind="weight", key="cuts_per_bar"),  # a param named as a weight
        ],
        "unmatched": [],
    }
    llm_server.push(ok(reply))

    result = llm_interpret(TEXT, user=user)

    assert result.interpreter == "llm:gpt-4o-mini"
    assert [(a.key, a.value) for a in result.adjustments] == [("cuts_per_bar", 2.0)]
    assert len(result.notes) == 5
    assert all(n.startswith("dropped the LLM adjustment") for n in result.notes)
    assert "fell back" not in " ".join(result.notes)
    assert LlmUsage.objects.get().status == "ok"  # the answer was usable


def test_no_key_means_no_request_and_no_usage_row(llm_server, settings, user, local_interpret):
    settings.LLM_API_KEY = ""

    result = llm_interpret(TEXT, user=user)

    assert result == local_interpret(TEXT, language=None, floor=0.5)
    assert llm_server.requests == []
    assert not LlmUsage.objects.exists()


def test_floor_is_passed_through(llm_server, user):
    llm_server.push(ok(GOOD_REPLY))
    result = llm_interpret(TEXT, user=user, floor=0.88)
    assert result.floor == 0.88
    assert [a.key for a in result.applicable] == ["cuts_per_bar"]


# --- usage rows ---------------------------------------------------------------------------------


def test_usage_rows_are_append_only(user):
    row = record_llm_usage(model="gpt-4o-mini", status="ok", user=user, input_tokens=10)
    row.input_tokens = 1
    with pytest.raises(ImmutableVersionError):
        row.save()
    with pytest.raises(ImmutableVersionError):
        LlmUsage.objects.filter(pk=row.pk).update(input_tokens=1)
    assert LlmUsage.objects.get(pk=row.pk).input_tokens == 10


def test_cost_arithmetic():
    p = Prices(Decimal("2.5"), Decimal("10"), Decimal("1.25"), priced=True)
    # (1000 - 400) * 2.5 + 400 * 1.25 + 200 * 10 = 1500 + 500 + 2000 = 4000 → 0.004 USD
    assert compute_cost(input_tokens=1000, output_tokens=200, cached_tokens=400, prices=p) == Decimal("0.004")
    assert compute_cost(input_tokens=1, output_tokens=0, cached_tokens=0, prices=p) == Decimal("0.0000025")
    # A model without a cached price bills cached tokens at the input price; an unknown one is free.
    assert prices_for("other-model").cached == Decimal(1)
    assert prices_for("nobody-knows") == Prices()
    row = record_llm_usage(model="nobody-knows", status="ok", input_tokens=10**6, output_tokens=10**6)
    assert row.cost_usd == 0 and row.price_input_per_mtok == 0


def test_usage_totals_sum_per_model_and_filter(llm_server, user, other_user, track):
    llm_server.push(ok(GOOD_REPLY))
    llm_interpret(TEXT, user=user, music=track)  # 1200 / 85 / 1024, 0.0001542 USD
    record_llm_usage(model="gpt-4o-mini", status="timeout", user=user, estimated_input_tokens=50, estimated=True)
    record_llm_usage(model="other-model", status="ok", user=user, input_tokens=1000, output_tokens=500)
    record_llm_usage(model="other-model", status="ok", user=other_user, input_tokens=3000, output_tokens=0)

    totals = usage_totals(user=user)
    assert set(totals) == {"gpt-4o-mini", "other-model"}
    mini = totals["gpt-4o-mini"]
    assert (mini["requests"], mini["failed"]) == (2, 1)
    assert (mini["input_tokens"], mini["output_tokens"], mini["cached_tokens"]) == (1200, 85, 1024)
    assert mini["estimated_input_tokens"] > 50
    assert mini["cost_usd"] == Decimal("0.0001542")
    assert totals["other-model"]["cost_usd"] == Decimal("0.002")  # (1000 * 1 + 500 * 2) / 1e6

    everyone = usage_totals()
    assert everyone["other-model"]["requests"] == 2
    assert everyone["other-model"]["input_tokens"] == 4000
    assert everyone["other-model"]["cost_usd"] == Decimal("0.005")

    assert set(usage_totals(music=track)) == {"gpt-4o-mini"}
    assert usage_totals(music=track)["gpt-4o-mini"]["requests"] == 1
    assert usage_totals(since=timezone.now() + timedelta(minutes=1)) == {}
    assert usage_totals(since=timezone.now() - timedelta(minutes=5))["other-model"]["requests"] == 2
