"""Writes for the music domain."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from music.models import Artist


@transaction.atomic
def artist_create_with_user(
    *, username: str, name: str | None = None, password: str | None = None, staff: bool = False
) -> tuple[Artist, str]:
    """Create (or reuse) the user, its artist profile and an API token."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
    elif not user.has_usable_password():
        user.set_unusable_password()
    if staff:
        user.is_staff = True
    user.save()
    artist, _ = Artist.objects.get_or_create(user=user, defaults={"name": name or username})
    token, _ = Token.objects.get_or_create(user=user)
    return artist, token.key
