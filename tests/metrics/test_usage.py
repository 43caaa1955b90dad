"""LLM token accounting end to end: usage rows, the daily rollup, ``GET /usage``, the staff
report, the monthly budget and the Prometheus samples they move.

The provider is the real local OpenAI-compatible server of the learning tests
(``tests/learning/llm_server.py``) spoken to by the real ``openai`` client, and feedback goes
through the API with its job run in-process on commit (``JOBS_EAGER``), as in the embedded mode.
Prometheus values are read from the default registry before and after (the tests run without
``PROMETHEUS_MULTIPROC_DIR``), so every assertion is on an exact delta.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from freezegun import freeze_time
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from learning.models import CenterVersion, LlmUsage, LlmUsageDaily, MusicFeedback, VersionSource
from learning.usage import llm_budget_status, month_bounds, record_llm_usage, usage_rollup_rebuild
from metrics.selectors import current_month
from tests.learning.llm_server import LlmServer, http_error, ok, slow

PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached": 0.075}, "other-model": {"input": 1, "output": 2}}
MODEL = "gpt-4o-mini"
OP = "interpret_feedback"
OP_CHAT = "chat"  # record_llm_usage's default operation


# --------------------------------------------------------------------------- helpers and fixtures


def sample(name: str, **labels: str) -> float:
    """A sample's current value in the default registry (0 when it was never touched)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Samples:
    """Snapshot of named samples; ``delta()`` answers how much each moved since."""

    def __init__(self, specs: dict[str, tuple[str, dict[str, str]]]):
        self.specs = specs
        self.before = {key: sample(name, **labels) for key, (name, labels) in specs.items()}

    def delta(self) -> dict[str, float]:
        return {key: sample(name, **labels) - self.before[key] for key, (name, labels) in self.specs.items()}


@pytest.fixture(autouse=True)
def _prices(settings):
    settings.LLM_PRICES = PRICES
    settings.LEARNING_CONFIDENCE_FLOOR = 0.5
    settings.LLM_MONTHLY_BUDGET_USD = 0.0
    settings.LLM_MONTHLY_BUDGET_USD_BY_ARTIST = {}


@pytest.fixture
def llm(settings):
    """The local OpenAI-compatible server, configured as the provider (1 s timeout)."""
    with LlmServer() as server:
        settings.LLM_API_KEY = "test-key"
        settings.LLM_BASE_URL = server.base_url
        settings.LLM_MODEL = MODEL
        settings.LLM_TIMEOUT_S = 1.0
        yield server


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def make_track(user, title: str):
    from music.models import MusicAsset

    return MusicAsset.objects.create(
        owner=user, artist=user.artist, title=title, sha256=title.encode().hex().ljust(64, "0")[:64],
        file=f"m/{title}", size_bytes=1, format="wav", duration=10.0,
    )  # fmt: skip


def usage(prompt: int, completion: int, cached: int = 0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
    }


def reply(*adjustments: dict) -> dict:
    return {"language": "pt", "adjustments": list(adjustments), "unmatched": []}


def adj(intent: str, kind: str, key: str, op: str, value, phrase: str) -> dict:
    return {"intent": intent, "kind": kind, "key": key, "op": op, "value": value, "confidence": 0.9, "phrase": phrase}


def rows_sum(**filters) -> dict:
    """The truth: a direct Sum over the ``llm_usage`` rows."""
    s = LlmUsage.objects.filter(**filters).aggregate(
        requests=Count("id"),
        failed=Count("id", filter=~Q(status="ok")),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cached_tokens=Sum("cached_tokens"),
        cost_usd=Sum("cost_usd"),
    )
    return {k: (v if v is not None else 0) for k, v in s.items()}


def as_api(sums: dict) -> dict:
    """Sums as the API writes them (money: a string with 8 places)."""
    return {**{k: int(v) for k, v in sums.items() if k != "cost_usd"}, "cost_usd": f"{Decimal(sums['cost_usd']):.8f}"}


def rollup_snapshot() -> list[tuple]:
    return sorted(
        LlmUsageDaily.objects.values_list(
            "day", "user_id", "music_id", "model", "operation", "requests", "failed",
            "input_tokens", "output_tokens", "cached_tokens", "cost_usd",
        ),
        key=str,
    )  # fmt: skip


def versions_by_scope_source() -> Counter:
    return Counter(CenterVersion.objects.values_list("center__scope", "source"))


# --------------------------------------------------------------------------- the conversation


@pytest.mark.django_db(transaction=True)
def test_conversation_records_exact_tokens_cost_rollup_api_and_counters(llm, settings, make_artist):
    """Five feedback texts: two LLM answers, a 500, a timeout (both fall back) and an artist text."""
    settings.JOBS_EAGER = True
    alice, token = make_artist("alice")
    api = client_for(token)
    track = make_track(alice, "Samba da Volta")
    llm.push(
        ok(reply(adj("cuts_faster", "param", "cuts_per_bar", "scale", 2.0, "cortes mais rápidos")),
           usage=usage(1200, 85, 1024), request_id="chatcmpl-1"),
        ok(reply(adj("more_motion", "weight", "motion", "scale", 1.5, "mais movimento")),
           usage=usage(900, 40), request_id="chatcmpl-2"),
        http_error(500),
        slow(5),
        ok(reply(adj("start_on_chorus", "param", "hook.music_start", "set", "chorus", "começa no refrão")),
           usage=usage(2000, 150, 512), request_id="chatcmpl-5"),
    )  # fmt: skip
    counters = Samples(
        {
            "req_ok": ("fala_llm_requests_total", {"model": MODEL, "status": "ok"}),
            "req_error": ("fala_llm_requests_total", {"model": MODEL, "status": "error"}),
            "req_timeout": ("fala_llm_requests_total", {"model": MODEL, "status": "timeout"}),
            "cost": ("fala_llm_cost_usd_total", {"model": MODEL}),
            **{
                f"tok_{t}_{s}": (
                    f"gen_ai_client_token_usage_{s}",
                    {
                        "gen_ai_operation_name": OP,
                        "gen_ai_provider_name": "openai",
                        "gen_ai_request_model": MODEL,
                        "gen_ai_token_type": t,
                    },
                )  # fmt: skip
                for t in ("input", "output")
                for s in ("count", "sum")
            },
            **{
                f"dur_{e or 'ok'}": (
                    "gen_ai_client_operation_duration_seconds_count",
                    {
                        "gen_ai_operation_name": OP,
                        "gen_ai_provider_name": "openai",
                        "gen_ai_request_model": MODEL,
                        "error_type": e,
                    },
                )  # fmt: skip
                for e in ("", "error", "timeout")
            },
            "fallback_error": ("fala_llm_fallbacks_total", {"reason": "error"}),
            "fallback_timeout": ("fala_llm_fallbacks_total", {"reason": "timeout"}),
            "fallback_budget": ("fala_llm_fallbacks_total", {"reason": "budget_exceeded"}),
            **{
                f"fb_{k}_{e}": ("fala_feedback_total", {"kind": k, "event": e})
                for k in ("music", "artist")
                for e in ("received", "interpreted", "applied", "not_understood", "failed")
            },
        }
    )
    versions_before = versions_by_scope_source()
    version_keys = [(sc, so) for sc in ("global", "genre", "artist", "track") for so in VersionSource.values]
    versions_counters = {
        key: sample("fala_learning_versions_total", scope=key[0], source=key[1]) for key in version_keys
    }

    texts = ["cortes mais rápidos", "mais movimento", "more motion please", "cortes mais rápidos"]
    ids = []
    for text in texts:
        resp = api.post(f"/feedback/music/{track.pk}", {"text": text}, format="json")
        assert resp.status_code == 202, resp.json()
        ids.append(resp.json()["id"])
    resp = api.post("/feedback/artist", {"text": "começa no refrão"}, format="json")
    assert resp.status_code == 202, resp.json()
    ids.append(resp.json()["id"])

    # Every request reached the server once (max_retries=0), in order.
    assert len(llm.requests) == 5
    details = [api.get(f"/feedback/{i}").json() for i in ids]
    assert [d["status"] for d in details] == ["applied"] * 5
    assert [d["interpreter"] for d in details] == [
        "llm:gpt-4o-mini", "llm:gpt-4o-mini", "rules+embeddings", "rules+embeddings", "llm:gpt-4o-mini",
    ]  # fmt: skip
    assert details[2]["interpretation"]["notes"][0] == "fell back to the local interpreter: HTTP 500 from the provider"
    assert details[3]["interpretation"]["notes"][0] == "fell back to the local interpreter: timeout after 1 s"

    # One row per attempt, exact tokens and cost: (1200-1024)*0.15 + 1024*0.075 + 85*0.6 = 154.2e-6;
    # 900*0.15 + 40*0.6 = 159e-6; failures 0; (2000-512)*0.15 + 512*0.075 + 150*0.6 = 351.6e-6.
    rows = list(
        LlmUsage.objects.order_by("created_at", "id").values_list(
            "music_feedback_id", "artist_feedback_id", "music_id", "status",
            "input_tokens", "output_tokens", "cached_tokens", "estimated", "cost_usd", "request_id",
        )
    )  # fmt: skip
    fb = [MusicFeedback.objects.get(pk=i).pk for i in ids[:4]]
    assert [r[:9] for r in rows] == [
        (fb[0], None, track.pk, "ok", 1200, 85, 1024, False, Decimal("0.00015420")),
        (fb[1], None, track.pk, "ok", 900, 40, 0, False, Decimal("0.00015900")),
        (fb[2], None, track.pk, "error", 0, 0, 0, True, Decimal("0")),
        (fb[3], None, track.pk, "timeout", 0, 0, 0, True, Decimal("0")),
        (None, rows[4][1], None, "ok", 2000, 150, 512, False, Decimal("0.00035160")),
    ]
    assert str(rows[4][1]) == ids[4]
    assert [r[9] for r in rows[:2]] + [rows[4][9]] == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-5"]
    assert all(r.user_id == alice.pk and r.model == MODEL and r.operation == OP for r in LlmUsage.objects.all())

    # The rollup, kept in the same transactions: one bucket for the track, one without a track.
    today = datetime.now(UTC).date()
    assert rollup_snapshot() == sorted(
        [
            (today, alice.pk, track.pk, MODEL, OP, 4, 2, 2100, 125, 1024, Decimal("0.00031320")),
            (today, alice.pk, None, MODEL, OP, 1, 0, 2000, 150, 512, Decimal("0.00035160")),
        ],
        key=str,
    )

    # GET /usage, the rollup and a Sum over the rows agree to the last digit.
    body = api.get("/usage").json()
    truth = as_api(rows_sum(user=alice))
    expected_totals = {
        "requests": 5, "failed": 2, "input_tokens": 4100, "output_tokens": 275, "cached_tokens": 1536,
        "cost_usd": "0.00066480",
    }  # fmt: skip
    assert body["totals"] == truth == expected_totals
    month = current_month()
    assert (body["since"], body["until"]) == (month.since.isoformat(), month.until.isoformat())
    assert body["by_day"] == [{"day": today.isoformat(), **expected_totals}]
    assert body["by_model"] == [{"model": MODEL, **expected_totals}]
    assert body["by_track"] == [
        {"music_id": None, "title": None, **as_api(rows_sum(user=alice, music=None))},
        {"music_id": str(track.pk), "title": "Samba da Volta", **as_api(rows_sum(user=alice, music=track))},
    ]
    assert body["by_track"][1]["cost_usd"] == "0.00031320" and body["by_track"][1]["failed"] == 2
    assert body["budget"] is None

    # Prometheus moved by exactly what happened.
    d = counters.delta()
    assert (d["req_ok"], d["req_error"], d["req_timeout"]) == (3, 1, 1)
    assert d["cost"] == pytest.approx(0.0006648, abs=1e-12)
    # Token usage: only the three answers that reported usage.
    assert (d["tok_input_count"], d["tok_input_sum"]) == (3, 4100)
    assert (d["tok_output_count"], d["tok_output_sum"]) == (3, 275)
    assert (d["dur_ok"], d["dur_error"], d["dur_timeout"]) == (3, 1, 1)
    assert (d["fallback_error"], d["fallback_timeout"], d["fallback_budget"]) == (1, 1, 0)
    assert {k: v for k, v in d.items() if k.startswith("fb_") and v} == {
        "fb_music_received": 4, "fb_music_interpreted": 4, "fb_music_applied": 4,
        "fb_artist_received": 1, "fb_artist_interpreted": 1, "fb_artist_applied": 1,
    }  # fmt: skip
    # Versions: the counter equals the rows created, per scope and source.
    created = versions_by_scope_source() - versions_before
    moved = {
        key: sample("fala_learning_versions_total", scope=key[0], source=key[1]) - before
        for key, before in versions_counters.items()
    }
    assert {k: v for k, v in moved.items() if v} == {k: float(v) for k, v in created.items()}
    assert created[("track", "llm")] == 2 and created[("track", "feedback")] == 2 and created[("artist", "llm")] == 1


# --------------------------------------------------------------------------- failures without cost


@pytest.mark.django_db
def test_a_failing_call_records_its_status_at_cost_zero_in_row_and_rollup(
    llm, user, django_capture_on_commit_callbacks
):
    from learning.llm import llm_interpret

    llm.push(http_error(503))
    before = sample("fala_llm_requests_total", model=MODEL, status="error")
    cost_before = sample("fala_llm_cost_usd_total", model=MODEL)
    with django_capture_on_commit_callbacks(execute=True):
        result = llm_interpret("mais movimento", user=user)

    assert result.notes[0] == "fell back to the local interpreter: HTTP 503 from the provider"
    [row] = LlmUsage.objects.all()
    assert (row.status, row.cost_usd, row.input_tokens, row.output_tokens) == ("error", Decimal(0), 0, 0)
    [bucket] = LlmUsageDaily.objects.all()
    assert (bucket.requests, bucket.failed, bucket.cost_usd, bucket.input_tokens) == (1, 1, Decimal(0), 0)
    assert sample("fala_llm_requests_total", model=MODEL, status="error") - before == 1
    assert sample("fala_llm_cost_usd_total", model=MODEL) - cost_before == 0


@pytest.mark.django_db
def test_counters_wait_for_the_commit_and_a_rolled_back_row_counts_nowhere(user, django_capture_on_commit_callbacks):
    before = sample("fala_llm_requests_total", model="other-model", status="ok")
    with pytest.raises(RuntimeError), transaction.atomic():
        record_llm_usage(model="other-model", status="ok", user=user, input_tokens=10)
        raise RuntimeError("the caller's transaction fails")
    assert not LlmUsage.objects.exists() and not LlmUsageDaily.objects.exists()
    assert sample("fala_llm_requests_total", model="other-model", status="ok") == before

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_llm_usage(model="other-model", status="ok", user=user, input_tokens=10)
    assert sample("fala_llm_requests_total", model="other-model", status="ok") == before  # not yet
    for callback in callbacks:
        callback()
    assert sample("fala_llm_requests_total", model="other-model", status="ok") == before + 1


# --------------------------------------------------------------------------- rollup


@pytest.mark.django_db
def test_rollup_buckets_by_utc_day_and_the_rebuild_gives_the_same_rows(user, other_user):
    track = make_track(user, "t1")
    # 23:59:59 UTC and 00:00:00 UTC are different days, whatever TIME_ZONE says.
    moments = [
        ("2026-03-30T23:59:59+00:00", dict(user=user, music=track, input_tokens=1000, output_tokens=10)),
        ("2026-03-31T00:00:00+00:00", dict(user=user, music=track, input_tokens=2000, output_tokens=20)),
        ("2026-03-31T12:00:00+00:00", dict(user=user, music=track, input_tokens=500, status="timeout")),
        ("2026-03-31T13:00:00+00:00", dict(user=user, model="other-model", input_tokens=100, output_tokens=50)),
        ("2026-03-31T14:00:00+00:00", dict(user=other_user, input_tokens=4, output_tokens=7, cached_tokens=4)),
        ("2026-04-01T00:00:01+00:00", dict(user=None, input_tokens=1, operation="summary")),
    ]
    # One freeze moved from moment to moment (move_to() does not rescan the loaded modules).
    with freeze_time(moments[0][0]) as clock:
        for moment, kw in moments:
            clock.move_to(moment)
            record_llm_usage(**{"model": MODEL, "status": "ok", **kw})

    incremental = rollup_snapshot()
    assert incremental == sorted(
        [
            (date(2026, 3, 30), user.pk, track.pk, MODEL, OP_CHAT, 1, 0, 1000, 10, 0, Decimal("0.00015600")),
            (date(2026, 3, 31), user.pk, track.pk, MODEL, OP_CHAT, 2, 1, 2500, 20, 0, Decimal("0.00038700")),
            (date(2026, 3, 31), user.pk, None, "other-model", OP_CHAT, 1, 0, 100, 50, 0, Decimal("0.00020000")),
            (date(2026, 3, 31), other_user.pk, None, MODEL, OP_CHAT, 1, 0, 4, 7, 4, Decimal("0.00000450")),
            (date(2026, 4, 1), None, None, MODEL, "summary", 1, 0, 1, 0, 0, Decimal("0.00000015")),
        ],
        key=str,
    )

    # A damaged rollup comes back exactly from the rows; days outside the range are untouched.
    LlmUsageDaily.objects.filter(day=date(2026, 3, 31)).delete()
    LlmUsageDaily.objects.filter(day=date(2026, 3, 30)).update(requests=99)
    LlmUsageDaily.objects.filter(day=date(2026, 4, 1)).update(requests=42)
    assert usage_rollup_rebuild(since=date(2026, 3, 30), until=date(2026, 3, 31)) == 4
    after = rollup_snapshot()
    assert [r for r in after if r[0] != date(2026, 4, 1)] == [r for r in incremental if r[0] != date(2026, 4, 1)]
    assert [r[5] for r in after if r[0] == date(2026, 4, 1)] == [42]
    assert usage_rollup_rebuild(since=date(2026, 4, 1), until=date(2026, 4, 1)) == 1
    assert rollup_snapshot() == incremental
    with pytest.raises(ValueError):
        usage_rollup_rebuild(since=date(2026, 4, 2), until=date(2026, 4, 1))


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_lose_a_rollup_increment(make_artist):
    """Eight threads, one bucket: the F() increments serialise on the bucket's row."""
    alice, _ = make_artist("alice")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(6):
                record_llm_usage(
                    model=MODEL, status="ok" if i % 3 else "error", user=alice, input_tokens=100 + n, output_tokens=i
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    [bucket] = LlmUsageDaily.objects.all()
    truth = rows_sum()
    assert truth["requests"] == 48
    assert (bucket.requests, bucket.failed, bucket.input_tokens, bucket.output_tokens, bucket.cost_usd) == (
        truth["requests"], truth["failed"], truth["input_tokens"], truth["output_tokens"], truth["cost_usd"],
    )  # fmt: skip
    assert (bucket.failed, bucket.input_tokens, bucket.output_tokens) == (16, 6 * sum(100 + n for n in range(8)), 120)


# --------------------------------------------------------------------------- API: scoping and ranges


@pytest.fixture
def two_artists(make_artist):
    """alice and bob with usage this month (and alice some last month); a staff client."""
    alice, alice_token = make_artist("alice")
    bob, bob_token = make_artist("bob")
    staff, staff_token = make_artist("operator")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    a_track, b_track = make_track(alice, "Alice Song"), make_track(bob, "Bob Song")
    now = datetime.now(UTC)
    start, _ = month_bounds(now)
    with freeze_time(start - timedelta(days=3)):  # last month: outside the default range
        record_llm_usage(model=MODEL, status="ok", user=alice, music=a_track, input_tokens=10**6)
    record_llm_usage(model=MODEL, status="ok", user=alice, music=a_track, input_tokens=1000, output_tokens=100)
    record_llm_usage(model="other-model", status="ok", user=alice, input_tokens=300, output_tokens=30)
    record_llm_usage(model=MODEL, status="error", user=alice, music=a_track)
    record_llm_usage(
        model=MODEL, status="ok", user=bob, music=b_track, input_tokens=4000, output_tokens=400, cached_tokens=1000
    )
    return {
        "alice": alice, "bob": bob, "a_track": a_track, "b_track": b_track,
        "alice_api": client_for(alice_token), "bob_api": client_for(bob_token), "staff_api": client_for(staff_token),
    }  # fmt: skip


@pytest.mark.django_db
def test_usage_is_owner_scoped_and_the_staff_report_shows_everyone(two_artists):
    t = two_artists
    alice_body = t["alice_api"].get("/usage").json()
    # 1000*0.15 + 100*0.6 = 210e-6; other-model 300*1 + 30*2 = 360e-6; the error costs 0.
    assert alice_body["totals"] == {
        "requests": 3, "failed": 1, "input_tokens": 1300, "output_tokens": 130, "cached_tokens": 0,
        "cost_usd": "0.00057000",
    }  # fmt: skip
    assert alice_body["by_model"] == [
        {"model": "other-model", "requests": 1, "failed": 0, "input_tokens": 300, "output_tokens": 30,
         "cached_tokens": 0, "cost_usd": "0.00036000"},
        {"model": MODEL, "requests": 2, "failed": 1, "input_tokens": 1000, "output_tokens": 100,
         "cached_tokens": 0, "cost_usd": "0.00021000"},
    ]  # fmt: skip
    assert [(r["music_id"], r["title"]) for r in alice_body["by_track"]] == [
        (None, None),
        (str(t["a_track"].pk), "Alice Song"),
    ]
    assert "by_user" not in alice_body
    # Nothing of bob's anywhere in alice's answer.
    assert str(t["b_track"].pk) not in str(alice_body) and "Bob Song" not in str(alice_body)
    bob_body = t["bob_api"].get("/usage").json()
    # (4000-1000)*0.15 + 1000*0.075 + 400*0.6 = 450 + 75 + 240 = 765e-6
    assert bob_body["totals"]["cost_usd"] == "0.00076500" and bob_body["totals"]["requests"] == 1
    assert [r["title"] for r in bob_body["by_track"]] == ["Bob Song"]

    report = t["staff_api"].get("/usage/report").json()
    assert report["totals"] == as_api(rows_sum(created_at__gte=month_bounds(datetime.now(UTC))[0]))
    assert report["totals"]["cost_usd"] == "0.00133500"
    assert [(r["username"], r["cost_usd"], r["requests"]) for r in report["by_user"]] == [
        ("bob", "0.00076500", 1),
        ("alice", "0.00057000", 3),
    ]
    assert [r["title"] for r in report["by_track"]] == ["Bob Song", None, "Alice Song"]
    # The staff report equals the sum of the artists' own reports.
    for key in ("requests", "failed", "input_tokens", "output_tokens", "cached_tokens"):
        assert report["totals"][key] == alice_body["totals"][key] + bob_body["totals"][key]

    # Last month's request appears only when asked for.
    last = month_bounds(datetime.now(UTC))[0] - timedelta(days=3)
    body = t["alice_api"].get("/usage", {"since": last.date().isoformat(), "until": last.date().isoformat()}).json()
    assert body["totals"]["input_tokens"] == 10**6 and body["totals"]["cost_usd"] == "0.15000000"


@pytest.mark.django_db
def test_report_is_staff_only_and_both_need_credentials(two_artists, anon_api):
    resp = two_artists["alice_api"].get("/usage/report")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission_denied"
    for path in ("/usage", "/usage/report"):
        resp = anon_api.get(path)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-05-01T00:00:00"}, "since"),
        ({"since": ""}, "since"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "until"),
        ({"since": "2025-01-01", "until": "2026-01-02"}, "until"),  # 367 days
    ],
)
def test_bad_ranges_are_400_in_the_error_shape(api, params, field):
    resp = api.get("/usage", params)
    assert resp.status_code == 400, resp.json()
    body = resp.json()
    assert body["error"]["code"] == "invalid"
    assert list(body["error"]["details"]) == [field]


@pytest.mark.django_db
def test_a_366_day_range_and_until_alone_are_accepted(api):
    body = api.get("/usage", {"since": "2024-01-01", "until": "2024-12-31"}).json()  # leap year: 366 days
    assert (body["since"], body["until"]) == ("2024-01-01", "2024-12-31")
    assert body["totals"] == {
        "requests": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": "0.00000000",
    }  # fmt: skip
    assert body["by_day"] == body["by_track"] == body["by_model"] == []
    body = api.get("/usage", {"until": "2026-02-10"}).json()
    assert (body["since"], body["until"]) == ("2026-02-01", "2026-02-10")


# --------------------------------------------------------------------------- budget


@pytest.mark.django_db(transaction=True)
def test_over_budget_the_llm_is_skipped_and_the_feedback_says_so(llm, settings, make_artist):
    settings.JOBS_EAGER = True
    settings.LLM_MONTHLY_BUDGET_USD = 0.0002
    alice, token = make_artist("alice")
    api = client_for(token)
    track = make_track(alice, "t")
    # Spent this month: (1200-1024)*0.15 + 1024*0.075 + 85*0.6 = 154.2e-6, then 100*0.6 = 60e-6.
    record_llm_usage(model=MODEL, status="ok", user=alice, input_tokens=1200, cached_tokens=1024, output_tokens=85)
    assert llm_budget_status(user=alice).exceeded is False  # 0.0001542 < 0.0002
    record_llm_usage(model=MODEL, status="ok", user=alice, output_tokens=100)
    status = llm_budget_status(user=alice)
    assert (status.budget_usd, status.spent_usd, status.exceeded) == (Decimal("0.0002"), Decimal("0.0002142"), True)
    rows_before = LlmUsage.objects.count()
    counters = Samples(
        {
            "exceeded": ("fala_llm_budget_exceeded_total", {}),
            "fallback": ("fala_llm_fallbacks_total", {"reason": "budget_exceeded"}),
            "requests": ("fala_llm_requests_total", {"model": MODEL, "status": "ok"}),
        }
    )

    resp = api.post(f"/feedback/music/{track.pk}", {"text": "more motion please"}, format="json")
    assert resp.status_code == 202, resp.json()

    assert llm.requests == []  # nothing reached the provider
    assert LlmUsage.objects.count() == rows_before  # and nothing was billed
    detail = api.get(f"/feedback/{resp.json()['id']}").json()
    assert detail["status"] == "applied" and detail["interpreter"] == "rules+embeddings"
    renews = month_bounds(datetime.now(UTC))[1]
    assert detail["interpretation"]["notes"] == [
        "Your AI budget for this month (US$0.0002) is used up (US$0.0002142 spent), so this feedback was read by "
        "the built-in interpreter instead of the AI model. The AI model reads your feedback again from "
        f"{renews.day} {renews:%B %Y} (UTC)."
    ]
    assert [a["key"] for a in detail["interpretation"]["adjustments"]] == ["motion"]
    assert counters.delta() == {"exceeded": 1, "fallback": 1, "requests": 0}
    budget = api.get("/usage").json()["budget"]
    assert budget == {
        "monthly_usd": "0.00020000", "spent_this_month_usd": "0.00021420", "exceeded": True,
        "renews_on": renews.date().isoformat(),
    }  # fmt: skip

    # Another artist under the same budget still gets the LLM.
    _, bob_token = make_artist("bob")
    llm.push(ok(reply(adj("more_motion", "weight", "motion", "scale", 1.5, "more motion")), usage=usage(100, 10)))
    resp = client_for(bob_token).post("/feedback/artist", {"text": "more motion please"}, format="json")
    assert resp.status_code == 202
    assert len(llm.requests) == 1
    # And a per-artist override of 0 lifts alice's cap.
    settings.LLM_MONTHLY_BUDGET_USD_BY_ARTIST = {"alice": 0}
    llm.push(ok(reply(adj("more_motion", "weight", "motion", "scale", 1.5, "more motion")), usage=usage(100, 10)))
    resp = api.post("/feedback/artist", {"text": "more motion please"}, format="json")
    assert resp.status_code == 202 and len(llm.requests) == 2
    assert client_for(token).get(f"/feedback/{resp.json()['id']}").json()["interpreter"] == "llm:gpt-4o-mini"


# --------------------------------------------------------------------------- feedback and learning counters


@pytest.mark.django_db
def test_a_failing_application_marks_the_feedback_failed_and_counts_it(
    user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from learning import feedback as feedback_module

    settings.LLM_API_KEY = ""
    track = make_track(user, "t")
    counters = Samples(
        {e: ("fala_feedback_total", {"kind": "music", "event": e}) for e in ("received", "failed", "applied")}
    )
    with django_capture_on_commit_callbacks(execute=False):  # the job is not run here
        fb, created = feedback_module.music_feedback_submit(owner=user, music=track, text="more motion please")
    assert created

    def broken(*args, **kwargs):
        raise ConnectionError("embeddings store unreachable")

    monkeypatch.setattr(feedback_module, "interpret_feedback", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ConnectionError):
        feedback_module.feedback_apply(fb)

    fb.refresh_from_db()
    assert fb.status == "failed"
    assert fb.error == "The feedback could not be applied (ConnectionError); send it again if it persists."
    # "received" counts on the submission's commit, which the capture above held back.
    assert counters.delta() == {"received": 0, "failed": 1, "applied": 0}


@pytest.mark.django_db
def test_versions_and_rollbacks_count_on_commit_only(user, django_capture_on_commit_callbacks):
    from learning.models import CenterScope
    from learning.services import center_for, center_rollback, center_set_snapshot

    counters = Samples(
        {
            "baseline": ("fala_learning_versions_total", {"scope": "artist", "source": "baseline"}),
            "api": ("fala_learning_versions_total", {"scope": "artist", "source": "api"}),
            "rollback": ("fala_learning_versions_total", {"scope": "artist", "source": "rollback"}),
            "rollbacks": ("fala_learning_rollbacks_total", {"scope": "artist"}),
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        center = center_for(scope=CenterScope.ARTIST, owner=user)
        center_set_snapshot(center=center, weights={"motion": 1.5}, params={}, actor=user, source="api")
        center_rollback(center=center, to_version=None, actor=user)
    assert counters.delta() == {"baseline": 1, "api": 1, "rollback": 1, "rollbacks": 1}

    # A rollback whose transaction is rolled back leaves no version and counts nothing.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        center_rollback(center=center, to_version=2, actor=user)
        raise RuntimeError("abort")
    assert center.versions.count() == 3
    assert counters.delta() == {"baseline": 1, "api": 1, "rollback": 1, "rollbacks": 1}


@pytest.mark.django_db
def test_the_budget_counts_this_utc_month_only_and_per_artist(user, other_user, settings):
    from learning.llm import budget_note

    settings.LLM_MONTHLY_BUDGET_USD = 5
    with freeze_time("2026-11-30T23:59:59+00:00") as clock:  # November: not December's spend
        record_llm_usage(model="other-model", status="ok", user=user, input_tokens=4_000_000)  # 4 USD
        clock.move_to("2026-12-01T00:00:00+00:00")
        record_llm_usage(model="other-model", status="ok", user=user, input_tokens=3_000_000)  # 3 USD
        record_llm_usage(model="other-model", status="ok", user=other_user, input_tokens=9_000_000)  # bob's

    december = llm_budget_status(user=user, now=datetime(2026, 12, 15, tzinfo=UTC))
    assert (december.spent_usd, december.exceeded) == (Decimal(3), False)
    november = llm_budget_status(user=user, now=datetime(2026, 11, 30, 12, tzinfo=UTC))
    assert (november.spent_usd, november.exceeded) == (Decimal(4), False)
    with freeze_time("2026-12-02T10:00:00+00:00"):
        record_llm_usage(model="other-model", status="ok", user=user, output_tokens=1_005_000)  # 2.01 USD
    december = llm_budget_status(user=user, now=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert (december.budget_usd, december.spent_usd, december.exceeded) == (Decimal(5), Decimal("5.01"), True)
    assert december.next_month_start == datetime(2027, 1, 1, tzinfo=UTC)
    assert budget_note(december) == (
        "Your AI budget for this month (US$5.00) is used up (US$5.01 spent), so this feedback was read by the "
        "built-in interpreter instead of the AI model. The AI model reads your feedback again from "
        "1 January 2027 (UTC)."
    )
    assert llm_budget_status(user=user, now=datetime(2027, 1, 1, tzinfo=UTC)).spent_usd == 0

    settings.LLM_MONTHLY_BUDGET_USD_BY_ARTIST = {"alice": 10.5}
    raised = llm_budget_status(user=user, now=datetime(2026, 12, 31, tzinfo=UTC))
    assert (raised.budget_usd, raised.exceeded) == (Decimal("10.5"), False)
    settings.LLM_MONTHLY_BUDGET_USD = 0
    settings.LLM_MONTHLY_BUDGET_USD_BY_ARTIST = {}
    assert llm_budget_status(user=user, now=datetime(2026, 12, 31, tzinfo=UTC)).exceeded is False
