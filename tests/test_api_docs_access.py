"""/api/schema/, /api/docs/ and /api/redoc/ can require a token (production's default).

Given ``API_DOCS_PUBLIC`` off (as production.py sets it), when they are opened anonymously or
with a wrong token, then 401; with an artist's API token, a logged-in session or
``Authorization: Bearer <API_DOCS_TOKEN>`` they answer 200.  Development keeps them open.
"""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DOCS = ["/api/schema/", "/api/docs/", "/api/redoc/"]


@pytest.fixture
def closed(settings):
    settings.API_DOCS_PUBLIC = False
    settings.API_DOCS_TOKEN = "docs-secret-token"
    return settings


def test_development_serves_the_docs_to_anyone():
    for url in DOCS:
        assert Client().get(url).status_code == 200, url


def test_anonymous_and_wrong_tokens_are_refused_when_closed(closed):
    for url in DOCS:
        for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token nope"}):
            resp = Client().get(url, **headers)
            assert resp.status_code == 401, (url, headers, resp.status_code)
            assert b"openapi" not in resp.content and b"/api/schema/" not in resp.content
    body = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert body["error"]["code"] == "not_authenticated"


def test_the_docs_token_opens_them(closed):
    for url in DOCS:
        resp = Client().get(url, HTTP_AUTHORIZATION="Bearer docs-secret-token")
        assert resp.status_code == 200, url
    schema = Client().get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer docs-secret-token").json()
    assert schema["info"]["title"] == "fala-clip API"


def test_without_a_configured_token_a_bearer_header_opens_nothing(closed):
    closed.API_DOCS_TOKEN = ""
    assert Client().get("/api/schema/", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_an_artists_api_token_or_session_opens_them(closed, user_and_token):
    user, token = user_and_token
    session = Client()
    session.force_login(user)
    for url in DOCS:
        assert Client().get(url, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200, url
        assert session.get(url).status_code == 200, url


def test_production_settings_close_the_docs():
    from tests.test_settings import PROD_ENV, _manage

    code = "from django.conf import settings; print(settings.API_DOCS_PUBLIC, settings.METRICS_PUBLIC)"
    proc = _manage("shell", "-c", code, env=PROD_ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False False"
