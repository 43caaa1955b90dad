"""Security headers on every kind of response: admin pages, API docs, JSON answers, JSON errors.

The policy itself is checked in a real browser by ``tests/e2e/test_browser.py`` (the admin
styled, Swagger UI and ReDoc rendering their operations under it).
"""

from __future__ import annotations

import pytest

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self' 'sha256-1kZe1KRxelr3ptMPsod17Z6BDvbtm4WcufgsZGvsErM='",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "worker-src": "'self' blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _csp(response) -> dict[str, str]:
    return {
        d.split(" ", 1)[0]: d.split(" ", 1)[1]
        for d in (part.strip() for part in response["Content-Security-Policy"].split(";"))
        if d
    }


def _assert_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert _csp(response) == EXPECTED_CSP


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path,status,content_type",
    [
        ("/admin/login/", 200, "text/html"),
        ("/api/docs/", 200, "text/html"),
        ("/api/docs/?script=", 200, "application/javascript"),
        ("/api/redoc/", 200, "text/html"),
        ("/no-such-page", 404, "application/json"),  # the URL resolver's 404, rewritten to JSON
        ("/jobs/not-a-uuid", 404, "application/json"),
        ("/jobs", 401, "application/json"),  # DRF's own JSON error (no token)
    ],
)
def test_headers_on_pages_and_errors(client, path, status, content_type):
    response = client.get(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith(content_type)
    _assert_headers(response)


@pytest.mark.django_db
def test_headers_on_an_api_json_answer(api):
    response = api.get("/jobs")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    _assert_headers(response)


@pytest.mark.django_db
def test_docs_pages_run_no_inline_script(client):
    """Every script of the docs pages comes from this origin by URL (the CSP allows no inline one)."""
    import re

    for path in ("/api/docs/", "/api/redoc/"):
        html = client.get(path).content.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts), (path, scripts)
