"""Every error is ``{"error": {"code", "message", "details"}}`` — DEBUG on and off, through the
real middleware chain — and a 500 logs its traceback without putting settings in the body."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from jobs.models import Job
from music.models import MusicAsset
from video.models import VideoIngest

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def client(user_and_token):
    """A plain Django test client (the whole middleware chain) with alice's token."""
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {user_and_token[1]}")


@pytest.fixture(autouse=True)
def _media(isolated_media):
    return isolated_media


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.content[:500]
    assert resp["Content-Type"] == "application/json"
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def _nothing_created(settings) -> None:
    assert (MusicAsset.objects.count(), VideoIngest.objects.count(), Job.objects.count()) == (0, 0, 0)
    root = Path(settings.MEDIA_ROOT)
    assert not root.exists() or [p for p in root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("path", ["/nope", "/jobs/", "/api/schema/extra", "/static/nothing-here.css"])
def test_unknown_route_is_json_404(debug, client, path):
    _error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/jobs/abc", "/music/not-a-uuid", "/music/1/analysis", "/videos/x/suggestions", "/renders/abc/download"]
)
def test_malformed_id_is_json_404(debug, client, path):
    _error(client.get(path), 404, "not_found")


def test_unauthenticated_unknown_route_is_json_404(debug):
    _error(Client(raise_request_exception=False).get("/jobs/abc"), 404, "not_found")


@pytest.mark.parametrize("method,path", [("delete", "/jobs"), ("put", "/music"), ("patch", "/videos")])
def test_method_not_allowed_is_json_405_with_allow(debug, client, method, path):
    resp = getattr(client, method)(path)
    _error(resp, 405, "method_not_allowed")
    assert "GET" in resp["Allow"]


def test_oversize_json_body_is_413_unread_and_nothing_created(debug, client, settings):
    settings.API_MAX_JSON_BYTES = 1000
    body = '{"source_url": "https://example.com/' + "a" * 2000 + '.mp4"}'
    error = _error(client.post("/videos", body, content_type="application/json"), 413, "too_large")
    assert error["details"] == {"max_bytes": 1000, "size": len(body)}
    _nothing_created(settings)


def test_json_body_under_the_cap_is_processed(debug, client, settings):
    """The cap does not refuse normal bodies: this one reaches the view (its URL is refused there)."""
    settings.API_MAX_JSON_BYTES = 1000
    resp = client.post("/videos", {"source_url": "ftp://example.com/a.mp4"}, content_type="application/json")
    _error(resp, 400, "unsupported_scheme")


def test_oversize_form_body_is_413(debug, client, settings):
    settings.API_MAX_JSON_BYTES = 1000
    body = "source_url=https://example.com/" + "a" * 2000
    resp = client.post("/videos", body, content_type="application/x-www-form-urlencoded")
    _error(resp, 413, "too_large")
    _nothing_created(settings)


def test_multipart_field_over_the_memory_cap_is_413_not_an_html_400(debug, client, settings):
    """Given a multipart title bigger than DATA_UPLOAD_MAX_MEMORY_SIZE, then 413 JSON and nothing stored."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    resp = client.post("/music", {"title": "t" * 5000, "file": SimpleUploadedFile("a.wav", b"RIFF" + b"\0" * 100)})
    error = _error(resp, 413, "too_large")
    assert error["details"] == {"max_bytes": 2000}
    _nothing_created(settings)


def test_multipart_body_over_max_upload_bytes_is_413_before_reading(debug, client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAX_UPLOAD_BYTES = 5000
    resp = client.post("/videos", {"file": SimpleUploadedFile("a.mp4", b"\0" * 10_000)})
    assert _error(resp, 413, "too_large")["details"]["max_bytes"] == 5000
    _nothing_created(settings)


def test_server_error_is_json_logged_with_traceback_and_leaks_nothing(debug, client, monkeypatch, caplog):
    """Given a selector that fails unexpectedly, then 500 server_error in JSON; the traceback is
    logged (exc_info) and the body carries neither settings, paths nor the exception text."""
    import jobs.selectors

    secret = f"boom at {django_settings.BASE_DIR} with {django_settings.DATABASES['default']['NAME']}"

    def broken(**kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(jobs.selectors, "job_list", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        resp = client.get("/jobs")
    error = _error(resp, 500, "server_error")
    assert error["details"] == {}
    text = resp.content.decode()
    for leak in ("DATABASES", "REDIS", "SECRET_KEY", "Traceback", "boom", str(django_settings.BASE_DIR), "/work/"):
        assert leak not in text
    records = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert len(records) == 1 and records[0].exc_info is not None
    assert records[0].exc_info[0] is RuntimeError and str(records[0].exc_info[1]) == secret


def test_admin_and_docs_pages_stay_html(debug, client, settings):
    resp = client.get("/admin/login/")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/html")
    resp = client.get("/api/docs/")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/html")


def test_admin_404_stays_an_html_page(debug, make_artist):
    user, _ = make_artist("staffer")
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client = Client(raise_request_exception=False)
    client.force_login(user)
    resp = client.get("/admin/nope/")
    assert resp.status_code == 404
    assert resp["Content-Type"].startswith("text/html") and b'"error"' not in resp.content


@pytest.mark.parametrize(
    "query",
    [
        "page_size=-0.99",
        "page_size=0",
        "page_size=101",
        "page=0",
        "page=abc",
        "page_size=1.5",
        "page=-1",
        "page_size=",
        "page=",
    ],
)
def test_bad_page_parameters_are_400_naming_the_parameter(debug, client, query):
    name = query.split("=")[0]
    for path in ("/jobs", "/music", "/videos"):
        error = _error(client.get(f"{path}?{query}"), 400, "invalid")
        assert list(error["details"]) == [name]


def test_page_past_the_end_is_404_and_pages_have_the_documented_envelope(debug, client):
    body = client.get("/jobs?page=1&page_size=5").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    _error(client.get("/jobs?page=2"), 404, "not_found")


def test_empty_status_filter_is_400_but_empty_free_text_is_allowed(debug, client):
    assert list(_error(client.get("/jobs?status="), 400, "invalid")["details"]) == ["status"]
    assert client.get("/jobs?kind=").json()["count"] == 0
