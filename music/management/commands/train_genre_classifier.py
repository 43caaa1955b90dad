"""``manage.py train_genre_classifier``: retrain on the catalogue's declared genres."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from music.services import genre_classifier_train


class Command(BaseCommand):
    help = "Train the genre classifier on the audio embeddings of every track with a declared genre."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--force", action="store_true", help="train even if the catalogue did not change")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        v = genre_classifier_train(force=opts["force"])
        genres = ", ".join(v.genres) or "none (not enough labelled tracks: predictions are 'unknown')"
        self.stdout.write(f"classifier {v.pk}: {v.n_samples} tracks; genres: {genres}; {v.method}")
