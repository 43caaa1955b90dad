"""Who may see the operational surfaces, and the throttled admin login.

Staff status alone grants nothing here: ``is_staff`` only lets a user through the admin's
login.  The operational pages (django-rq's dashboard, the jobs admin, the Operations page,
the login-attempt logs) each need an explicit permission, and the ``operator`` group
(created by ``metrics/migrations/0002_operator_group.py``; ``manage.py create_artist
--operator`` puts a user in it) holds them all.  Permission strings only: this module is
infrastructure and imports no app.

The admin login is throttled by django-axes (per user and per address, with a cool-off);
:class:`LoginThrottleBackend` is its backend, and :func:`client_ip` tells it which address
a request came from behind the configured number of reverse proxies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

log = logging.getLogger(__name__)

#: The group that holds every operational permission (made by a data migration).
OPERATOR_GROUP = "operator"
#: django-rq's own permission ("Access admin page" on its Dashboard model): the dashboard
#: at /django-rq/ and its link in the admin index.
RQ_DASHBOARD_PERMISSION = "django_rq.admin"


def operator_view(view: Callable[..., HttpResponse], permission: str) -> Callable[..., HttpResponse]:
    """``view`` only for an active staff user holding ``permission``.

    Anonymous (or non-staff) users go to the admin login, like every admin page; a staff user
    without the permission gets 403.  django-rq's views check only ``is_staff`` themselves.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not user.has_perm(permission):
            log.warning("refused %s to staff user %s: lacks %s", request.path, user.pk, permission)
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins that come with a request.

    Every HTTP login passes the request (the admin's login form, DRF's authentication), so
    every login an attacker can reach is throttled.  ``authenticate()`` without a request is
    not an HTTP login (the test client's ``login()``, a shell): there is no address to
    throttle, and django-axes' own backend would refuse it outright, so this one lets the
    next backend decide.
    """

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)  # type: ignore[no-any-return]


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost trusted proxy saw (counted from the right of ``X-Forwarded-For``,
    the part a client cannot forge)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(settings.TRUSTED_PROXY_COUNT)
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    if len(hops) < proxies:
        return remote  # not through the proxies we were told about: trust only the socket
    return hops[-proxies]


def cooloff(request: HttpRequest | None = None) -> timedelta:
    """django-axes' cool-off, read at each login from ``ADMIN_LOGIN_COOLOFF_S``."""
    return timedelta(seconds=int(settings.ADMIN_LOGIN_COOLOFF_S))
