"""The videos admin (rendering/admin.py) through Django's test client: a manager's view of a
video with its clips' contact sheets and previews, the timeline picture drawn from the
analysis, the clips and the track, and who may open them.  (The same pages in a real browser:
``tests/rendering/test_admin_browser.py``.)"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from rendering.timeline import LEFT, VIDEO_LANES, WIDTH, clip_colour
from tests.rendering.conftest import create_video_with_clips

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user, isolated_media, source, tmp_path):
    from rendering.previews import clip_preview_build

    video, analysis, clips, _ = create_video_with_clips(user, source, with_music=True)
    for cm in clips:
        clip_preview_build(clip_model=cm, analysis=analysis, source_path=source, out_dir=tmp_path)
    return video, clips


def _png(resp) -> np.ndarray:
    img = Image.open(io.BytesIO(resp.content))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB")).astype(int)


def test_change_page_shows_clips_with_previews_and_the_timeline(admin_client, video):
    video, clips = video
    resp = admin_client.get(reverse("admin:video_videoingest_change", args=[video.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    timeline_url = reverse("admin:video_videoingest_timeline", args=[video.pk])
    assert f'src="{timeline_url}"' in html
    for cm in clips:
        assert reverse("admin:video_videoingest_clip_file", args=[video.pk, cm.pk, "contact-sheet"]) in html
        assert reverse("admin:video_videoingest_clip_file", args=[video.pk, cm.pk, "preview"]) in html
    assert html.count('class="clip-row"') == 2 and "beat_montage" in html and "4.2–5.2" in html

    file_url = "admin:video_videoingest_clip_file"
    sheet = admin_client.get(reverse(file_url, args=[video.pk, clips[1].pk, "contact-sheet"]))
    assert sheet["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(sheet.streaming_content))).size[0] > 3 * 256
    mp4 = admin_client.get(reverse("admin:video_videoingest_clip_file", args=[video.pk, clips[0].pk, "preview"]))
    assert mp4["Content-Type"] == "video/mp4" and b"".join(mp4.streaming_content)[4:8] == b"ftyp"
    bad = reverse("admin:video_videoingest_clip_file", args=[video.pk, clips[0].pk, "other"])
    assert admin_client.get(bad).status_code == 404

    changelist = admin_client.get(reverse("admin:video_videoingest_changelist")).content.decode()
    assert "blocks.mp4" in changelist and "alice" in changelist


def test_timeline_picture_draws_curves_clips_and_music(admin_client, video):
    video, clips = video
    resp = admin_client.get(reverse("admin:video_videoingest_timeline", args=[video.pk]))
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    px = _png(resp)
    height, width = px.shape[:2]
    assert width == WIDTH and height > 400
    plot = px[:, LEFT:]
    # each video lane's curve is drawn in its colour
    for key, _, colour in VIDEO_LANES:
        hits = (np.abs(plot - np.array(colour)).sum(axis=2) < 30).sum()
        assert hits > 200, key
    # each clip's bar, in its colour, spans its source cuts (x proportional to time)
    for cm in clips:
        mask = np.abs(plot - np.array(clip_colour(cm.rank))).sum(axis=2) < 10
        rows = np.flatnonzero(mask.sum(axis=1) > 10)
        assert len(rows) >= 10, cm.rank
        cols = np.flatnonzero(mask[rows[0]])
        x_of = lambda t: (t / 8.0) * (WIDTH - 20 - LEFT)  # noqa: E731
        assert cols.min() == pytest.approx(x_of(min(e["src_in"] for e in cm.edl)), abs=3)
        assert cols.max() == pytest.approx(x_of(max(e["src_out"] for e in cm.edl)), abs=3)
    # the montage plays the track from 20 s: a second bar of its colour lower down (the track lane)
    montage = np.abs(plot - np.array(clip_colour(2))).sum(axis=2) < 10
    bands = np.flatnonzero(montage.sum(axis=1) > 10)
    assert bands.max() - bands.min() > 150  # the source lane and the track lane


def test_only_staff_with_the_view_permission(client, admin_client, video, django_user_model):
    from django.contrib.auth.models import Permission

    video, clips = video
    urls = [
        reverse("admin:video_videoingest_change", args=[video.pk]),
        reverse("admin:video_videoingest_timeline", args=[video.pk]),
        reverse("admin:video_videoingest_clip_file", args=[video.pk, clips[0].pk, "preview"]),
    ]
    for url in urls:  # anonymous: to the login page
        resp = client.get(url)
        assert resp.status_code == 302 and "/admin/login/" in resp["Location"]
    staff = django_user_model.objects.create_user("staffer", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    for url in urls:  # staff without the permission
        assert client.get(url).status_code == 403, url
    staff.user_permissions.add(Permission.objects.get(codename="view_videoingest"))
    for url in urls:
        assert client.get(url).status_code == 200, url
    # an unknown video
    import uuid

    assert admin_client.get(reverse("admin:video_videoingest_timeline", args=[uuid.uuid4()])).status_code == 404


def test_change_page_shows_each_clips_title_post_text_and_how_they_were_made(admin_client, video):
    video, clips = video
    clips[0].title = "Golden river carry me home"
    clips[0].post_text = "“Golden river carry me home”\n#river"
    clips[0].copy = {"language": "en", "source": "llm", "model": "gpt-4o-mini", "keywords": ["river"]}
    clips[0].save(update_fields=["title", "post_text", "copy"])
    clips[1].copy = {"language": "pt", "source": "local", "keywords": [], "notes": ["fell back to the local text: x"]}
    clips[1].save(update_fields=["copy"])
    html = admin_client.get(reverse("admin:video_videoingest_change", args=[video.pk])).content.decode()
    assert '<i class="clip-title">Golden river carry me home</i>' in html
    assert "“Golden river carry me home”\n#river" in html and "(llm: gpt-4o-mini)" in html
    assert "(local; fell back to the local text: x)" in html
