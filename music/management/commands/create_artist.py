"""``manage.py create_artist USERNAME [--name N] [--password P] [--staff] [--operator]``: a user, an artist, a token."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fala_clip.api.errors import ServiceError
from music.services import artist_create_with_user


class Command(BaseCommand):
    help = "Create an artist user (or reuse it) and print its API token."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default=None, help="artist name (defaults to the username)")
        parser.add_argument("--password", default=None, help="also allow admin/session login")
        parser.add_argument(
            "--staff", action="store_true", help="may log in to the Django admin (sees only what its permissions allow)"
        )
        parser.add_argument(
            "--operator",
            action="store_true",
            help="also in the operator group: the RQ dashboard, the jobs admin, the Operations page (implies --staff)",
        )

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        try:
            artist, token = artist_create_with_user(
                username=opts["username"],
                name=opts["name"],
                password=opts["password"],
                staff=opts["staff"],
                operator=opts["operator"],
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(token)
