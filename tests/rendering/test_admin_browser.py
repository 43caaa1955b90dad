"""The videos admin in a real headless browser, served the real way.

Same setup as ``tests/e2e/test_browser.py`` (its fixtures are reused: gunicorn after
``collectstatic`` with the base settings and DEBUG off, Debian's chromium through
chromium-driver, only 127.0.0.1 reachable).  A manager with the view permission logs in and
opens a video: the timeline picture is decoded by the browser, and a screenshot of it shows
the analysis curves and the clips in their colours; each clip's contact sheet decodes and its
preview video loads with the preview's duration.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    assert_only_loopback,
    browser,
    live_url,
    page,
    requested_urls,
    server_env,
    wait_for,
)
from tests.rendering.conftest import create_video_with_clips

pytestmark = pytest.mark.slow

from PIL import Image  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

from rendering.timeline import VIDEO_LANES, clip_colour  # noqa: E402


@pytest.fixture
def served_media(settings, server_env):  # noqa: F811  (the imported fixture)
    """Storage writes where the served app reads (its MEDIA_ROOT)."""
    from django.core.files.storage import storages

    settings.MEDIA_ROOT = server_env["MEDIA_ROOT"]
    storages._storages = {}
    yield
    storages._storages = {}


def _colour_pixels(img: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(img - np.array(colour)).sum(axis=2) < tol).sum())


def test_a_manager_sees_the_timeline_and_the_clip_previews(
    page,  # noqa: F811  (the imported fixtures)
    live_url,  # noqa: F811
    transactional_db,
    served_media,
    make_artist,
    source,
    tmp_path,
):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import Permission, User

    from rendering.previews import clip_preview_build

    # Given an artist's video with two proposed clips, their previews and a track
    artist, _ = make_artist("alice")
    video, analysis, clips, _ = create_video_with_clips(artist, source, with_music=True)
    for cm in clips:
        clip_preview_build(clip_model=cm, analysis=analysis, source_path=source, out_dir=tmp_path)
    # and a manager allowed to view videos
    hasher = PBKDF2PasswordHasher()
    manager = User.objects.create(username="editor", password=hasher.encode(PASSWORD, hasher.salt()), is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="view_videoingest"))

    # When the manager logs in and opens the video
    path = f"/admin/video/videoingest/{video.pk}/change/"
    page.get(f"{live_url}/admin/login/?next={path}")
    page.find_element(By.ID, "id_username").send_keys("editor")
    page.find_element(By.ID, "id_password").send_keys(PASSWORD)
    page.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait_for(page, ec.presence_of_element_located((By.ID, "video-timeline")), "the timeline picture")

    # Then the timeline picture is decoded with a real size
    img = page.find_element(By.ID, "video-timeline")
    wait_for(page, lambda d: d.execute_script("return arguments[0].complete", img), "the timeline to load")
    natural = page.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img)
    assert natural[0] == 1400 and natural[1] > 400, natural
    # and a screenshot of it as the page shows it (scaled to the column) is not blank
    page.execute_script("arguments[0].scrollIntoView()", img)
    shown = np.asarray(Image.open(io.BytesIO(img.screenshot_as_png)).convert("RGB")).astype(int)
    assert shown.shape[0] > 100 and shown.shape[1] > 300
    assert shown.std() > 20
    # and at its natural size it shows every curve and both clips in their colours
    page.set_window_size(1800, 1100)
    page.execute_script("arguments[0].style.maxWidth = 'none'; arguments[0].scrollIntoView()", img)
    shot = np.asarray(Image.open(io.BytesIO(img.screenshot_as_png)).convert("RGB")).astype(int)
    assert shot.shape[1] >= 1400, shot.shape
    for key, _, colour in VIDEO_LANES:
        assert _colour_pixels(shot, colour) > 50, key
    for cm in clips:
        assert _colour_pixels(shot, clip_colour(cm.rank), tol=25) > 200, cm.rank

    # and each clip's contact sheet decodes, and its preview video loads with its duration
    rows = page.find_elements(By.CSS_SELECTOR, "#clip-previews .clip-row")
    assert len(rows) == 2
    sheets = page.find_elements(By.CSS_SELECTOR, "img.clip-contact-sheet")
    for sheet in sheets:
        page.execute_script("arguments[0].scrollIntoView()", sheet)
        wait_for(page, lambda d, s=sheet: d.execute_script("return arguments[0].complete", s), "a contact sheet")
        assert page.execute_script("return arguments[0].naturalWidth", sheet) > 0
    widths = [page.execute_script("return arguments[0].naturalWidth", s) for s in sheets]
    assert widths[1] > widths[0]  # three cuts against one
    videos = page.find_elements(By.CSS_SELECTOR, "video.clip-preview")
    assert len(videos) == 2
    durations = []
    for v in videos:
        wait_for(page, lambda d, v=v: d.execute_script("return arguments[0].readyState >= 1", v), "video metadata")
        durations.append(page.execute_script("return arguments[0].duration", v))
    assert durations[0] == pytest.approx(6.0, abs=0.1) and durations[1] == pytest.approx(3.0, abs=0.1)
    assert_only_loopback(requested_urls(page), live_url)
