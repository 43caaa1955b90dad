"""``manage.py create_artist USERNAME [--name NAME] [--password P]``: a user, an artist, a token."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from music.services import artist_create_with_user


class Command(BaseCommand):
    help = "Create an artist user (or reuse it) and print its API token."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default=None, help="artist name (defaults to the username)")
        parser.add_argument("--password", default=None, help="also allow admin/session login")
        parser.add_argument("--staff", action="store_true", help="give access to the Django admin")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        artist, token = artist_create_with_user(
            username=opts["username"], name=opts["name"], password=opts["password"], staff=opts["staff"]
        )
        self.stdout.write(token)
