"""GET /jobs and GET /jobs/{id}: owner scoping, auth, pagination, filters."""

from __future__ import annotations

import uuid

import pytest

from jobs import services
from jobs.models import JobStatus

pytestmark = pytest.mark.django_db


def test_job_detail_returns_status_progress_and_events(api, user):
    job = services.job_create(owner=user, kind="clip_pipeline")
    job = services.job_transition(job=job, to=JobStatus.ANALYZING)
    services.job_set_stage(job=job, stage="probing")
    services.job_set_progress(job=job, percent=12.5)
    resp = api.get(f"/jobs/{job.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == str(job.pk)
    assert (body["status"], body["stage"], body["progress"]) == ("analyzing", "probing", {"percent": 12.5})
    assert body["timestamps"]["queued"] and body["timestamps"]["analyzing"]
    assert body["timestamps"]["done"] is None
    assert body["error"] is None
    assert [(e["type"], e["to_status"], e["stage"]) for e in body["events"]] == [
        ("transition", "queued", ""),
        ("transition", "analyzing", ""),
        ("stage", "", "probing"),
    ]


def test_failed_job_shows_error_code_and_message(api, user):
    job = services.job_transition(job=services.job_create(owner=user, kind="clip_pipeline"), to=JobStatus.ANALYZING)
    services.job_fail(job=job, code="corrupt_media", message="no video stream")
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["status"] == "failed"
    assert body["error"] == {"code": "corrupt_media", "message": "no video stream"}


def test_other_users_job_is_404(api, other_user):
    job = services.job_create(owner=other_user, kind="clip_pipeline")
    resp = api.get(f"/jobs/{job.pk}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert api.get(f"/jobs/{uuid.uuid4()}").status_code == 404


def test_no_token_is_401(anon_api, user):
    job = services.job_create(owner=user, kind="clip_pipeline")
    for url in (f"/jobs/{job.pk}", "/jobs"):
        resp = anon_api.get(url)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "not_authenticated"


def test_bad_token_is_401(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Token nope")
    resp = anon_api.get("/jobs")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "authentication_failed"


def test_list_is_owner_scoped_paginated_and_filtered(api, user, other_user):
    mine = [services.job_create(owner=user, kind="clip_pipeline") for _ in range(5)]
    services.job_create(owner=other_user, kind="clip_pipeline")
    failed = services.job_fail(job=services.job_transition(job=mine[0], to=JobStatus.ANALYZING), code="x", message="y")

    page1 = api.get("/jobs?page_size=2").json()
    assert page1["count"] == 5
    assert len(page1["results"]) == 2 and page1["next"] and page1["previous"] is None
    all_ids = []
    url = "/jobs?page_size=2"
    while url:
        body = api.get(url).json()
        all_ids += [r["id"] for r in body["results"]]
        url = body["next"]
    assert sorted(all_ids) == sorted(str(j.pk) for j in mine)

    only_failed = api.get("/jobs?status=failed").json()
    assert [r["id"] for r in only_failed["results"]] == [str(failed.pk)]
    assert api.get("/jobs?status=queued").json()["count"] == 4

    bad = api.get("/jobs?status=nonsense")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert "status" in bad.json()["error"]["details"]


def test_openapi_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/jobs" in paths and "/jobs/{job_id}" in paths
    assert api.get("/api/docs/").status_code == 200


def test_create_artist_command_prints_a_working_token(anon_api):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_artist", "carol", "--name", "Carol", stdout=out)
    token = out.getvalue().strip()
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anon_api.get("/jobs").status_code == 200
