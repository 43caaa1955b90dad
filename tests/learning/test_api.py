"""The learning API: feedback submission and reads, learning centers, versions, diffs.

Owner scoping (another artist's ids answer 404; global and genre centers are staff-only),
validation exactly like the engine's (400 naming ``weights.<key>``), append-only versions,
idempotent feedback with a rate limit, and feedback applied through the real offline
interpreter by the real job runner (``JOBS_EAGER``).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import Job
from learning.models import (
    ArtistFeedback,
    CenterVersion,
    ImmutableVersionError,
    LearningCenter,
    LearningEvent,
    MusicFeedback,
)
from music.models import MusicAsset

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- helpers


def _client(token) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def _music(user, title: str = "t", sha: str = "a") -> MusicAsset:
    """A track with a synthetic analysis (declared genre pop)."""
    from music.services import music_analysis_save
    from tests.suggestions.engine.synthetic import synthetic_music

    asset = MusicAsset.objects.create(
        owner=user,
        artist=user.artist,
        title=title,
        sha256=sha * 64,
        file="x",
        size_bytes=1,
        format="wav",
        duration=10,
        declared_genre="pop",
    )
    music_analysis_save(asset=asset, result=synthetic_music(60.0, seed=2), genre={"inferred": "unknown", "score": 0.0})
    return asset


def _video_with_suggestions(user, music=None, sha: str = "b"):
    """An analysed video (synthetic analysis) with a current suggestion set."""
    from suggestions.services import suggestions_recompute
    from tests.suggestions.engine.synthetic import synthetic_video
    from video.models import VideoIngest
    from video.services import video_analysis_save

    analysis = video_analysis_save(
        owner=user,
        sha256=sha * 64,
        result=synthetic_video(60.0, fps=25.0, seed=1, peaks=[(20.0, 8.0, {"motion": 1}), (40.0, 6.0, {"faces": 1})]),
    )
    video = VideoIngest.objects.create(
        owner=user,
        artist=user.artist,
        source=VideoIngest.Source.UPLOAD,
        sha256=sha * 64,
        file="y",
        duration=60,
        analysis=analysis,
        music=music,
        options={"target_length_s": 15.0, "allow_experimental": False},
    )
    sset = suggestions_recompute(ingest=video)
    return video, sset


@pytest.fixture
def staff_api(make_artist):
    user, token = make_artist("stella")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return _client(token)


@pytest.fixture
def bob_api(make_artist):
    user, token = make_artist("bobby")
    return user, _client(token)


def _center(api, **body):
    return api.post("/learning-centers", body, format="json")


def _post_json(api, path, body, **headers):
    return api.generic("POST", path, json.dumps(body), content_type="application/json", **headers)


def _field_error(resp, field: str) -> None:
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["error"]["code"] == "invalid", body
    assert field in body["error"]["details"], body


# --------------------------------------------------------------------------- centers: create, scoping


def test_create_artist_and_track_centers(api, user):
    music = _music(user)
    resp = _center(api, scope="artist", name="me", weights={"motion": 1.5})
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["scope"] == "artist" and body["owner"] == user.pk and body["status"] == "active"
    assert body["active_version"]["number"] == 1
    assert body["active_version"]["weights"] == {"motion": 1.5}
    assert body["active_version"]["source"] == "api"
    track = _center(api, scope="track", music_id=str(music.pk))
    assert track.status_code == 201, track.json()
    assert track.json()["music_id"] == str(music.pk)
    assert track.json()["active_version"]["source"] == "baseline"
    # One live center per target.
    again = _center(api, scope="artist")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "center_exists"
    assert again.json()["error"]["details"]["center_id"] == body["id"]


def test_global_and_genre_centers_are_staff_only(api, staff_api):
    for body in ({"scope": "global"}, {"scope": "genre", "genre": "pop"}):
        resp = _center(api, **body)
        assert resp.status_code == 403, resp.json()
        assert resp.json()["error"]["code"] == "permission_denied"
    g = _center(staff_api, scope="global", weights={"faces": 2})
    assert g.status_code == 201, g.json()
    genre = _center(staff_api, scope="genre", genre="Pop")
    assert genre.status_code == 201 and genre.json()["genre"] == "pop"
    # Invisible to artists: 404 on every route, absent from the list.
    for cid in (g.json()["id"], genre.json()["id"]):
        assert api.get(f"/learning-centers/{cid}").status_code == 404
        assert api.patch(f"/learning-centers/{cid}", {"name": "x"}, format="json").status_code == 404
        assert api.post(f"/learning-centers/{cid}/pause").status_code == 404
    assert api.get("/learning-centers").json()["count"] == 0
    assert staff_api.get("/learning-centers").json()["count"] == 2
    assert staff_api.get("/learning-centers?scope=genre").json()["results"][0]["genre"] == "pop"


def test_track_center_for_another_artists_music_is_404(api, other_user):
    foreign = _music(other_user, sha="c")
    resp = _center(api, scope="track", music_id=str(foreign.pk))
    assert resp.status_code == 404
    assert "music_id" in resp.json()["error"]["details"]


def test_owner_scoping_matrix(api, user, bob_api):
    """Every center and feedback route answers 404 for another artist's ids."""
    bob, bapi = bob_api
    bmusic = _music(bob, sha="d")
    center = _center(bapi, scope="artist").json()["id"]
    fb = _post_json(bapi, "/feedback/artist", {"rating": 4}).json()["id"]
    cid = f"/learning-centers/{center}"
    routes = [
        ("get", cid, None),
        ("put", cid, {"weights": {}, "params": {}}),
        ("patch", cid, {"name": "mine now"}),
        ("delete", cid, None),
        ("post", f"{cid}/pause", None),
        ("post", f"{cid}/resume", None),
        ("post", f"{cid}/experimental", {"experimental": True}),
        ("post", f"{cid}/rollback", {"to": "baseline"}),
        ("get", f"{cid}/versions", None),
        ("get", f"{cid}/versions/1", None),
        ("get", f"{cid}/diff?from=baseline", None),
        ("get", f"/feedback/{fb}", None),
        ("post", f"/feedback/music/{bmusic.pk}", {"text": "more motion"}),
    ]
    for method, path, body in routes:
        resp = getattr(api, method)(path, body, format="json") if body is not None else getattr(api, method)(path)
        assert resp.status_code == 404, (method, path, resp.content)
        assert resp.json()["error"]["code"] == "not_found"
    assert api.get("/learning-centers").json()["count"] == 0
    assert api.get("/feedback").json()["count"] == 0
    assert api.get(f"/feedback?music_id={bmusic.pk}").json()["count"] == 0
    # Nothing changed on bob's side.
    c = LearningCenter.objects.get(pk=center)
    assert c.status == "active" and c.versions.count() == 1 and c.name == ""


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weights": {"motionz": 1.2}}, "weights.motionz"),
        ({"weights": {"motion": 11}}, "weights.motion"),
        ({"weights": {"motion": -1}}, "weights.motion"),
        ({"weights": {"motion": True}}, "weights.motion"),
        ({"weights": {"motion": "2"}}, "weights.motion"),
        ({"weights": {"nothing.motion": 2}}, "weights.nothing.motion"),
        ({"params": {"reframe": "saliencyx"}}, "params.reframe"),
        ({"params": {"music_start": "bridge"}}, "params.music_start"),
        ({"params": {"cuts_per_barz": 2}}, "params.cuts_per_barz"),
        ({"params": {"cuts_per_bar": 99}}, "params.cuts_per_bar"),
    ],
)
def test_snapshot_validation_names_the_field(api, body, field):
    center = _center(api, scope="artist").json()
    for method in ("put", "patch"):
        full = {"weights": {}, "params": {}, **body} if method == "put" else body
        resp = getattr(api, method)(f"/learning-centers/{center['id']}", full, format="json")
        _field_error(resp, field)
    _field_error(_center(api, scope="artist", **body), field)
    assert CenterVersion.objects.filter(center_id=center["id"]).count() == 1


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_json_are_400(api, raw):
    center = _center(api, scope="artist").json()
    body = '{"weights": {"motion": ' + raw + '}, "params": {}}'
    resp = api.generic("PUT", f"/learning-centers/{center['id']}", body, content_type="application/json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] in ("invalid", "parse_error")
    if resp.json()["error"]["code"] == "invalid":
        assert "weights.motion" in resp.json()["error"]["details"]
    assert CenterVersion.objects.filter(center_id=center["id"]).count() == 1


def test_bad_query_and_bodies(api):
    center = _center(api, scope="artist").json()["id"]
    _field_error(api.get("/learning-centers?scope=planet"), "scope")
    _field_error(api.get("/learning-centers?status="), "status")
    _field_error(api.get(f"/learning-centers/{center}/diff"), "from")
    _field_error(api.get(f"/learning-centers/{center}/diff?from=7"), "from")
    _field_error(api.get(f"/learning-centers/{center}/diff?from=1&to=9"), "to")
    _field_error(api.post(f"/learning-centers/{center}/rollback", {"version": 9}, format="json"), "version")
    _field_error(api.post(f"/learning-centers/{center}/rollback", {}, format="json"), "non_field_errors")
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    _field_error(
        api.post(f"/learning-centers/{center}/experimental", {"experimental": True, "until": past}, format="json"),
        "until",
    )
    _field_error(_center(api, scope="track"), "music_id")
    _field_error(_center(api, scope="planet"), "scope")
    _field_error(_center(api, scope="artist", name=7), "name")
    form = api.post("/learning-centers", {"scope": "artist"})  # multipart: not accepted
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    assert api.get(f"/learning-centers/{center}/versions/9").status_code == 404


# --------------------------------------------------------------------------- versions


def test_put_creates_a_version_and_keeps_the_old_one(api, user):
    center = _center(api, scope="artist", weights={"motion": 1.5}).json()
    cid = center["id"]
    v1 = CenterVersion.objects.get(center_id=cid, number=1)
    resp = api.put(
        f"/learning-centers/{cid}",
        {"weights": {"faces": 2}, "params": {"reframe": "center"}, "name": "n"},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["name"] == "n"
    assert body["active_version"]["number"] == 2
    assert body["active_version"]["weights"] == {"faces": 2.0}  # replaced, not merged
    assert body["active_version"]["params"] == {"reframe": "center"}
    old = CenterVersion.objects.get(pk=v1.pk)
    assert old.weights == {"motion": 1.5} and old.params == {}
    v2 = CenterVersion.objects.get(center_id=cid, number=2)
    assert v2.parent_id == v1.pk and v2.source == "api" and v2.author_id == user.pk
    # PATCH merges; null removes a key.
    resp = api.patch(f"/learning-centers/{cid}", {"weights": {"motion": 0.5, "faces": None}}, format="json")
    assert resp.json()["active_version"]["number"] == 3
    assert resp.json()["active_version"]["weights"] == {"motion": 0.5}
    assert resp.json()["active_version"]["params"] == {"reframe": "center"}
    # Name / description only, or an unchanged snapshot: no version.
    api.patch(f"/learning-centers/{cid}", {"description": "d"}, format="json")
    api.patch(f"/learning-centers/{cid}", {"weights": {"motion": 0.5}}, format="json")
    assert CenterVersion.objects.filter(center_id=cid).count() == 3
    assert LearningCenter.objects.get(pk=cid).description == "d"

    versions = api.get(f"/learning-centers/{cid}/versions").json()
    assert versions["count"] == 3
    assert [v["number"] for v in versions["results"]] == [3, 2, 1]  # newest first
    assert versions["results"][0]["parent"] == 2
    assert "motion" in versions["results"][0]["diff"]
    detail = api.get(f"/learning-centers/{cid}/versions/2").json()
    assert detail["source"] == "api" and detail["author"] == user.username and detail["parent"] == 1
    assert {c["key"] for c in detail["changes"]} == {"faces", "motion", "reframe"}
    assert detail["suggestion_set_count"] == 0 and detail["suggestion_set_ids"] == []
    diff = api.get(f"/learning-centers/{cid}/diff?from=baseline&to=2").json()
    assert diff["from_version"] is None and diff["to_version"] == 2
    assert "faces ×2" in diff["words"] and "reframe" in diff["words"]
    diff = api.get(f"/learning-centers/{cid}/diff?from=1").json()
    assert diff["to_version"] == 3 and diff["words"] == "motion ×0.333, reframe default → center"


def test_versions_are_immutable_through_the_orm(api):
    cid = _center(api, scope="artist", weights={"motion": 1.5}).json()["id"]
    v = CenterVersion.objects.get(center_id=cid, number=1)
    v.weights = {"motion": 3}
    with pytest.raises(ImmutableVersionError):
        v.save()
    with pytest.raises(ImmutableVersionError):
        v.delete()
    with pytest.raises(ImmutableVersionError):
        CenterVersion.objects.filter(pk=v.pk).update(weights={})
    with pytest.raises(ImmutableVersionError):
        CenterVersion.objects.filter(pk=v.pk).delete()
    assert CenterVersion.objects.get(pk=v.pk).weights == {"motion": 1.5}


def test_pause_resume_experimental_rollback_and_delete(api):
    cid = _center(api, scope="artist", weights={"motion": 1.5}).json()["id"]
    api.put(f"/learning-centers/{cid}", {"weights": {"motion": 3}, "params": {}}, format="json")
    assert api.post(f"/learning-centers/{cid}/pause").json()["status"] == "paused"
    assert api.post(f"/learning-centers/{cid}/pause").json()["status"] == "paused"
    assert api.get("/learning-centers?status=paused").json()["count"] == 1
    assert api.post(f"/learning-centers/{cid}/resume").json()["status"] == "active"
    until = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    body = api.post(
        f"/learning-centers/{cid}/experimental", {"experimental": True, "until": until.isoformat()}, format="json"
    ).json()
    assert body["experimental"] is True
    assert dt.datetime.fromisoformat(body["experimental_until"].replace("Z", "+00:00")) == until
    body = api.post(f"/learning-centers/{cid}/experimental", {"experimental": False}, format="json").json()
    assert body["experimental"] is False and body["experimental_until"] is None
    # None of that made versions.
    assert CenterVersion.objects.filter(center_id=cid).count() == 2

    # Rollback: a NEW version with the old snapshot.
    resp = api.post(f"/learning-centers/{cid}/rollback", {"version": 1}, format="json")
    assert resp.status_code == 200, resp.json()
    assert resp.json()["active_version"]["number"] == 3
    assert resp.json()["active_version"]["weights"] == {"motion": 1.5}
    v3 = CenterVersion.objects.get(center_id=cid, number=3)
    assert v3.source == "rollback" and v3.rolled_back_to.number == 1 and v3.parent.number == 2
    assert LearningEvent.objects.filter(center_id=cid, kind="rollback", version_after=v3).exists()
    resp = api.post(f"/learning-centers/{cid}/rollback", {"to": "baseline"}, format="json")
    assert resp.json()["active_version"]["number"] == 4
    assert resp.json()["active_version"]["weights"] == {} and resp.json()["active_version"]["params"] == {}
    assert api.get(f"/learning-centers/{cid}/versions/4").json()["rolled_back_to"] is None
    assert api.get(f"/learning-centers/{cid}/versions/3").json()["rolled_back_to"] == 1

    # DELETE archives: row and versions kept, no further changes, a new center may be created.
    assert api.delete(f"/learning-centers/{cid}").status_code == 204
    center = LearningCenter.objects.get(pk=cid)
    assert center.status == "archived" and center.versions.count() == 4
    assert api.get(f"/learning-centers/{cid}").json()["status"] == "archived"
    for path, body in (
        (f"/learning-centers/{cid}/resume", None),
        (f"/learning-centers/{cid}/rollback", {"version": 1}),
    ):
        resp = api.post(path, body, format="json")
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "archived"
    assert api.put(f"/learning-centers/{cid}", {"weights": {}, "params": {}}, format="json").status_code == 409
    assert api.delete(f"/learning-centers/{cid}").status_code == 204
    assert _center(api, scope="artist").status_code == 201


# --------------------------------------------------------------------------- feedback


def test_feedback_validation_and_targets(api, user, other_user, settings):
    music = _music(user)
    other_music = _music(user, title="other", sha="e")
    video, sset = _video_with_suggestions(user, music=music)
    other_video, other_set = _video_with_suggestions(user, music=other_music, sha="f")
    bob_music = _music(other_user, sha="9")
    bob_video, bob_set = _video_with_suggestions(other_user, music=bob_music, sha="8")
    url = f"/feedback/music/{music.pk}"
    _field_error(api.post(url, {}, format="json"), "non_field_errors")
    _field_error(api.post(url, {"rating": 6}, format="json"), "rating")
    _field_error(api.post(url, {"text": "x", "scope": "global"}, format="json"), "scope")
    _field_error(api.post(url, {"text": 0}, format="json"), "text")
    settings.FEEDBACK_MAX_TEXT = 10
    _field_error(api.post(url, {"text": "x" * 11}, format="json"), "text")
    # Foreign ids: 404 naming the field.
    bob_clip = bob_set.clip_models.first()
    for field, value in (
        ("video_id", str(bob_video.pk)),
        ("suggestion_set_id", bob_set.pk),
        ("picked_clip_id", bob_clip.pk),
        ("clip_model_id", bob_clip.pk),
    ):
        resp = api.post(url, {"rating": 3, field: value}, format="json")
        assert resp.status_code == 404, (field, resp.json())
        assert field in resp.json()["error"]["details"]
    # Inconsistent ids: 400 naming the field.
    other_clip = other_set.clip_models.first()
    _field_error(api.post(url, {"picked_clip_id": other_clip.pk}, format="json"), "picked_clip_id")
    _field_error(
        api.post(url, {"picked_clip_id": other_clip.pk, "suggestion_set_id": sset.pk}, format="json"),
        "picked_clip_id",
    )
    _field_error(api.post(url, {"rating": 2, "video_id": str(other_video.pk)}, format="json"), "video_id")
    _field_error(
        api.post(url, {"rating": 2, "video_id": str(video.pk), "suggestion_set_id": other_set.pk}, format="json"),
        "suggestion_set_id",
    )
    assert MusicFeedback.objects.count() == 0 and Job.objects.count() == 0
    # A consistent pick: the set and video are filled in.
    clip = sset.clip_models.order_by("rank").last()
    resp = api.post(url, {"picked_clip_id": clip.pk}, format="json")
    assert resp.status_code == 202, resp.json()
    body = resp.json()
    assert body["picked_clip_id"] == clip.pk and body["suggestion_set_id"] == sset.pk
    assert body["video_id"] == str(video.pk) and body["kind"] == "music" and body["status"] == "received"
    assert body["job"]["status"] == "queued"
    assert Job.objects.get(pk=body["job"]["id"]).queue == "default"


def test_idempotency_key_replays_and_rejects_reuse(api, user, redis_conn):
    music = _music(user)
    url = f"/feedback/music/{music.pk}"
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        first = api.post(url, {"text": "mais movimento", "rating": 4}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202, first.json()
    assert callbacks  # the enqueue
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        again = api.post(url, {"text": "mais movimento", "rating": 4}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert callbacks == []  # nothing enqueued twice
    assert MusicFeedback.objects.count() == 1 and Job.objects.filter(kind="feedback_apply").count() == 1
    from jobs.dispatch import get_queue

    assert get_queue("default").job_ids == [first.json()["job"]["id"]]
    reuse = api.post(url, {"text": "menos movimento", "rating": 4}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reuse.status_code == 422
    assert reuse.json()["error"]["code"] == "idempotency_key_reused"
    # Artist feedback: its own key space.
    a1 = _post_json(api, "/feedback/artist", {"text": "mais rápido"}, HTTP_IDEMPOTENCY_KEY="k-1")
    a2 = _post_json(api, "/feedback/artist", {"text": "mais rápido"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert a1.status_code == a2.status_code == 202 and a1.json()["id"] == a2.json()["id"]
    assert ArtistFeedback.objects.count() == 1
    _field_error(_post_json(api, "/feedback/artist", {"rating": 2}, HTTP_IDEMPOTENCY_KEY="k" * 201), "Idempotency-Key")


def test_feedback_rate_limit(api, user, settings, redis_conn):
    settings.FEEDBACK_RATE_LIMIT = "2/h"
    music = _music(user)
    assert api.post(f"/feedback/music/{music.pk}", {"rating": 3}, format="json").status_code == 202
    assert _post_json(api, "/feedback/artist", {"rating": 3}).status_code == 202
    resp = _post_json(api, "/feedback/artist", {"rating": 3})
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "rate_limited"
    assert int(resp["Retry-After"]) > 0
    assert ArtistFeedback.objects.count() == 1


def test_feedback_list_filters(api, user, redis_conn):
    music = _music(user)
    m = api.post(f"/feedback/music/{music.pk}", {"rating": 3}, format="json").json()
    a = _post_json(api, "/feedback/artist", {"text": "hello"}).json()
    listed = api.get("/feedback").json()
    assert listed["count"] == 2
    assert [r["id"] for r in listed["results"]] == [a["id"], m["id"]]
    assert [r["kind"] for r in api.get("/feedback?kind=music").json()["results"]] == ["music"]
    assert [r["id"] for r in api.get("/feedback?kind=artist").json()["results"]] == [a["id"]]
    assert api.get(f"/feedback?music_id={music.pk}").json()["count"] == 1
    assert api.get("/feedback?page_size=1&page=2").json()["results"][0]["id"] == m["id"]
    _field_error(api.get("/feedback?kind=video"), "kind")
    detail = api.get(f"/feedback/{a['id']}").json()
    assert detail["kind"] == "artist" and detail["music_id"] is None and detail["interpretation"] is None


# --------------------------------------------------------------------------- applied end to end


@pytest.mark.django_db(transaction=True)
def test_feedback_is_applied_and_shows_in_detail_and_suggestions(make_artist, settings, isolated_media):
    """The job runs in-process after commit (``JOBS_EAGER``) with the real offline interpreter."""
    settings.JOBS_EAGER = True
    settings.LLM_API_KEY = ""
    user, token = make_artist("carla")
    api = _client(token)
    music = _music(user)
    video, sset = _video_with_suggestions(user, music=music)
    before = api.get(f"/videos/{video.pk}/suggestions").json()
    assert before["center_versions"] == []
    assert all(c["layer_effects"] for c in before["clip_models"])

    resp = api.post(
        f"/feedback/music/{music.pk}", {"text": "more motion please", "video_id": str(video.pk)}, format="json"
    )
    assert resp.status_code == 202, resp.json()
    fid = resp.json()["id"]
    detail = api.get(f"/feedback/{fid}").json()
    assert detail["status"] == "applied", detail
    assert detail["job"]["status"] == "done"
    interp = detail["interpretation"]
    assert interp["understood"] is True and interp["language"] == "en"
    motion = [a for a in interp["adjustments"] if a["key"] == "motion"]
    assert motion and motion[0]["applied"] and motion[0]["value"] > 1 and motion[0]["phrase"]
    assert detail["confidence"] >= 0.5 and detail["interpreter"]
    [event] = [e for e in detail["events"] if e["kind"] == "feedback"]
    assert event["center_scope"] == "track" and event["version_before"] == 1 and event["version_after"] == 2
    assert "motion ×" in event["diff"] and event["recomputed_set_count"] == 1
    assert {"center": event["center"], "center_scope": "track", "number": 2} in detail["versions"]

    center = api.get(f"/learning-centers/{event['center']}").json()
    assert center["scope"] == "track" and center["music_id"] == str(music.pk)
    assert center["active_version"]["number"] == 2 and center["active_version"]["weights"]["motion"] > 1
    v2 = api.get(f"/learning-centers/{event['center']}/versions/2").json()
    assert v2["source"] == "feedback" and v2["feedback"] == {"kind": "music", "id": fid}
    assert v2["events"] == [event["id"]]

    # The recomputed suggestions were made with that version and show what the track layer did.
    after = api.get(f"/videos/{video.pk}/suggestions").json()
    assert after["id"] != before["id"]
    assert {"center": event["center"], "scope": "track", "number": 2} in after["center_versions"]
    assert v2["suggestion_set_count"] == 1 and v2["suggestion_set_ids"] == [after["id"]]
    kinds = {layer["kind"] for clip in after["clip_models"] for layer in clip["layer_effects"]}
    assert "track" in kinds, after["clip_models"][0]["layer_effects"]

    # A pick: Bradley-Terry steps on the artist's and the track's centers.
    clip = after["clip_models"][-1]
    resp = api.post(f"/feedback/music/{music.pk}", {"picked_clip_id": clip["id"], "rating": 5}, format="json")
    assert resp.status_code == 202, resp.json()
    pick = api.get(f"/feedback/{resp.json()['id']}").json()
    assert pick["status"] == "applied" and pick["interpretation"] is None
    assert {e["kind"] for e in pick["events"]} == {"pick"}
    assert {e["center_scope"] for e in pick["events"]} == {"artist", "track"}
    listed = api.get("/feedback").json()
    assert [r["id"] for r in listed["results"]] == [pick["id"], fid]


@pytest.mark.django_db(transaction=True)
def test_artist_feedback_not_understood(make_artist, settings):
    settings.JOBS_EAGER = True
    settings.LLM_API_KEY = ""
    _, token = make_artist("dario")
    api = _client(token)
    resp = _post_json(api, "/feedback/artist", {"text": "the weather in Lisbon is nice today"})
    assert resp.status_code == 202
    detail = api.get(f"/feedback/{resp.json()['id']}").json()
    assert detail["status"] == "not_understood", detail
    assert detail["events"] == [] and detail["versions"] == []
    assert detail["interpretation"]["understood"] is False
