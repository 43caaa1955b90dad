"""Recompute suggestions from stored analyses, with the profile interface the learning centers plug into."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from jobs.models import Job
from rendering.models import RenderedVariant
from suggestions.engine import ProfileLayer
from suggestions.models import ClipModel, SuggestionSet
from suggestions.services import suggestions_recompute
from tests.suggestions.engine.synthetic import synthetic_video
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


def test_recompute_with_unchanged_inputs_returns_the_current_set_and_stores_nothing(api, analysed_ingest):
    first = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    rows = (SuggestionSet.objects.count(), ClipModel.objects.count())
    second = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    assert second == first and len(first["clip_models"]) == 2
    assert (SuggestionSet.objects.count(), ClipModel.objects.count()) == rows == (1, 2)
    assert api.get(f"/videos/{analysed_ingest.pk}/suggestions").json()["id"] == first["id"]
    assert first["profile_sources"] == [{"kind": "baseline", "id": "builtin", "version": 1, "experimental": False}]


def test_a_changed_profile_makes_a_new_current_set_with_the_same_clips_for_the_same_weights(api, analysed_ingest):
    base = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    with override_settings(PROFILE_LAYER_PROVIDERS=["tests.suggestions.test_recompute.alternating_provider"]):
        _ALTERNATE["speech"] = True
        learned = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
        _ALTERNATE["speech"] = False
        back = api.post(f"/videos/{analysed_ingest.pk}/suggestions/recompute").json()
    assert len({base["id"], learned["id"], back["id"]}) == 3
    assert SuggestionSet.objects.filter(ingest=analysed_ingest, is_current=True).get().pk == back["id"]
    strip = lambda s: [{k: v for k, v in c.items() if k != "id"} for c in s["clip_models"]]  # noqa: E731
    # deterministic: the same weights give the same clips
    assert strip(back) == strip(_recompute_with_weights(analysed_ingest, speech=False))


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


_ALTERNATE = {"speech": False}


def alternating_provider(*, owner, music, genre):
    """An artist center whose active version flips between two snapshots (speech-loving or motion-loving)."""
    if _ALTERNATE["speech"]:
        return [ProfileLayer("artist", f"artist-{owner.pk}", 2, weights={"speech": 10.0, "motion": 0.0})]
    return [ProfileLayer("artist", f"artist-{owner.pk}", 1, weights={"motion": 10.0})]


def _recompute_with_weights(ingest, *, speech: bool) -> dict:
    from suggestions.serializers import SuggestionSetSerializer

    with override_settings(PROFILE_LAYER_PROVIDERS=["tests.suggestions.test_recompute.alternating_provider"]):
        _ALTERNATE["speech"] = speech
        return SuggestionSetSerializer(suggestions_recompute(ingest=VideoIngest.objects.get(pk=ingest.pk))).data


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters():
    """Rate-limit counters live in the shared cache: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_recomputes_alternating_two_profiles_keep_a_bounded_history(analysed_ingest, settings, user):
    settings.SUGGESTION_HISTORY_KEEP = 10
    # Given a set the pipeline stored for a job, and one whose clip was rendered
    job = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=analysed_ingest)
    job_set = SuggestionSet.objects.create(ingest=analysed_ingest, job=job, features_version="1", is_current=False)
    rendered_set = SuggestionSet.objects.create(ingest=analysed_ingest, features_version="1", is_current=False)
    clip = ClipModel.objects.create(
        suggestion_set=rendered_set, ingest=analysed_ingest, template="highlight", rank=1, start=0, end=15,
        duration=15, score=1,
    )  # fmt: skip
    RenderedVariant.objects.create(ingest=analysed_ingest, job=job, clip_model=clip, index=1, status="done")
    # When the profile flips 30 times, a recompute after each flip
    ids = [_recompute_with_weights(analysed_ingest, speech=i % 2 == 1)["id"] for i in range(30)]
    # Then every recompute made a new set, but only the current one + 10 history rows remain,
    # besides the two that a job and a render point at
    assert len(set(ids)) == 30
    recompute_sets = SuggestionSet.objects.filter(ingest=analysed_ingest).exclude(pk__in=[job_set.pk, rendered_set.pk])
    assert sorted(recompute_sets.values_list("pk", flat=True)) == sorted(ids[-11:])
    assert SuggestionSet.objects.filter(ingest=analysed_ingest).count() == 10 + 1 + 2
    assert SuggestionSet.objects.get(ingest=analysed_ingest, is_current=True).pk == ids[-1]
    assert ClipModel.objects.filter(suggestion_set_id__in=ids[:-11]).count() == 0
    assert RenderedVariant.objects.filter(clip_model=clip).exists()


def test_the_database_refuses_a_second_current_set_for_a_video(analysed_ingest):
    SuggestionSet.objects.create(ingest=analysed_ingest, features_version="1", is_current=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        SuggestionSet.objects.create(ingest=analysed_ingest, features_version="1", is_current=True)
    SuggestionSet.objects.create(ingest=analysed_ingest, features_version="1", is_current=False)
    assert SuggestionSet.objects.filter(ingest=analysed_ingest).count() == 2


_THREAD = threading.local()
_BARRIER: list[threading.Barrier] = []


def racing_provider(*, owner, music, genre):
    """Both recomputes reach the engine together, each with its own artist center version."""
    _BARRIER[0].wait(timeout=30)
    return [ProfileLayer("artist", f"artist-{owner.pk}", _THREAD.version, weights={"speech": float(_THREAD.version)})]


@pytest.mark.django_db(transaction=True)
@override_settings(PROFILE_LAYER_PROVIDERS=["tests.suggestions.test_recompute.racing_provider"])
def test_concurrent_recomputes_leave_exactly_one_current_set(analysed_ingest):
    from django.db import connection

    errors: list[BaseException] = []

    def recompute(version: int) -> None:
        _THREAD.version = version
        try:
            suggestions_recompute(ingest=VideoIngest.objects.select_related("analysis").get(pk=analysed_ingest.pk))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    for round_ in range(3):
        _BARRIER[:] = [threading.Barrier(2)]
        threads = [threading.Thread(target=recompute, args=(10 * round_ + v,)) for v in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert SuggestionSet.objects.filter(ingest=analysed_ingest).count() == 2 * (round_ + 1)
        current = SuggestionSet.objects.filter(ingest=analysed_ingest, is_current=True)
        assert current.count() == 1
        assert current.get().profile_sources[-1]["version"] in (10 * round_ + 1, 10 * round_ + 2)


def test_recompute_over_the_rate_limit_is_429_with_retry_after_and_stores_nothing(api, analysed_ingest, settings):
    settings.RECOMPUTE_RATE_LIMIT = "2/h"
    url = f"/videos/{analysed_ingest.pk}/suggestions/recompute"
    assert [api.post(url).status_code for _ in range(2)] == [200, 200]
    rows = (SuggestionSet.objects.count(), ClipModel.objects.count())
    with override_settings(PROFILE_LAYER_PROVIDERS=["tests.suggestions.test_recompute.alternating_provider"]):
        resp = api.post(url)  # a changed profile: it would have stored a new set
    assert resp.status_code == 429
    assert 0 < int(resp["Retry-After"]) <= 3600
    assert resp.json()["error"] == {
        "code": "rate_limited",
        "message": "Too many recomputes; try again later.",
        "details": {"limit": "2/h"},
    }
    assert (SuggestionSet.objects.count(), ClipModel.objects.count()) == rows


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_newest_current_set_of_a_video_current(analysed_ingest):
    """Data left by concurrent recomputes before the constraint: the migration demotes all but the newest."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = ("suggestions", "0001_video_clip_models_and_sets")
    call_command("migrate", *before, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldSet = old.get_model("suggestions", "SuggestionSet")
        sets = [
            OldSet.objects.create(ingest_id=analysed_ingest.pk, features_version="1", is_current=True) for _ in range(3)
        ]
        other = OldSet.objects.create(ingest_id=analysed_ingest.pk, features_version="1", is_current=False)
    finally:
        call_command("migrate", verbosity=0)
    current = SuggestionSet.objects.filter(ingest=analysed_ingest, is_current=True)
    assert list(current.values_list("pk", flat=True)) == [sets[-1].pk]
    assert SuggestionSet.objects.filter(ingest=analysed_ingest).count() == 4
    assert not SuggestionSet.objects.get(pk=other.pk).is_current
