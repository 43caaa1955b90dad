"""Learning on real analysed media: visible, isolated, exactly reversible, pausable, experimental.

Given Big Buck Bunny (30 s) and real GTZAN songs analysed by the project's analysers, when an
artist's feedback is applied (the real offline interpreter, the real services), then the next
suggestions change as asked — asserted on the clips themselves — and nothing else moves.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from learning import services
from learning.feedback import artist_feedback_submit, feedback_apply, music_feedback_submit
from learning.models import CenterScope, CenterVersion, FeedbackStatus, ImmutableVersionError, LearningEvent
from suggestions.models import SuggestionSet
from suggestions.services import suggestions_recompute
from tests.learning.realmedia import store_track, store_video

pytestmark = pytest.mark.django_db

#: Songs whose analysed chorus comes late (the default hook moves back from it for lack of music).
# Verse + chorus + bridge clips stitched into 90-s verse/chorus songs (realmedia.stitched_song) whose
# one-off bridge is loud enough to be the peak (> 1.25 x the chorus) while the repeated chorus stays
# a high-energy group (>= 0.75 x the loudest): then the default hook starts on the bridge.
LATE_CHORUS_SONGS = tuple(
    f"stitched:{parts}@{rms}"
    for parts in ("pop.00003+disco.00004+metal.00002", "blues.00002+rock.00003+metal.00006")
    for rms in (0.116, 0.118, 0.114)
)
SONG = "rock.00004"


def _clips(sset: SuggestionSet) -> list[dict]:
    """What the artist sees of each clip (ids, timestamps and layer bookkeeping left out)."""
    return [
        {
            k: getattr(c, k)
            for k in ("template", "rank", "start", "end", "duration", "score", "breakdown", "edl", "music_offset",
                      "music_duration", "params", "feature_values")
        }
        for c in sset.clip_models.order_by("rank")
    ]  # fmt: skip


def _current(ingest) -> SuggestionSet:
    return SuggestionSet.objects.get(ingest=ingest, is_current=True)


def _by_template(sset: SuggestionSet, template: str):
    return sset.clip_models.get(template=template)


def _cut_rate(clip) -> float:
    return len(clip.edl) / clip.duration


def _apply_music(owner, music, text, **kw):
    fb, _ = music_feedback_submit(owner=owner, music=music, text=text, **kw)
    return fb, feedback_apply(fb)


@pytest.fixture
def artist_a(make_artist):
    return make_artist("artist_a")[0]


@pytest.fixture
def artist_b(make_artist):
    return make_artist("artist_b")[0]


def test_faster_cuts_raise_the_beat_montage_cut_rate_and_say_why(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    before = suggestions_recompute(ingest=ingest)
    montage_before = _by_template(before, "beat_montage")

    fb, summary = _apply_music(artist_a, track, "cortes mais rápidos")

    fb.refresh_from_db()
    assert fb.status == FeedbackStatus.APPLIED and fb.interpretation["understood"]
    after = _current(ingest)
    assert after.pk != before.pk and str(after.pk) in summary["recomputed_sets"]
    montage_after = _by_template(after, "beat_montage")
    assert _cut_rate(montage_after) > 1.5 * _cut_rate(montage_before)
    assert montage_after.params["cuts_per_bar"] == 2.0 and montage_before.params["cuts_per_bar"] == 1.0
    # "why": the track layer is listed with the param it changed, at the version it is now
    track_center = services.center_for(scope=CenterScope.TRACK, music=track, owner=artist_a)
    effect = next(e for e in montage_after.layer_effects if e["kind"] == "track")
    assert effect["id"] == str(track_center.pk) and effect["version"] == track_center.active_version.number == 2
    assert effect["params_changed"]["cuts_per_bar"] == [1.0, 2.0]
    # the set is linked to the exact version that produced it (one query)
    assert list(track_center.active_version.suggestion_sets.values_list("pk", flat=True)) == [after.pk]
    event = LearningEvent.objects.get(music_feedback=fb, center=track_center)
    assert event.version_after == track_center.active_version and event.recomputed_sets.get() == after
    assert "cuts_per_bar 1 → 2" in event.version_after.reason


def test_start_on_the_chorus_moves_the_hook_onto_the_chorus(artist_a):
    for song in LATE_CHORUS_SONGS:
        track = store_track(artist_a, song)
        choruses = [s for s in track.analysis.sections if s["label"] == "chorus"]
        ingest = store_video(artist_a, track, tag=song)
        hook = _by_template(suggestions_recompute(ingest=ingest), "hook")
        if choruses and all(abs(hook.music_offset - s["start"]) > 1.0 for s in choruses):
            break
    else:
        pytest.fail(f"none of {LATE_CHORUS_SONGS} has a chorus the default hook does not start on")

    _apply_music(artist_a, track, "comece no refrão")

    hook_after = _by_template(_current(ingest), "hook")
    chorus = max(choruses, key=lambda s: s["energy"])
    beat = 60.0 / track.analysis.tempo
    assert abs(hook_after.music_offset - chorus["start"]) <= beat  # on the chorus (snapped to its downbeat)
    assert hook_after.params["offset_source"] == "chorus"
    assert hook_after.params["music_section"]["label"] == "chorus"


def test_less_shaky_lowers_motion_and_the_top_clip_follows(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    before = suggestions_recompute(ingest=ingest)

    fb, _ = artist_feedback_submit(owner=artist_a, text="less shaky camera please")
    feedback_apply(fb)

    center = services.center_for(scope=CenterScope.ARTIST, owner=artist_a)
    assert center.active_version.weights["motion"] < 1.0
    after = _current(ingest)
    for template in ("highlight", "beat_montage", "hook"):
        b, a = _by_template(before, template), _by_template(after, template)
        share = lambda c: c.breakdown.get("motion", 0.0) / c.score  # noqa: E731
        assert share(a) < share(b), template  # motion counts for less in every clip's score
        # ... because its normalised weight (breakdown / feature value) is lower in every template
        weight = lambda c: c.breakdown["motion"] / c.feature_values["motion"]  # noqa: E731
        assert weight(a) < weight(b) - 1e-3, template
    # and the set was re-chosen under the new weights, best first. (Not asserted: that the top
    # clip is calmer. The joint selection keeps starts 5 s apart, so a template that moves to a
    # calmer window can free another's favourite: on an AVX-512 EPYC the highlight moved 2.04 ->
    # 12.04 s, calmer, and the hook took 2.04 s, shakier than its 13.0 s before -- motion weighs
    # less, as the interpreter promises, which is not an aversion to motion.)
    assert _clips(after) != _clips(before)
    scores = [c.score for c in after.clip_models.order_by("rank")]
    assert scores == sorted(scores, reverse=True)


def test_isolation_matrix_feedback_of_a_never_reaches_b_nor_another_track(artist_a, artist_b):
    a_track, a_other = store_track(artist_a, SONG), store_track(artist_a, "disco.00002")
    b_track = store_track(artist_b, SONG)
    a_video, a_other_video = store_video(artist_a, a_track, tag="1"), store_video(artist_a, a_other, tag="2")
    b_video = store_video(artist_b, b_track)
    base = {v.pk: _clips(suggestions_recompute(ingest=v)) for v in (a_video, a_other_video, b_video)}

    _apply_music(artist_a, a_track, "cortes mais rápidos, mais rostos")  # → A's track layer
    fb, _ = artist_feedback_submit(owner=artist_a, text="menos tremido")  # → A's artist layer
    feedback_apply(fb)

    # B: no center, no version, byte-identical suggestions after a recompute
    from learning.models import LearningCenter

    assert not LearningCenter.objects.filter(owner=artist_b).exists()
    assert _clips(suggestions_recompute(ingest=b_video)) == base[b_video.pk]
    # A's other track: its track layer never moved (no center even), only A's artist layer applies
    assert not LearningCenter.objects.filter(scope="track", music=a_other).exists()
    other = _current(a_other_video)
    assert {s["kind"] for s in other.profile_sources} == {"baseline", "artist"}  # disco: no genre center
    assert all(e["kind"] != "track" for c in other.clip_models.all() for e in c.layer_effects)
    # A's track: both layers
    kinds = {(s["kind"], s["version"] if s["kind"] == "genre" else 0) for s in _current(a_video).profile_sources}
    # (A's vote opened the rock genre profile at its unchanged baseline: one artist moves no genre)
    assert kinds == {("baseline", 0), ("genre", 1), ("artist", 0), ("track", 0)}


def test_rollback_is_exact_profile_and_suggestions_byte_identical(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    before = _clips(suggestions_recompute(ingest=ingest))
    center = services.center_for(scope=CenterScope.TRACK, music=track, owner=artist_a)
    profile_before = services.effective_profile_for(center).to_dict()

    _apply_music(artist_a, track, "cortes mais rápidos e comece no refrão, muito menos tremido")
    center.refresh_from_db()
    assert center.active_version.number == 2 and _clips(_current(ingest)) != before

    services.center_rollback(center=center, to_version=1, actor=artist_a)
    center.refresh_from_db()
    v3 = center.active_version
    assert (v3.number, v3.source, v3.rolled_back_to.number, v3.parent.number) == (3, "rollback", 1, 2)
    assert services.effective_profile_for(center).to_dict()["weights"] == profile_before["weights"]
    assert services.effective_profile_for(center).to_dict()["params"] == profile_before["params"]
    assert _clips(suggestions_recompute(ingest=ingest)) == before
    # history kept: v2 still holds the feedback snapshot
    assert CenterVersion.objects.get(center=center, number=2).params["cuts_per_bar"] == 2.0
    # and rolling forward again reproduces v2's suggestions
    services.center_rollback(center=center, to_version=2, actor=artist_a)
    v2_clips = _clips(suggestions_recompute(ingest=ingest))
    assert v2_clips != before and v2_clips[0]["template"] in {"highlight", "beat_montage", "hook"}


def test_pause_removes_the_layer_and_resume_restores_it(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    before = _clips(suggestions_recompute(ingest=ingest))
    _apply_music(artist_a, track, "cortes mais rápidos")
    learned = _clips(_current(ingest))
    center = services.center_for(scope=CenterScope.TRACK, music=track, owner=artist_a)

    services.center_set_status(center=center, status="paused")
    paused = suggestions_recompute(ingest=ingest)
    assert _clips(paused) == before
    assert [s["kind"] for s in paused.profile["skipped"]] == ["track"]
    services.center_set_status(center=center, status="active")
    assert _clips(suggestions_recompute(ingest=ingest)) == learned


def test_experimental_layers_apply_only_to_opted_in_jobs_and_expire(artist_a):
    track = store_track(artist_a, SONG)
    plain = store_video(artist_a, track, tag="plain")
    opted = store_video(artist_a, track, tag="opted", options={"allow_experimental": True})
    base = _clips(suggestions_recompute(ingest=plain))
    center = services.center_for(scope=CenterScope.TRACK, music=track, owner=artist_a)
    services.center_set_experimental(center=center, experimental=True, until=timezone.now() + timedelta(days=7))
    _apply_music(artist_a, track, "cortes mais rápidos")

    assert _clips(suggestions_recompute(ingest=plain)) == base
    montage = _by_template(suggestions_recompute(ingest=opted), "beat_montage")
    assert montage.params["cuts_per_bar"] == 2.0

    center.experimental_until = timezone.now() - timedelta(seconds=1)  # expired
    center.save(update_fields=["experimental_until"])
    assert _by_template(suggestions_recompute(ingest=opted), "beat_montage").params["cuts_per_bar"] == 1.0


def test_a_genre_moves_only_when_k_distinct_artists_agree(make_artist, settings):
    settings.GENRE_PROFILE_MIN_ARTISTS = 3
    artists = [make_artist(f"g{i}")[0] for i in range(3)]
    tracks = [store_track(a, SONG, genre="rock") for a in artists]
    # one artist, five times: no move
    for _ in range(5):
        _apply_music(artists[0], tracks[0], "menos tremido")
    genre_center = services.genre_profile_for("rock").center
    assert genre_center.active_version.number == 1
    _apply_music(artists[1], tracks[1], "less shaky")
    genre_center.refresh_from_db()
    assert genre_center.active_version.number == 1
    _apply_music(artists[2], tracks[2], "câmera menos tremida")
    genre_center.refresh_from_db()
    v = genre_center.active_version
    assert v.number == 2 and v.weights["motion"] < 1.0 and v.weights["motion"] > 0.8  # one slow step
    profile = services.genre_profile_for("rock")
    assert profile.moves == 1 and profile.support == {}  # votes consumed by the move


def test_a_pick_moves_the_artist_and_track_toward_the_picked_clip_once(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    sset = suggestions_recompute(ingest=ingest)
    picked = sset.clip_models.order_by("-rank").first()  # the artist prefers the last-ranked clip
    others = list(sset.clip_models.exclude(pk=picked.pk))

    fb, _ = music_feedback_submit(owner=artist_a, music=track, picked=picked, suggestion_set=sset, rating=5)
    first = feedback_apply(fb)
    again = feedback_apply(fb)  # a retried job: nothing applied twice

    assert first["events"] == again["events"] and len(first["events"]) == 2
    artist_center = services.center_for(scope=CenterScope.ARTIST, owner=artist_a)
    w = artist_center.active_version.weights
    assert artist_center.active_version.number == 2
    # features where the picked clip is higher than the others gain weight, and vice versa
    for f, x in picked.feature_values.items():
        scored = [o.feature_values[f] for o in others if f in o.feature_values]  # compared on f
        if not scored:
            assert w.get(f, 1.0) == 1.0, f
            continue
        mean_other = sum(scored) / len(scored)
        if x - mean_other > 0.05:
            assert w[f] > 1.0, f
        elif x - mean_other < -0.05:
            assert w[f] < 1.0, f
    new_top = _current(ingest).clip_models.get(template=picked.template)
    assert new_top.rank <= picked.rank


def test_not_understood_feedback_changes_nothing(artist_a):
    track = store_track(artist_a, SONG)
    ingest = store_video(artist_a, track)
    before = suggestions_recompute(ingest=ingest)
    fb, summary = _apply_music(artist_a, track, "qual é o horário do show amanhã?")
    fb.refresh_from_db()
    assert fb.status == FeedbackStatus.NOT_UNDERSTOOD and summary["events"] == []
    assert _current(ingest).pk == before.pk
    assert not CenterVersion.objects.filter(source="feedback").exists()


def test_versions_are_append_only(artist_a):
    center = services.center_for(scope=CenterScope.ARTIST, owner=artist_a)
    v = center.active_version
    v.reason = "rewritten"
    with pytest.raises(ImmutableVersionError):
        v.save()
    with pytest.raises(ImmutableVersionError):
        v.delete()
    with pytest.raises(ImmutableVersionError):
        CenterVersion.objects.filter(pk=v.pk).update(reason="x")
    with pytest.raises(ImmutableVersionError):
        CenterVersion.objects.filter(pk=v.pk).delete()
    assert CenterVersion.objects.get(pk=v.pk).reason == "created"
