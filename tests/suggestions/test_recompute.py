"""Recompute suggestions from stored analyses, with the profile interface the learning centers plug into."""

from __future__ import annotations

import pytest
from django.test import override_settings

from suggestions.engine import ProfileLayer
from suggestions.engine.synthetic import synthetic_video
from suggestions.models import SuggestionSet
from video.models import VideoIngest
from video.services import video_analysis_save

pytestmark = pytest.mark.django_db

CALLS: list[dict] = []


def artist_layer_provider(*, owner, music, genre):
    """A stand-in for the learning centers: an artist layer that loves speech, a paused one."""
    CALLS.append({"owner": owner.pk, "genre": genre})
    return [
        ProfileLayer("artist", f"artist-{owner.pk}", 3, weights={"speech": 10.0, "motion": 0.0}),
        ProfileLayer("track", "paused-one", 1, weights={"motion": 10.0}, paused=True),
    ]


@pytest.fixture
def analysed_ingest(user):
    video = synthetic_video(
        120.0, fps=30.0, seed=3,
        peaks=[(20.0, 8.0, {"motion": 0.95, "audio_energy": 0.9}), (80.0, 10.0, {"speech": 1.0})],
    )  # fmt: skip
    analysis = video_analysis_save(owner=user, sha256="c" * 64, result=video)
    return VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256="c" * 64, file="x", analysis=analysis,
        options={"target_length_s": 15.0, "allow_experimental": False},
    )  # fmt: skip


def test_recompute_is_deterministic_and_replaces_the_current_set(api, analysed_ingest):
    first = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    second = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    strip = lambda s: [{k: v for k, v in c.items() if k != "id"} for c in s["clip_models"]]  # noqa: E731
    assert strip(first) == strip(second) and len(first["clip_models"]) == 2
    assert SuggestionSet.objects.filter(ingest=analysed_ingest).count() == 2
    assert SuggestionSet.objects.filter(ingest=analysed_ingest, is_current=True).get().pk == second["id"]
    assert api.get(f"/videos/{analysed_ingest.pk}/suggestions").json()["id"] == second["id"]
    assert first["profile_sources"] == [{"kind": "baseline", "id": "builtin", "version": 1, "experimental": False}]


def test_a_profile_layer_changes_the_ranking_and_is_recorded(api, analysed_ingest, user):
    base = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    highlight = next(c for c in base["clip_models"] if c["template"] == "highlight")
    assert highlight["start"] < 40  # the motion/energy peak at 20 s
    with override_settings(PROFILE_LAYER_PROVIDERS=["tests.suggestions.test_recompute.artist_layer_provider"]):
        learned = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    highlight = next(c for c in learned["clip_models"] if c["template"] == "highlight")
    assert 60 <= highlight["start"] <= 90  # now the speech peak at 80 s
    assert highlight["breakdown"].get("motion", 0.0) == 0.0
    kinds = [(s["kind"], s["id"], s["version"]) for s in learned["profile_sources"]]
    assert kinds == [("baseline", "builtin", 1), ("artist", f"artist-{user.pk}", 3)]
    assert [s["id"] for s in learned["profile"]["skipped"]] == ["paused-one"]
    assert CALLS[-1] == {"owner": user.pk, "genre": ""}
