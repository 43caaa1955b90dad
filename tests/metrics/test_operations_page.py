"""The admin's Operations page: jobs over SLA, recent failures by code, LLM cost per artist and
track this month — exact rows, bounded queries, its own permission, and (in a real headless
Chromium against gunicorn, DEBUG off, collected static files) the admin's styling."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, JobStatus
from learning.models import LlmUsage
from metrics.selectors_ops import month_start
from music.models import MusicAsset
from tests.procwatch import wait_until

URL = "/admin/metrics/operationspage/"
PASSWORD = "ops-page-password-1"

try:  # the browser check reuses the e2e setup; that module skips itself without Chromium
    from tests.e2e.test_browser import (  # noqa: F401 - fixtures
        ADMIN_HEADER_BG,
        assert_only_loopback,
        browser,
        live_url,
        page,
        requested_urls,
        server_env,
        wait_for,
    )

    HAVE_BROWSER = True
except pytest.skip.Exception:
    HAVE_BROWSER = False


def _perm() -> Permission:
    return Permission.objects.get(codename="view_operations", content_type__app_label="metrics")


def _staff(username: str, *, allowed: bool, password: str | None = None) -> User:
    user = User.objects.create_user(username, password=password, is_staff=True)
    if allowed:
        user.user_permissions.add(_perm())
    return user


def _job(owner, *, status=JobStatus.QUEUED, age: timedelta, **fields) -> Job:
    now = timezone.now()
    job = Job.objects.create(kind="clip_pipeline", owner=owner, status=status, **fields)
    # created_at is auto_now_add: move it back the way a real age would have it
    Job.objects.filter(pk=job.pk).update(created_at=now - age, queued_at=now - age)
    job.refresh_from_db()
    return job


def _failed(owner, code: str, *, ago: timedelta, message: str = "") -> Job:
    now = timezone.now()
    return _job(
        owner,
        status=JobStatus.FAILED,
        age=ago + timedelta(minutes=1),
        error_code=code,
        error_message=message or f"{code} happened",
        failed_at=now - ago,
    )


def _track(user, title: str) -> MusicAsset:
    return MusicAsset.objects.create(
        owner=user,
        artist=user.artist,
        title=title,
        sha256=title.ljust(64, "0")[:64],
        file=f"music/{title}.wav",
        size_bytes=1000,
        format="wav",
        duration=10.0,
    )


def _usage(user, music, cost: str, *, tokens=(100, 20, 0), created_at=None) -> LlmUsage:
    # Rows are append-only (no update): an older row is created with the clock set back.
    with mock.patch("django.utils.timezone.now", return_value=created_at or timezone.now()):
        return LlmUsage.objects.create(
            user=user,
            music=music,
            model="gpt-4o-mini",
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cached_tokens=tokens[2],
            cost_usd=Decimal(cost),
        )


@pytest.fixture
def seeded(make_artist, settings):
    """Two artists, three tracks; jobs around the SLA; failures with two codes; LLM usage."""
    settings.JOB_SLA_S = 900
    amy, _ = make_artist("amy")
    ben, _ = make_artist("ben")
    late = _job(amy, age=timedelta(minutes=20), stage="decode")
    _job(ben, age=timedelta(minutes=5))  # queued, within the SLA
    _job(ben, status=JobStatus.DONE, age=timedelta(hours=2))  # old but finished
    # failures: ffmpeg_failed 3x in the last 24 h; worker_lost 1x in 24 h + 2x three days ago;
    # one 10 days ago (outside both windows)
    ff = [_failed(amy, "ffmpeg_failed", ago=timedelta(hours=h)) for h in (3, 1, 2)]
    _failed(ben, "worker_lost", ago=timedelta(hours=5), message="The worker running this job died: horse 42")
    _failed(ben, "worker_lost", ago=timedelta(days=3))
    _failed(ben, "worker_lost", ago=timedelta(days=3, hours=1))
    _failed(ben, "ffmpeg_failed", ago=timedelta(days=10))
    # LLM usage this month, and one row of last month (not counted)
    t1, t2, t3 = _track(amy, "amy-one"), _track(amy, "amy-two"), _track(ben, "ben-one")
    _usage(amy, t1, "0.00123456", tokens=(1000, 200, 50))
    _usage(amy, t1, "0.00200000", tokens=(500, 100, 0))
    _usage(amy, t2, "0.50000000", tokens=(3000, 400, 0))
    _usage(ben, t3, "0.25000000", tokens=(2000, 300, 100))
    _usage(ben, None, "0.01000000", tokens=(10, 5, 0))  # artist-level feedback: no track
    _usage(amy, t2, "9.99000000", created_at=month_start() - timedelta(days=1))
    return {"amy": amy, "ben": ben, "late": late, "ff_latest": ff[1], "tracks": (t1, t2, t3)}


# --- what the page shows ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_lists_exactly_the_over_sla_job_the_failure_counts_and_the_costs(client, seeded):
    client.force_login(_staff("ops", allowed=True))
    resp = client.get(URL)
    assert resp.status_code == 200
    html = resp.content.decode()
    ctx = resp.context

    # jobs over SLA: only the one queued 20 min ago, with owner, kind, status, stage, age and a link
    late = seeded["late"]
    assert ctx["over_sla_total"] == 1
    assert [row["job"].pk for row in ctx["over_sla"]] == [late.pk]
    assert ctx["over_sla"][0]["age"] == "20 min"
    assert html.count('class="over-sla-job"') == 1
    assert reverse("admin:jobs_job_change", args=[late.pk]) in html
    row = html.split('class="over-sla-job"')[1].split("</tr>")[0]
    for text in ("amy", "clip_pipeline", "queued", "decode", "20 min"):
        assert f"<td>{text}</td>" in row or f'class="age">{text}<' in row, (text, row)

    # failures by code: exact counts per window, the latest example of each
    failures = {w: [(g.error_code, g.count) for g in groups] for w, groups in ctx["failures"].items()}
    assert failures == {
        "24 h": [("ffmpeg_failed", 3), ("worker_lost", 1)],
        "7 d": [("ffmpeg_failed", 3), ("worker_lost", 3)],
    }
    examples = {(w, g.error_code): g.example.pk for w, groups in ctx["failures"].items() for g in groups}
    assert examples[("24 h", "ffmpeg_failed")] == seeded["ff_latest"].pk  # the one an hour ago
    assert "The worker running this job died: horse 42" in html
    assert reverse("admin:jobs_job_change", args=[seeded["ff_latest"].pk]) in html

    # LLM cost this month: exact sums per artist and per track (last month's 9.99 not counted)
    costs = ctx["costs"]
    amy, ben = seeded["amy"], seeded["ben"]
    assert [(r["user_id"], r["user__artist__name"], r["cost_usd"], r["requests"]) for r in costs["artists"]] == [
        (amy.pk, "amy", Decimal("0.50323456"), 3),
        (ben.pk, "ben", Decimal("0.26000000"), 2),
    ]
    assert (costs["artists"][0]["input_tokens"], costs["artists"][0]["output_tokens"]) == (4500, 700)
    assert costs["artists"][0]["cached_tokens"] == 50
    t1, t2, t3 = seeded["tracks"]
    assert [(r["music_id"], r["cost_usd"], r["requests"]) for r in costs["tracks"]] == [
        (t2.pk, Decimal("0.50000000"), 1),
        (t3.pk, Decimal("0.25000000"), 1),
        (t1.pk, Decimal("0.00323456"), 2),
    ]
    assert (costs["totals"]["cost_usd"], costs["totals"]["requests"]) == (Decimal("0.76323456"), 5)
    for text in ("0.50323456", "0.26000000", "0.00323456", "0.76323456", "amy-two", "ben-one"):
        assert text in html, text
    assert "9.99" not in html


@pytest.mark.django_db
def test_an_empty_page_says_so(client, settings):
    client.force_login(_staff("ops", allowed=True))
    html = client.get(URL).content.decode()
    assert "No job is over the SLA." in html and "No failures." in html and "No LLM requests this month." in html


@pytest.mark.django_db
def test_the_sla_follows_the_setting(client, seeded, settings):
    settings.JOB_SLA_S = 60  # now the job queued 5 min ago is late too
    client.force_login(_staff("ops", allowed=True))
    assert client.get(URL).context["over_sla_total"] == 2


@pytest.mark.django_db
def test_queries_are_bounded_whatever_the_number_of_rows(client, seeded, make_artist, django_assert_max_num_queries):
    client.force_login(_staff("ops", allowed=True))
    with django_assert_max_num_queries(14):
        assert client.get(URL).status_code == 200
    with CaptureQueriesContext(connection) as before:
        client.get(URL)
    # Given many more late jobs, failures, artists and tracks (each with its own owner)
    for i in range(8):
        user, _ = make_artist(f"more{i}")
        _job(user, age=timedelta(minutes=30 + i))
        _failed(user, f"code_{i}", ago=timedelta(hours=i + 1))
        _usage(user, _track(user, f"more-{i}"), "0.01")
    with CaptureQueriesContext(connection) as after:
        resp = client.get(URL)
    assert resp.context["over_sla_total"] == 9 and len(resp.context["costs"]["artists"]) == 10
    # Then the page costs the same number of queries (no query per row)
    assert len(after.captured_queries) == len(before.captured_queries)


# --- who may see it ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_index_lists_the_page_for_a_user_with_the_permission_only(client):
    client.force_login(_staff("ops", allowed=True))
    index = client.get("/admin/").content.decode()
    assert f'href="{URL}"' in index and "Operations" in index
    client.force_login(_staff("plain-staff", allowed=False))
    index = client.get("/admin/").content.decode()
    assert URL not in index


@pytest.mark.django_db
def test_staff_without_the_permission_is_refused(client, seeded):
    client.force_login(_staff("plain-staff", allowed=False))
    resp = client.get(URL)
    assert resp.status_code == 403
    assert b"amy" not in resp.content


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login(client):
    resp = client.get(URL)
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/login/?next={URL}"


@pytest.mark.django_db
def test_a_non_staff_user_with_the_permission_is_sent_to_the_login(client):
    artist = User.objects.create_user("not-staff")
    artist.user_permissions.add(_perm())
    client.force_login(artist)
    resp = client.get(URL)
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_a_superuser_sees_it_and_nothing_else_is_routed(admin_client):
    assert admin_client.get(URL).status_code == 200
    # read-only: the proxy's add/change/delete pages do not exist
    assert admin_client.get(URL + "add/").status_code == 404
    assert admin_client.post(URL, {}).status_code in (200, 405)
    assert Job.objects.count() == 0


# --- in a real browser -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_BROWSER, reason="needs Debian's chromium and chromium-driver (see tests/e2e)")
def test_a_manager_logs_in_and_sees_the_three_sections_styled_by_the_admin_css(
    page, live_url, server_env, transactional_db
):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    from music.services import artist_create_with_user

    # Given a staff user with the permission (hashed with a hasher of the served settings)
    # and a late job of an artist
    hasher = PBKDF2PasswordHasher()
    password = hasher.encode(PASSWORD, hasher.salt())
    manager = User.objects.create(username="ops-manager", password=password, is_staff=True)
    manager.user_permissions.add(_perm())
    artist, _ = artist_create_with_user(username="artist-late")
    late = _job(artist.user, age=timedelta(minutes=25))
    # When the manager logs in through the admin's form and opens the index
    page.get(f"{live_url}/admin/login/?next=/admin/")
    page.find_element(By.ID, "id_username").send_keys("ops-manager")
    page.find_element(By.ID, "id_password").send_keys(PASSWORD)
    page.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    link = wait_for(page, ec.presence_of_element_located((By.CSS_SELECTOR, f'a[href="{URL}"]')), "the page's link")
    # Then the index links to the page, and the page shows its three sections
    link.click()
    wait_for(page, ec.presence_of_element_located((By.ID, "llm-cost")), "the operations page")
    assert urlsplit(page.current_url).path == URL
    sections = page.find_elements(By.CSS_SELECTOR, "#content-main > .module")
    assert [s.get_attribute("id") for s in sections] == ["over-sla", "failures", "llm-cost"]
    # styled by the admin's collected CSS: the header and each section's title bar
    header_bg = page.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header_bg == ADMIN_HEADER_BG
    for section in sections:
        h2 = section.find_element(By.TAG_NAME, "h2")
        assert page.execute_script("return getComputedStyle(arguments[0]).backgroundColor", h2) == ADMIN_HEADER_BG
    rows = page.find_elements(By.CSS_SELECTOR, "#over-sla tr.over-sla-job")
    assert [r.get_attribute("data-job") for r in rows] == [str(late.pk)]
    assert "artist-late" in rows[0].text and "25 min" in rows[0].text
    entries = page.get_log("performance")
    assert_only_loopback(requested_urls(_Replay(entries)), live_url)
    # and gunicorn logged the page view as one JSON access line carrying the X-Request-ID the
    # browser received, and the manager's user id
    (rid,) = {
        {k.lower(): v for k, v in m["params"]["response"]["headers"].items()}.get("x-request-id")
        for m in (json.loads(e["message"])["message"] for e in entries)
        if m["method"] == "Network.responseReceived" and urlsplit(m["params"]["response"]["url"]).path == URL
    }
    gunicorn_log = Path(server_env["STATIC_ROOT"]).parent / "gunicorn.log"
    assert wait_until(lambda: f'"request_id": "{rid}"' in gunicorn_log.read_text(), timeout=10), rid
    access = [
        json.loads(line)
        for line in gunicorn_log.read_text().splitlines()
        if line.startswith("{") and f'"request_id": "{rid}"' in line
    ]
    assert [(a["logger"], a["method"], a["path"], a["status"], a["user_id"]) for a in access] == [
        ("fala_clip.access", "GET", URL, 200, manager.pk)
    ]


class _Replay:
    """Hands already-read performance-log entries to a helper that reads them from the browser."""

    def __init__(self, entries: list[dict]):
        self.entries = entries

    def get_log(self, kind: str) -> list[dict]:
        return self.entries
