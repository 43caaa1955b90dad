"""The learning admin: centers with their version history and actions, read-only versions, feedback
re-apply through the service, read-only events / genre profiles / LLM usage.

Every change the admin makes is a service call: actions and the "roll back to version…" form
create NEW versions (never an edit), and versions refuse change, delete and add.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from learning.models import (
    ArtistFeedback,
    CenterVersion,
    GenreProfile,
    LearningCenter,
    LearningEvent,
    LlmUsage,
    MusicFeedback,
)
from learning.services import center_create, center_set_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def center(user):
    c = center_create(scope="artist", owner=user, actor=user, weights={"motion": 1.5})
    center_set_snapshot(center=c, weights={"motion": 3.0}, params={"reframe": "center"}, actor=user, source="admin")
    return LearningCenter.objects.get(pk=c.pk)


def _management(client, url: str) -> dict[str, str]:
    """The inline formsets' management fields of the change page (a POST needs them)."""
    import re

    html = client.get(url).content.decode()
    return dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)" value="(\d*)"', html))


def _action(client, action: str, *centers):
    return client.post(
        reverse("admin:learning_learningcenter_changelist"),
        {"action": action, "_selected_action": [c.pk for c in centers]},
        follow=True,
    )


def test_center_changelist_and_history(admin_client, center):
    resp = admin_client.get(reverse("admin:learning_learningcenter_changelist"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "alice" in html and "artist" in html
    resp = admin_client.get(reverse("admin:learning_learningcenter_change", args=[center.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200
    # The version history inline, newest first, with the diff in words.
    assert "motion ×2" in html and "reframe default → center" in html
    assert reverse("admin:learning_learningcenter_rollback", args=[center.pk]) in html
    for q in ("?scope=artist", "?status=active", "?experimental__exact=0", "?q=alice"):
        assert admin_client.get(reverse("admin:learning_learningcenter_changelist") + q).status_code == 200


def test_center_actions_call_the_services(admin_client, center):
    _action(admin_client, "pause", center)
    assert LearningCenter.objects.get(pk=center.pk).status == "paused"
    _action(admin_client, "resume", center)
    assert LearningCenter.objects.get(pk=center.pk).status == "active"
    _action(admin_client, "mark_experimental", center)
    assert LearningCenter.objects.get(pk=center.pk).experimental is True
    _action(admin_client, "unmark_experimental", center)
    assert LearningCenter.objects.get(pk=center.pk).experimental is False
    assert center.versions.count() == 2
    _action(admin_client, "rollback_to_baseline", center)
    c = LearningCenter.objects.get(pk=center.pk)
    assert c.versions.count() == 3
    assert c.active_version.number == 3 and c.active_version.snapshot == {"weights": {}, "params": {}}
    assert c.active_version.source == "rollback"
    # Older versions are untouched.
    assert CenterVersion.objects.get(center=c, number=1).weights == {"motion": 1.5}
    assert CenterVersion.objects.get(center=c, number=2).weights == {"motion": 3.0}


def test_rollback_to_version_form_makes_a_new_version(admin_client, center):
    url = reverse("admin:learning_learningcenter_rollback", args=[center.pk])
    resp = admin_client.get(url)
    assert resp.status_code == 200
    assert "v1 (" in resp.content.decode()
    resp = admin_client.post(url, {"version": "1", "reason": "back to where it was"})
    assert resp.status_code == 302
    c = LearningCenter.objects.get(pk=center.pk)
    v3 = c.active_version
    assert v3.number == 3 and v3.weights == {"motion": 1.5} and v3.params == {}
    assert v3.rolled_back_to.number == 1 and v3.parent.number == 2 and v3.reason == "back to where it was"
    assert LearningEvent.objects.filter(center=c, kind="rollback", version_after=v3).exists()
    # An unknown version is a form error, nothing is created.
    resp = admin_client.post(url, {"version": "9"})
    assert resp.status_code == 200 and c.versions.count() == 3


def test_versions_are_read_only_in_the_admin(admin_client, center):
    v = CenterVersion.objects.get(center=center, number=2)
    url = reverse("admin:learning_centerversion_change", args=[v.pk])
    resp = admin_client.get(url)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "motion ×2" in html and "suggestion sets it produced" in html.lower()
    assert 'name="_save"' not in html
    # POSTing the change form, deleting or adding is refused.
    assert admin_client.post(url, {"reason": "rewritten", "weights": "{}"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:learning_centerversion_delete", args=[v.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:learning_centerversion_add")).status_code == 403
    assert CenterVersion.objects.get(pk=v.pk).reason == v.reason and CenterVersion.objects.count() == 2
    from django.contrib.admin import site

    ma = site._registry[CenterVersion]
    request = type("R", (), {"user": center.owner})()
    assert not ma.has_change_permission(request, v) and not ma.has_delete_permission(request, v)
    assert not ma.has_add_permission(request)
    for model in (LearningEvent, LlmUsage, GenreProfile):
        m = site._registry[model]
        assert not (
            m.has_change_permission(request) or m.has_delete_permission(request) or m.has_add_permission(request)
        )


def test_edited_interpretation_is_reapplied_through_the_service(admin_client, user):
    fb = ArtistFeedback.objects.create(owner=user, text="mais movimento por favor", status="not_understood")
    url = reverse("admin:learning_artistfeedback_change", args=[fb.pk])
    assert admin_client.get(url).status_code == 200
    interp = (
        '{"language": "pt", "interpreter": "admin", "adjustments": [{"intent": "more_motion", "kind": "weight", '
        '"key": "motion", "op": "scale", "value": 1.5, "confidence": 0.9, "phrase": "mais movimento"}]}'
    )
    # An invalid adjustment is refused by the form (the engine's own check).
    bad = interp.replace('"motion"', '"motionz"')
    form = _management(admin_client, url)
    assert form
    resp = admin_client.post(url, {**form, "interpretation": bad})
    assert resp.status_code == 200 and "adjustment key" in resp.content.decode()
    assert not LearningEvent.objects.exists()
    resp = admin_client.post(url, {**form, "interpretation": interp})
    assert resp.status_code == 302, resp.content.decode()[-2000:]
    fb.refresh_from_db()
    assert fb.status == "applied" and fb.interpretation["adjustments"][0]["key"] == "motion"
    event = LearningEvent.objects.get(artist_feedback=fb)
    assert event.application == 1 and event.center.scope == "artist"
    assert event.version_after.weights == {"motion": 1.5} and event.version_after.artist_feedback_id == fb.pk
    # The change page shows the event and its diff; the list shows it applied.
    html = admin_client.get(url).content.decode()
    assert "motion ×1.5" in html
    assert admin_client.get(reverse("admin:learning_artistfeedback_changelist")).status_code == 200
    # Saving the form unchanged applies nothing again.
    import json

    form = _management(admin_client, url)
    admin_client.post(url, {**form, "interpretation": json.dumps(fb.interpretation)})
    assert LearningEvent.objects.filter(artist_feedback=fb).count() == 1


def test_reapply_action_interprets_again(admin_client, user):
    from music.models import MusicAsset

    music = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="t", sha256="a" * 64, file="x", size_bytes=1, format="wav", duration=9
    )
    fb = MusicFeedback.objects.create(owner=user, music=music, text="more motion, less talking")
    resp = admin_client.post(
        reverse("admin:learning_musicfeedback_changelist"),
        {"action": "reapply", "_selected_action": [fb.pk]},
        follow=True,
    )
    assert resp.status_code == 200
    fb.refresh_from_db()
    assert fb.status == "applied", fb.interpretation
    event = LearningEvent.objects.get(music_feedback=fb)
    assert event.application == 1 and event.center.scope == "track"
    assert "motion" in event.version_after.weights
    resp = admin_client.post(
        reverse("admin:learning_musicfeedback_changelist"),
        {"action": "reapply", "_selected_action": [fb.pk]},
        follow=True,
    )
    # A re-apply is a new application (number 2): the adjustments apply again to the current version.
    second = LearningEvent.objects.filter(music_feedback=fb).order_by("-application").first()
    assert second.application == 2 and second.version_before_id == event.version_after_id
    html = admin_client.get(reverse("admin:learning_musicfeedback_change", args=[fb.pk])).content.decode()
    assert "more motion" in html and "motion ×" in html


def test_read_only_pages_render(admin_client, center, user):
    from learning.services import genre_profile_for

    genre_profile_for("pop")
    LlmUsage.objects.create(user=user, model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    event = LearningEvent.objects.filter(center=center).first()
    for name, args in (
        ("learning_learningevent_changelist", []),
        ("learning_learningevent_change", [event.pk]),
        ("learning_genreprofile_changelist", []),
        ("learning_llmusage_changelist", []),
        ("learning_centerversion_changelist", []),
        ("learning_musicfeedback_changelist", []),
    ):
        assert admin_client.get(reverse(f"admin:{name}", args=args)).status_code == 200, name


def test_artists_cannot_use_the_admin(client, user):
    client.force_login(user)
    resp = client.get(reverse("admin:learning_learningcenter_changelist"))
    assert resp.status_code == 302 and "/login/" in resp["Location"]
