"""The admin login is throttled by django-axes: per user and per address, with a cool-off and a log line.

Given a staff user, when 15 wrong passwords are posted to the admin login from one address,
then the right password is refused too (429) and a warning names the user and the address;
the same user from another address and another user from the same address are locked out as
configured (by user *or* address), a third user from a third address logs in; the artist's API
token keeps working; once the cool-off has passed the right password is accepted again.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from fala_clip.auth import client_ip
from tests.procwatch import wait_until

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "right-horse-battery"


def _staff(username: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    return user


def _login(username: str, password: str, ip: str) -> int:
    resp = Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password})
    return resp.status_code


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.ADMIN_LOGIN_COOLOFF_S = 900
    return settings


def test_fifteen_wrong_passwords_lock_the_user_out_with_a_log_line(limits, caplog):
    _staff("admin1")
    # Given 15 wrong passwords from one address: a failed login is the form again (200) until the limit, then 429
    with caplog.at_level(logging.WARNING, logger="axes"):
        codes = [_login("admin1", f"wrong-{i}", "203.0.113.7") for i in range(15)]
    assert codes == [200] * 4 + [429] * 11
    # When the right password comes from the same address, then it is refused
    assert _login("admin1", PASSWORD, "203.0.113.7") == 429
    lockouts = [r.getMessage() for r in caplog.records if "Locking out" in r.getMessage()]
    assert len(lockouts) == 1
    assert 'username: "admin1"' in lockouts[0] and 'ip_address: "203.0.113.7"' in lockouts[0]
    # And the admin's failure log has the counted failures, the last one the lockout
    from axes.models import AccessFailureLog

    rows = list(AccessFailureLog.objects.filter(username="admin1").order_by("attempt_time", "id"))
    assert [(r.ip_address, r.locked_out) for r in rows] == [("203.0.113.7", False)] * 4 + [("203.0.113.7", True)]


def test_the_lockout_is_per_user_and_per_address_and_leaves_the_rest_alone(limits):
    _staff("admin1")
    _staff("admin2")
    _staff("admin3")
    for i in range(15):
        _login("admin1", f"wrong-{i}", "203.0.113.7")
    assert _login("admin1", PASSWORD, "198.51.100.1") == 429  # the user, from any address
    assert _login("admin2", PASSWORD, "203.0.113.7") == 429  # the address, for any user
    assert _login("admin3", PASSWORD, "192.0.2.9") == 302  # another user from another address


def test_a_locked_out_users_api_token_and_session_are_unaffected(limits, make_artist):
    user, token = make_artist("artist-admin")
    user.set_password(PASSWORD)
    user.is_staff = True
    user.save(update_fields=["password", "is_staff"])
    for i in range(6):
        _login("artist-admin", f"wrong-{i}", "203.0.113.7")
    assert _login("artist-admin", PASSWORD, "203.0.113.7") == 429
    # The API token is not a password login: django-axes is not in its way.
    assert Client().get("/music", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    # Nor is an existing session (force_login / login without a request are not HTTP logins).
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    assert Client().login(username="artist-admin", password=PASSWORD)


def test_the_lockout_ends_after_the_cool_off(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.ADMIN_LOGIN_COOLOFF_S = 2
    _staff("admin1")
    for i in range(5):
        _login("admin1", f"wrong-{i}", "203.0.113.7")
    assert _login("admin1", PASSWORD, "203.0.113.7") == 429
    # Tries during the lockout do not extend it (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off).
    wait_until(lambda: _login("admin1", PASSWORD, "203.0.113.7") == 302, timeout=60, interval=0.5)


def test_a_success_resets_the_failure_count(limits):
    _staff("admin1")
    for i in range(4):
        assert _login("admin1", f"wrong-{i}", "203.0.113.7") == 200
    assert _login("admin1", PASSWORD, "203.0.113.7") == 302
    assert [_login("admin1", f"again-{i}", "203.0.113.7") for i in range(4)] == [200] * 4


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),  # no proxy: the socket's address, the header is ignored
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a forged left part is not read
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2"),  # fewer hops than proxies: not through them
    ],
)
def test_the_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
