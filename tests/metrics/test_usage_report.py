"""``manage.py usage_report``: the CSV parsed back equals the staff API's numbers; bad input is a
clear ``CommandError``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time
from rest_framework.test import APIClient

from learning.usage import month_bounds, record_llm_usage
from metrics.selectors import current_month

pytestmark = pytest.mark.django_db

PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached": 0.075}, "other-model": {"input": 1, "output": 2}}
KEYS = {"user": ["user_id", "username"], "track": ["music_id", "title"], "model": ["model"]}
SUMS = ["requests", "failed", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"]


@pytest.fixture(autouse=True)
def _prices(settings):
    settings.LLM_PRICES = PRICES


@pytest.fixture
def usage_data(make_artist):
    from music.models import MusicAsset

    alice, _ = make_artist("alice")
    bob, _ = make_artist("bob")
    staff, token = make_artist("operator")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    tracks = {}
    for user, title in ((alice, 'Alice, "Live"'), (bob, "Bob Song")):
        tracks[user.username] = MusicAsset.objects.create(
            owner=user, artist=user.artist, title=title, sha256=user.username.encode().hex().ljust(64, "0"),
            file=f"m/{user.username}", size_bytes=1, format="wav", duration=10.0,
        )  # fmt: skip
    with freeze_time(month_bounds(datetime.now(UTC))[0] - timedelta(days=1)):  # last month
        record_llm_usage(model="gpt-4o-mini", status="ok", user=alice, input_tokens=999_999)
    record_llm_usage(model="gpt-4o-mini", status="ok", user=alice, music=tracks["alice"], input_tokens=1200,
                     cached_tokens=1024, output_tokens=85)  # fmt: skip
    record_llm_usage(model="gpt-4o-mini", status="timeout", user=alice, music=tracks["alice"])
    record_llm_usage(model="other-model", status="ok", user=bob, music=tracks["bob"], input_tokens=500, output_tokens=5)
    record_llm_usage(model="gpt-4o-mini", status="ok", user=bob, input_tokens=10, output_tokens=10)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return {"api": client, "alice": alice, "bob": bob, "tracks": tracks}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("usage_report", *args, stdout=out)
    return out.getvalue()


def parse_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def api_rows(report: dict, by: str) -> list[dict]:
    """The API's rows as the CSV writes them (every cell a string, null as empty)."""
    return [{k: "" if row[k] is None else str(row[k]) for k in [*KEYS[by], *SUMS]} for row in report[f"by_{by}"]]


@pytest.mark.parametrize("by", ["user", "track", "model"])
def test_csv_equals_the_staff_report(usage_data, by):
    month = current_month()
    report = usage_data["api"].get("/usage/report").json()

    text = run("--since", month.since.isoformat(), "--by", by, "--csv")

    assert text.splitlines()[0] == ",".join([*KEYS[by], *SUMS])
    rows = parse_csv(text)
    assert rows == api_rows(report, by)
    assert sum(int(r["requests"]) for r in rows) == report["totals"]["requests"] == 4


def test_csv_exact_figures_by_track(usage_data):
    month = current_month()
    rows = parse_csv(
        run("--since", month.since.isoformat(), "--until", month.until.isoformat(), "--by", "track", "--csv")
    )
    t = usage_data["tracks"]
    # other-model 500*1 + 5*2 = 510e-6; alice's track 154.2e-6 + a timeout at 0; no track: 10*0.15 + 10*0.6 = 7.5e-6
    assert rows == [
        {"music_id": str(t["bob"].pk), "title": "Bob Song", "requests": "1", "failed": "0",
         "input_tokens": "500", "output_tokens": "5", "cached_tokens": "0", "cost_usd": "0.00051000"},
        {"music_id": str(t["alice"].pk), "title": 'Alice, "Live"', "requests": "2", "failed": "1",
         "input_tokens": "1200", "output_tokens": "85", "cached_tokens": "1024", "cost_usd": "0.00015420"},
        {"music_id": "", "title": "", "requests": "1", "failed": "0",
         "input_tokens": "10", "output_tokens": "10", "cached_tokens": "0", "cost_usd": "0.00000750"},
    ]  # fmt: skip


def test_table_lists_groups_and_a_total(usage_data):
    month = current_month()
    text = run("--since", month.since.isoformat(), "--by", "user")
    lines = text.splitlines()
    assert lines[0] == f"LLM usage {month.since} .. {month.until} (UTC) by user"
    assert lines[1].split() == ["user_id", "username", *SUMS]
    assert lines[3].split() == [str(usage_data["bob"].pk), "bob", "2", "0", "510", "15", "0", "0.00051750"]
    assert lines[4].split() == [str(usage_data["alice"].pk), "alice", "2", "1", "1200", "85", "1024", "0.00015420"]
    assert lines[-1].split() == ["TOTAL", "4", "1", "1710", "100", "1024", "0.00067170"]

    last_month = month_bounds(datetime.now(UTC))[0] - timedelta(days=1)
    text = run("--since", last_month.date().isoformat(), "--until", last_month.date().isoformat(), "--by", "model")
    assert text.splitlines()[-1].split() == ["TOTAL", "1", "0", "999999", "0", "0", "0.14999985"]
    empty = run("--since", "2020-01-01", "--until", "2020-01-31", "--by", "model")
    assert "(no usage in this range)" in empty
    assert empty.splitlines()[-1].split() == ["TOTAL", "0", "0", "0", "0", "0", "0.00000000"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-02-30", "--by", "user"], "--since '2026-02-30' is not a date; use YYYY-MM-DD"),
        (["--since", "2026-02-01", "--until", "soon", "--by", "user"], "--until 'soon' is not a date; use YYYY-MM-DD"),
        (["--since", "2026-02-02", "--until", "2026-02-01", "--by", "user"], "until (2026-02-01) is before since"),
        (["--since", "2025-01-01", "--until", "2026-01-02", "--by", "user"], "The range covers 367 days"),
        (["--since", "2026-02-01", "--by", "artist"], "invalid choice: 'artist'"),
        (["--by", "user"], "the following arguments are required: --since"),
    ],
)
def test_bad_input_is_a_command_error(args, message):
    with pytest.raises(CommandError) as err:
        run(*args)
    assert message in str(err.value)


# --------------------------------------------------------------------------- usage_rollup_rebuild


def test_rollup_rebuild_command_restores_the_buckets_and_says_what_changed(usage_data):
    from learning.models import LlmUsageDaily

    today = datetime.now(UTC).date()
    LlmUsageDaily.objects.filter(day=today).delete()

    out = io.StringIO()
    call_command("usage_rollup_rebuild", "--since", today.isoformat(), stdout=out)

    # alice's track (ok + timeout), bob's track (other-model), bob without a track.
    assert out.getvalue().splitlines() == [
        f"rebuilt {today} .. {today} (UTC): 3 buckets",
        "before: 0 requests, 0 failed, 0 input / 0 output / 0 cached tokens, 0.00000000 USD",
        " after: 4 requests, 1 failed, 1710 input / 100 output / 1024 cached tokens, 0.00067170 USD",
    ]
    report = usage_data["api"].get("/usage/report").json()
    assert report["totals"]["cost_usd"] == "0.00067170" and report["totals"]["requests"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-02-30"], "--since '2026-02-30' is not a date; use YYYY-MM-DD"),
        (["--since", "2026-02-02", "--until", "2026-02-01"], "--until (2026-02-01) is before --since (2026-02-02)"),
        (["--since", "2025-01-01", "--until", "2026-01-02"], "the range covers 367 days"),
    ],
)
def test_rollup_rebuild_command_refuses_bad_input(args, message):
    with pytest.raises(CommandError) as err:
        call_command("usage_rollup_rebuild", *args, stdout=io.StringIO())
    assert message in str(err.value)
