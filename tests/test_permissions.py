"""Staff status alone grants nothing; the operator group (a data migration) opens the operational pages.

Given a user made by ``create_artist --staff`` and one made by ``create_artist --operator``,
when each opens django-rq's dashboard (every view, the API ones too), the jobs admin, the
Operations page and the login-attempt logs, then the plain staff user is refused everywhere
(403, and nothing operational in its admin index) and the operator gets in; anonymous users
go to the admin login.
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from jobs.models import Job
from jobs.services import job_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def operator_group(db):
    """The data migration's group, as the migration left it.

    A transactional test earlier in the run flushes every table (the group with them; Django's
    flush re-creates content types and permissions, not groups): put back exactly what the
    migration makes, from the migration's own permission list.
    """
    from importlib import import_module

    from django.contrib.auth.models import Permission

    migration = import_module("metrics.migrations.0002_operator_group")
    if not Group.objects.filter(name=migration.GROUP).exists():
        group = Group.objects.create(name=migration.GROUP)
        group.permissions.add(
            *[Permission.objects.get(content_type__app_label=a, codename=c) for a, c in migration.PERMISSIONS]
        )


OPERATOR_PERMISSIONS = {
    "django_rq.admin",
    "metrics.view_operations",
    "jobs.view_job",
    "jobs.view_jobevent",
    "learning.view_llmusage",
    "learning.view_llmusagedaily",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
}

#: Every operational page: django-rq's views (HTML and API) and the admin's.
RQ_URLS = [
    "/django-rq/",
    "/django-rq/stats.json",
    "/django-rq/metrics",
    "/django-rq/queues/0/",
    "/django-rq/queues/0/finished/",
    "/django-rq/queues/0/failed/",
    "/django-rq/workers/0/",
]
ADMIN_URLS = [
    "/admin/jobs/job/",
    "/admin/metrics/operationspage/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/learning/llmusage/",
    "/admin/django_rq/dashboard/",
]


def _create(username: str, *flags: str) -> tuple[object, str]:
    out = StringIO()
    call_command("create_artist", username, *flags, stdout=out)
    return get_user_model().objects.get(username=username), out.getvalue().strip()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rq_job(redis_conn, user):
    """A real RQ job in the heavy queue, so the dashboard has another artist's job to show."""
    from rq import Queue

    job = job_create(kind="music_analysis", owner=user, queue="heavy")
    # Straight on RQ: django-rq's queue would hold the enqueue until the test's transaction commits.
    Queue("heavy", connection=redis_conn).enqueue("jobs.runner.run_job", str(job.pk), job_id=str(job.pk))
    return job


def test_the_migration_made_the_operator_group_with_exactly_its_permissions():
    group = Group.objects.get(name="operator")
    got = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert got == OPERATOR_PERMISSIONS


def test_create_artist_staff_is_staff_only_and_operator_is_in_the_group():
    staff, token = _create("plain", "--staff")
    operator, _ = _create("ops", "--operator")
    assert staff.is_staff and not staff.groups.exists() and len(token) == 40
    assert operator.is_staff and list(operator.groups.values_list("name", flat=True)) == ["operator"]
    assert not staff.has_perm("django_rq.admin")
    assert {p for p in OPERATOR_PERMISSIONS if operator.has_perm(p)} == OPERATOR_PERMISSIONS


def test_create_artist_operator_without_the_group_fails_clearly_and_creates_nothing():
    Group.objects.filter(name="operator").delete()
    with pytest.raises(CommandError, match="operator.*migrate"):
        _create("ops", "--operator")
    assert not get_user_model().objects.filter(username="ops").exists()


def test_plain_staff_sees_no_operational_page(rq_job):
    staff, _ = _create("plain", "--staff")
    client = _client(staff)
    for url in [*RQ_URLS, f"/django-rq/queues/0/{rq_job.pk}/", *ADMIN_URLS]:
        resp = client.get(url)
        assert resp.status_code == 403, (url, resp.status_code)
        assert str(rq_job.pk) not in resp.content.decode(), url
    index = client.get("/admin/").content.decode()
    for name in ("Django-RQ", "Jobs", "Operations", "Access attempts"):
        assert f">{name}<" not in index, name


def test_plain_staff_cannot_delete_or_enqueue_through_the_dashboard(rq_job, redis_conn):
    staff, _ = _create("plain", "--staff")
    client = _client(staff)
    from rq import Queue

    queue = Queue("heavy", connection=redis_conn)
    for action in ("delete", "enqueue", "requeue"):
        assert client.post(f"/django-rq/queues/0/{rq_job.pk}/{action}/", {"post": "yes"}).status_code == 403
    assert client.post("/django-rq/queues/0/empty/", {"post": "yes"}).status_code == 403
    assert queue.job_ids == [str(rq_job.pk)]


def test_the_operator_sees_the_dashboard_and_the_admin_pages(rq_job):
    operator, _ = _create("ops", "--operator")
    client = _client(operator)
    for url in [*RQ_URLS, *ADMIN_URLS]:
        resp = client.get(url)
        expected = 302 if url == "/admin/django_rq/dashboard/" else 200
        assert resp.status_code == expected, (url, resp.status_code)
    assert client.get("/admin/django_rq/dashboard/")["Location"] == "/django-rq/"
    assert str(rq_job.pk) in client.get(f"/django-rq/queues/0/{rq_job.pk}/").content.decode()
    assert str(rq_job.pk) in client.get("/admin/jobs/job/").content.decode()
    index = client.get("/admin/").content.decode()
    for name in ("Django-RQ", "Jobs", "Operations", "Access attempts"):
        assert f">{name}<" in index, name


def test_the_operator_can_delete_an_rq_job_through_the_dashboard(rq_job, redis_conn):
    operator, _ = _create("ops", "--operator")
    from rq import Queue

    resp = _client(operator).post(f"/django-rq/queues/0/{rq_job.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert Queue("heavy", connection=redis_conn).job_ids == []
    assert Job.objects.filter(pk=rq_job.pk).exists()  # our row is the source of truth; RQ's entry went


def test_anonymous_goes_to_the_admin_login(rq_job):
    client = Client()
    for url in RQ_URLS:
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/?next=/django-rq/"), url


def test_a_non_staff_user_holding_the_permission_still_goes_to_the_login():
    user, _ = _create("artist")
    user.groups.add(Group.objects.get(name="operator"))
    resp = _client(user).get("/django-rq/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")


def test_an_unknown_rq_job_is_not_a_server_error_for_the_operator(redis_conn):
    operator, _ = _create("ops", "--operator")
    assert _client(operator).get(f"/django-rq/queues/0/{uuid.uuid4()}/").status_code in (302, 404)
