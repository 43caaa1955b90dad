"""Music domain: the artist (the owner of everything a user uploads)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Artist(models.Model):
    """An artist profile tied to exactly one user.

    Ownership of tracks, videos and jobs goes through the user; the artist row
    carries the artist-level identity used by learning centers and genre
    profiles.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="artist")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "artists"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
