"""Titles and post texts by the LLM (the real local OpenAI-compatible server), with the local fallback."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from learning.copywriting import OPERATION, clip_models_write_copy, copy_json_schema
from learning.models import ArtistFeedback, LlmUsage
from suggestions.copywriting import POST_MAX, TITLE_MAX
from suggestions.models import ClipModel
from tests.learning.llm_server import http_error, malformed, ok, slow
from tests.suggestions import conftest as suggestions_fixtures

# The suggestions tests' fixtures (an analysed video with speech, a track with lyrics), shared here.
make_analysed_video = suggestions_fixtures.make_analysed_video
make_track = suggestions_fixtures.make_track
suggested = suggestions_fixtures.suggested

pytestmark = pytest.mark.django_db


def _answer(models, **override):
    clips = [
        {"rank": m.rank, "title": f"Clip {m.rank}: o rio dourado", "post_text": f"Um momento do festival #rio{m.rank}"}
        for m in models
    ]
    for rank, patch in override.items():
        next(c for c in clips if c["rank"] == int(rank.lstrip("r"))).update(patch)
    return {"clips": clips}


def _fresh(models):
    return [ClipModel.objects.get(pk=m.pk) for m in models]


def test_the_models_titles_are_stored_with_a_usage_row(llm_server, user, suggested):
    ingest, models = suggested(user, music=True, track_language="pt")
    llm_server.push(ok(_answer(models)))
    clip_models_write_copy(clip_models=models, user=user)
    for m in _fresh(models):
        assert m.title == f"Clip {m.rank}: o rio dourado"
        assert m.post_text == f"Um momento do festival #rio{m.rank}"
        assert m.copy["source"] == "llm" and m.copy["model"] == "gpt-4o-mini" and m.copy["language"] == "pt"
    (request,) = llm_server.requests
    body = request["body"]
    assert body["response_format"]["json_schema"]["schema"] == copy_json_schema()
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "Brazilian Portuguese" in body["messages"][0]["content"]
    sent = json.loads(body["messages"][1]["content"])
    assert sent["track"] == "Golden River" and sent["language"] == "pt"
    assert [c["rank"] for c in sent["clips"]] == [m.rank for m in models]
    hook = next(c for c in sent["clips"] if c["kind"] == "hook")
    assert any("golden river" in line for line in hook["lyrics"])  # the words the clip contains
    (row,) = LlmUsage.objects.all()
    assert row.operation == OPERATION and row.status == "ok"
    assert row.user == user and row.music_id == ingest.music_id
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (1200, 85, 1024)
    assert row.estimated_input_tokens > 300 and row.cost_usd > 0


@pytest.mark.parametrize(
    ("behaviour", "status", "reason"),
    [
        (malformed(), "invalid_output", "malformed JSON"),
        (ok({"clips": [{"rank": 1, "title": "x"}]}), "invalid_output", "violates the schema"),
        (http_error(500), "error", "HTTP 500"),
        (slow(3.0), "timeout", "timeout after 1 s"),
    ],
)
def test_any_failure_keeps_the_local_text_with_the_reason(llm_server, user, suggested, behaviour, status, reason):
    _, models = suggested(user, music=True)
    local = {m.pk: (m.title, m.post_text) for m in models}
    llm_server.push(behaviour)
    clip_models_write_copy(clip_models=models, user=user)
    for m in _fresh(models):
        assert (m.title, m.post_text) == local[m.pk]
        assert m.copy["source"] == "local"
        assert m.copy["notes"][0].startswith("fell back to the local text:") and reason in m.copy["notes"][0]
    (row,) = LlmUsage.objects.all()
    assert row.status == status and row.operation == OPERATION


def test_a_clip_whose_answer_breaks_the_limits_keeps_its_local_text_alone(llm_server, user, suggested):
    _, models = suggested(user, music=True)
    first, *rest = models
    llm_server.push(ok(_answer(models, **{f"r{first.rank}": {"title": "T" * (TITLE_MAX + 1)}})))
    clip_models_write_copy(clip_models=models, user=user)
    fresh = _fresh(models)
    assert fresh[0].title == first.title and fresh[0].copy["source"] == "local"
    assert f"{TITLE_MAX + 1} characters" in fresh[0].copy["notes"][0]
    assert all(m.copy["source"] == "llm" for m in fresh[1:])
    assert all(len(m.title) <= TITLE_MAX and len(m.post_text) <= POST_MAX for m in fresh)


def test_a_retried_job_does_not_pay_twice(llm_server, user, suggested):
    _, models = suggested(user, music=False)
    llm_server.push(ok(_answer(models)))
    clip_models_write_copy(clip_models=models, user=user)
    clip_models_write_copy(clip_models=_fresh(models), user=user)
    assert len(llm_server.requests) == 1 and LlmUsage.objects.count() == 1


def test_over_budget_nothing_is_sent(llm_server, settings, user, suggested):
    from learning.usage import record_llm_usage

    settings.LLM_MONTHLY_BUDGET_USD = 0.0001
    settings.LLM_PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    record_llm_usage(model="gpt-4o-mini", status="ok", user=user, input_tokens=10_000, output_tokens=1000)
    _, models = suggested(user, music=False)
    clip_models_write_copy(clip_models=models, user=user)
    assert llm_server.requests == []
    for m in _fresh(models):
        assert m.copy["source"] == "local" and "budget" in m.copy["notes"][0]
    assert LlmUsage.objects.count() == 1 and LlmUsage.objects.get().cost_usd > Decimal(0)


def test_without_a_key_the_local_text_follows_the_feedback_language(user, suggested):
    _, models = suggested(user, music=False, video_language=None)
    assert {m.copy["language"] for m in models} == {"en"}
    ArtistFeedback.objects.create(owner=user, text="mais cortes rápidos", language="pt")
    clip_models_write_copy(clip_models=models, user=user)
    fresh = _fresh(models)
    assert {m.copy["language"] for m in fresh} == {"pt"}
    assert all(m.copy["source"] == "local" for m in fresh)
    assert LlmUsage.objects.count() == 0
