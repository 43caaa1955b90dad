"""Clip previews: the contact sheet (one frame per cut, in output order, labelled) and the 6-s
low-resolution video (the clip's first seconds through the real engine), their storage and
records, the pipeline step that never fails the job, and the owner-only API.

The source: 8 s of four 2-s solid colour blocks (red, green, blue, white; 320x180, 25 fps,
a keyframe a second) with a 440 Hz tone, so each tile and each preview frame can be checked
against the colour of the source span it came from.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rendering.previews import (
    PREVIEW_SECONDS,
    SHEET_COLUMNS,
    make_previews,
    sheet_frames,
    truncate_clip,
)
from tests.media_factory import music_bed, read_frame
from tests.rendering.conftest import BLOCK_S, COLOURS, META, clip_spec


def _colour_at(t: float) -> str:
    return list(COLOURS)[int(t // BLOCK_S)]


def _probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def _dominant(pixels: np.ndarray) -> str:
    mean = pixels.reshape(-1, 3).mean(axis=0)
    return min(COLOURS, key=lambda c: float(np.abs(mean - np.array(COLOURS[c])).sum()))


# --------------------------------------------------------------------------- generation


def test_sheet_frames_one_per_cut_inside_each_cut():
    keys = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]

    def key_before(t):
        return max((k for k in keys if k <= t + 1e-9), default=None)

    clip = clip_spec((4.5, 5.5), (0.2, 1.0), (2.5, 3.9), (3.2, 3.8))
    frames = sheet_frames(clip, key_before=key_before)
    assert [f.cut for f in frames] == [1, 2, 3, 4]
    assert [round(f.position, 3) for f in frames] == [0.0, 1.0, 1.8, 3.2]
    for f in frames:
        assert f.src_in <= f.time < f.src_out
    # a keyframe inside the cut is used (a seek there decodes one frame): before the middle,
    # else after it; none inside -> just after the start
    assert frames[0].time == 5.0
    assert frames[1].time == pytest.approx(0.32)
    assert frames[2].time == 3.0
    assert frames[3].time == pytest.approx(3.32)
    # without keyframe look-ups, near each start
    assert [round(f.time, 2) for f in sheet_frames(clip)] == [4.62, 0.32, 2.62, 3.32]
    # a long montage is sampled evenly, first and last cut kept
    many = sheet_frames(clip_spec(*[(i * 0.1, i * 0.1 + 0.1) for i in range(70)]), max_frames=10)
    assert len(many) == 10 and many[0].cut == 1 and many[-1].cut == 70


def test_truncate_clip_keeps_the_first_seconds():
    clip = clip_spec((4.0, 8.0), (0.0, 3.0), music_offset=1.0, music_duration=7.0)
    short = truncate_clip(clip, 6.0)
    assert [(e["src_in"], e["src_out"], e["position"]) for e in short["edl"]] == [(4.0, 8.0, 0.0), (0.0, 2.0, 4.0)]
    assert short["duration"] == pytest.approx(6.0) and short["music_duration"] == pytest.approx(6.0)
    assert short["music_offset"] == 1.0
    # a last piece that would be a sliver (here 0.05 s) is left out: the preview ends at the cut before
    montage = clip_spec((0.0, 2.95), (3.0, 5.95), (6.0, 8.0))
    assert [e["src_in"] for e in truncate_clip(montage, 6.0)["edl"]] == [0.0, 3.0]
    assert truncate_clip(montage, 6.0)["duration"] == pytest.approx(5.9)


@pytest.mark.parametrize("rotation", [0, 180])
def test_previews_of_a_montage(source, tmp_path, rotation):
    # cuts in blue, red, green, white, then red again: 1.5 + 2 + 1 + 1 + 1.5 = 7 s
    clip = clip_spec((4.2, 5.7), (0.0, 2.0), (2.3, 3.3), (6.5, 7.5), (0.4, 1.9))
    # rotation 180 (same size): the sheet's frames come from ffmpeg instead of PyAV
    files = make_previews(str(source), clip, tmp_path, meta={**META, "rotation": rotation}, stem="m")

    # the contact sheet: one tile per cut, in output order, each the colour of its cut
    assert [f.cut for f in files.frames] == [1, 2, 3, 4, 5]
    sheet = Image.open(files.contact_sheet)
    sheet.load()
    assert sheet.format == "JPEG" and sheet.size == files.sheet_size
    cols = min(SHEET_COLUMNS, len(files.frames))
    tile_w, tile_h = 256, 144
    assert sheet.size[0] == cols * (tile_w + 4) + 4
    px = np.asarray(sheet.convert("RGB"))
    for n, frame in enumerate(files.frames):
        x0, y0 = 4 + (n % cols) * (tile_w + 4), 4 + (n // cols) * (tile_h + 18 + 4)
        # the middle of the tile, inside the crop outline
        tile = px[y0 + 40 : y0 + tile_h - 40, x0 + 100 : x0 + tile_w - 100]
        assert _dominant(tile) == _colour_at(frame.time), (n, frame)
        assert _colour_at(frame.time) == _colour_at(frame.src_in)
        # the label strip under the tile has text (light pixels on the dark background)
        label = px[y0 + tile_h + 2 : y0 + tile_h + 16, x0 : x0 + tile_w]
        assert (label.max(axis=2) > 150).sum() > 30
    # the 9:16 window (centred, 180*9/16 px of the 320 px width) is outlined in yellow on the
    # blue first tile: red shows only in the outline's two columns
    first = px[4 : 4 + tile_h, 4 : 4 + tile_w].astype(int)
    outline = np.flatnonzero(first[..., 0].mean(axis=0) > 100)
    assert len(outline) >= 2
    assert outline.max() - outline.min() == pytest.approx(180 * 9 / 16 * tile_w / 320, abs=4)
    assert (outline.max() + outline.min()) / 2 == pytest.approx(tile_w / 2, abs=3)

    # the preview video: 6 s at 270x480 with audio, following the EDL's first 6 s
    info = _probe(files.video)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (270, 480)
    assert any(s["codec_type"] == "audio" for s in info["streams"])
    assert float(info["format"]["duration"]) == pytest.approx(PREVIEW_SECONDS, abs=0.1)
    assert files.video_duration == pytest.approx(PREVIEW_SECONDS, abs=0.04)
    for t, colour in ((0.5, "blue"), (2.5, "red"), (4.0, "green"), (5.2, "white")):
        assert _dominant(read_frame(files.video, t, 270, 480)) == colour, t
    assert set(files.timings) == {"contact_sheet", "video", "total"}


def test_previews_with_music_and_a_single_cut(source, tmp_path):
    music = music_bed(tmp_path / "bed.m4a", duration=10.0)
    clip = clip_spec((0.5, 7.5), music_offset=2.0, music_duration=7.0)
    files = make_previews(str(source), clip, tmp_path, meta=META, stem="s", aspect="1:1", music=str(music))
    assert len(files.frames) == 1
    assert Image.open(files.contact_sheet).size == (256 + 8, 144 + 18 + 8)
    info = _probe(files.video)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (270, 270)
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert int(audio["channels"]) == 2  # the music bed (the source's tone is mono)
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.1)


# --------------------------------------------------------------------------- storage, pipeline, API


@pytest.mark.django_db
def test_pipeline_step_stores_and_records_previews(video_with_clips, source, tmp_path):
    from fala_clip.media.workspace import workspace_for
    from fala_clip.pipeline import step_previews
    from fala_clip.storage import get_storage
    from jobs.models import Job
    from jobs.runner import JobContext
    from rendering.models import ClipPreview

    video, analysis, clips, job = video_with_clips
    ctx = JobContext(job)
    ws = workspace_for(job.pk).create()
    step_previews(ctx, video, analysis, clips, source, ws, video=True)  # PREVIEW_VIDEO=ahead's step

    previews = {p.clip_model.rank: p for p in ClipPreview.objects.select_related("clip_model")}
    assert set(previews) == {1, 2}
    storage = get_storage()
    for rank, p in previews.items():
        assert storage.exists(p.contact_sheet) and storage.exists(p.video)
        assert p.contact_sheet.startswith(f"previews/{video.owner_id}/{video.pk}/")
        assert len(p.frames) == (1 if rank == 1 else 3)
        # the clip's first 6 s, or all of a shorter clip (rank 2 is 3 s long)
        assert p.timings["video_duration"] == pytest.approx(min(6.0, p.clip_model.duration), abs=0.04)
        assert p.timings["total"] > 0
    assert [f["cut"] for f in previews[2].frames] == [1, 2, 3]
    job = Job.objects.get(pk=job.pk)
    assert "previews" in job.stage_timings and "previews.clip_2" in job.stage_timings
    assert job.progress["previews_done"] == 2
    assert job.result["previews_url"] == f"/videos/{video.pk}/previews"
    assert any("previews: 2 made" in e.message for e in job.events.all())

    # a retried job keeps what is there
    step_previews(ctx, video, analysis, clips, source, ws, video=True)
    assert ClipPreview.objects.count() == 2
    assert any("previews: 0 made, 2 kept" in e.message for e in Job.objects.get(pk=job.pk).events.all())


@pytest.mark.django_db
def test_a_failed_preview_does_not_fail_the_job(video_with_clips, tmp_path):
    from fala_clip.media.workspace import workspace_for
    from fala_clip.pipeline import step_previews
    from jobs.models import Job
    from jobs.runner import JobContext
    from rendering.models import ClipPreview

    video, analysis, clips, job = video_with_clips
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    for with_video in (True, False):  # PREVIEW_VIDEO=ahead's step, then render's (the sheets alone)
        step_previews(JobContext(job), video, analysis, clips, broken, workspace_for(job.pk).create(), video=with_video)
        assert ClipPreview.objects.count() == 0
    messages = [e.message for e in Job.objects.get(pk=job.pk).events.all()]
    assert sum("preview of clip model #" in m and "failed" in m for m in messages) == 4
    assert sum("previews: 0 made, 0 kept, 2 failed" in m for m in messages) == 2
    assert "previews_url" not in (Job.objects.get(pk=job.pk).result or {})


@pytest.mark.django_db
def test_preview_api_owner_only(
    video_with_clips, source, api, make_artist, tmp_path, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    from rendering.previews import clip_preview_build

    video, analysis, clips, job = video_with_clips
    base = f"/videos/{video.pk}"

    # before the previews: listed, not ready; the files answer 404 not_ready
    resp = api.get(f"{base}/previews")
    assert resp.status_code == 200
    assert [(r["rank"], r["ready"], r["preview_url"]) for r in resp.json()["results"]] == [
        (1, False, None),
        (2, False, None),
    ]
    resp = api.get(f"{base}/suggestions/2/preview")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_ready"

    clip_preview_build(clip_model=clips[1], analysis=analysis, source_path=source, out_dir=tmp_path)
    rows = api.get(f"{base}/previews").json()["results"]
    assert rows[1]["ready"] is True and rows[0]["ready"] is False
    assert rows[1]["contact_sheet_url"] == f"{base}/suggestions/2/contact-sheet"
    assert rows[1]["preview_url"] == f"{base}/suggestions/2/preview"
    assert len(rows[1]["frames"]) == 3 and rows[1]["video_duration"] == pytest.approx(3.0, abs=0.04)

    resp = api.get(rows[1]["contact_sheet_url"])
    assert resp.status_code == 200 and resp["Content-Type"] == "image/jpeg"
    img = Image.open(io.BytesIO(b"".join(resp.streaming_content)))
    assert img.format == "JPEG" and img.size[0] > 0
    resp = api.get(rows[1]["preview_url"])
    assert resp.status_code == 200 and resp["Content-Type"] == "video/mp4"
    body = b"".join(resp.streaming_content)
    assert body[4:8] == b"ftyp"

    # no such rank, another artist, anonymous
    for rank in ("7", "0", str(2**70), "-1", "x"):
        resp = api.get(f"{base}/suggestions/{rank}/preview")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", rank
    _, bob_token = make_artist("bob")
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Token {bob_token}")
    for path in ("previews", "suggestions/2/preview", "suggestions/2/contact-sheet"):
        resp = bob.get(f"{base}/{path}")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", path
    assert APIClient().get(f"{base}/suggestions/2/preview").status_code == 401

    # a clip of a set that is no longer current is not served
    sets = clips[1].suggestion_set.__class__.objects.filter(pk=clips[1].suggestion_set_id)
    sets.update(is_current=False)
    assert api.get(f"{base}/suggestions/2/preview").status_code == 404
    assert api.get(f"{base}/previews").json()["results"] == []

    # deleting the clip model (here with its whole set) deletes the preview's files once committed
    from fala_clip.storage import get_storage
    from rendering.models import ClipPreview

    preview = ClipPreview.objects.get(clip_model=clips[1])
    assert get_storage().exists(preview.video) and get_storage().exists(preview.contact_sheet)
    with django_capture_on_commit_callbacks(execute=True):
        sets.delete()
    assert not ClipPreview.objects.exists()
    assert not get_storage().exists(preview.video) and not get_storage().exists(preview.contact_sheet)


# --------------------------------------------------------------------------- PREVIEW_VIDEO=render


def test_preview_frames_end_on_a_whole_piece():
    from rendering.engine import plan_render, preview_frames

    def frames(*spans):
        return preview_frames(plan_render(clip_spec(*spans), META, {"width": 270, "height": 480}), 6.0)

    # the output's 30 fps (the render's default)
    assert frames((0.0, 5.0), (5.0, 8.0)) == 180  # 6 s, inside the second cut
    assert frames((0.0, 5.9), (6.0, 8.0)) == 177  # 0.1 s of the next cut: ends before it
    assert frames((0.5, 3.5)) == 90  # a shorter clip: all of it


def test_build_command_adds_the_preview_output(source):
    from rendering.engine import PreviewOutput, build_command

    cmd = build_command(
        str(source), clip_spec((0.2, 7.2)), "/tmp/main.mp4", meta=META,
        settings={"width": 540, "height": 960}, preview=PreviewOutput(path="/tmp/p.mp4", width=270, height=480),
    )  # fmt: skip
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert "[vout]split=2[vmain][vp0]" in graph and "trim=end_frame=180,scale=270:480" in graph
    assert "atrim=end_sample=288000" in graph  # 6 s at 48 kHz
    maps = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-map"]
    assert maps == ["[vmain]", "[amain]", "[vprev]", "[aprev]"]
    # each output's own options sit before its path: the deliverable's, then the preview's
    assert cmd.index("/tmp/main.mp4") < cmd.index("ultrafast") < cmd[-1:].index("/tmp/p.mp4") + len(cmd) - 1
    assert cmd[-1] == "/tmp/p.mp4"


def test_a_render_writes_the_preview_of_its_first_seconds(source, tmp_path):
    """The preview is the deliverable's first 6 s, scaled down: same cuts, same colours, its sound."""
    from rendering.engine import PreviewOutput, render_variant

    clip = clip_spec((4.2, 5.2), (0.1, 3.1), (2.2, 5.2))  # blue; red, green; green (to 5.8 s), blue
    result = render_variant(
        str(source), clip, str(tmp_path / "main.mp4"), meta=META,
        settings={"width": 360, "height": 640, "preset": "ultrafast"},
        preview=PreviewOutput(path=str(tmp_path / "prev.mp4"), width=270, height=480),
    )  # fmt: skip
    assert result.verify["ok"], result.verify
    assert result.preview["frames"] == 180 and result.preview["duration"] == pytest.approx(6.0)
    assert not list(tmp_path.glob("*.part"))
    info = _probe(tmp_path / "prev.mp4")
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (270, 480) and int(video["nb_frames"]) == 180
    assert any(s["codec_type"] == "audio" for s in info["streams"])
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.1)
    for t, colour in ((0.5, "blue"), (1.5, "red"), (3.5, "green"), (5.5, "green")):
        assert _dominant(read_frame(tmp_path / "prev.mp4", t, 270, 480)) == colour, t
        assert _dominant(read_frame(tmp_path / "main.mp4", t, 360, 640)) == colour, t


def test_a_failed_render_leaves_no_preview(source, tmp_path):
    from rendering.engine import PreviewOutput, RenderError, render_variant

    with pytest.raises(RenderError):
        render_variant(
            str(source), clip_spec((0.2, 7.2)), str(tmp_path / "main.mp4"), meta=META,
            settings={"width": 360, "height": 640, "preset": "no-such-preset"},
            preview=PreviewOutput(path=str(tmp_path / "prev.mp4"), width=270, height=480),
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def _render_job(video, analysis, clips, job, source):
    from fala_clip.media.workspace import workspace_for
    from jobs.runner import JobContext
    from rendering.services import render_all_variants

    render_all_variants(
        ctx=JobContext(job), ingest=video, analysis=analysis, clip_models=clips, source_path=source,
        workspace=workspace_for(job.pk).create(),
    )  # fmt: skip


@pytest.mark.django_db
def test_sheets_first_then_each_render_brings_its_preview_video(video_with_clips, source, api, settings):
    """PREVIEW_VIDEO=render (the default): the step makes the contact sheets; each clip's render
    writes its preview video, stored and served with the sheet; nothing is left to make after."""
    from fala_clip.media.workspace import workspace_for
    from fala_clip.pipeline import step_previews, step_previews_missing
    from fala_clip.storage import get_storage, open_stored
    from jobs.models import Job
    from jobs.runner import JobContext
    from rendering.models import ClipPreview, RenderedVariant

    assert settings.PREVIEW_VIDEO == "render"
    settings.RENDER_PRESET = "ultrafast"
    video, analysis, clips, job = video_with_clips
    ws = workspace_for(job.pk).create()
    step_previews(JobContext(job), video, analysis, clips, source, ws)
    rows = {p.clip_model.rank: p for p in ClipPreview.objects.select_related("clip_model")}
    assert set(rows) == {1, 2} and all(p.contact_sheet and not p.video for p in rows.values())
    assert [f["cut"] for f in rows[2].frames] == [1, 2, 3]
    base = f"/videos/{video.pk}"
    listed = api.get(f"{base}/previews").json()["results"]
    assert [(r["ready"], r["contact_sheet_url"] is not None, r["preview_url"]) for r in listed] == [
        (False, True, None),
        (False, True, None),
    ]
    resp = api.get(f"{base}/suggestions/1/preview")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_ready"
    assert "previews.clip_2" in Job.objects.get(pk=job.pk).stage_timings

    _render_job(video, analysis, clips, job, source)
    assert RenderedVariant.objects.filter(job=job, status="done").count() == 2
    storage = get_storage()
    for p in ClipPreview.objects.select_related("clip_model"):
        assert p.video and storage.exists(p.video) and storage.exists(p.contact_sheet)
        assert p.timings["video_from"] == "render"
        # the clip's first 6 s, or all of the 3-s montage
        assert p.timings["video_duration"] == pytest.approx(min(6.0, p.clip_model.duration), abs=0.04)
        assert p.timings["contact_sheet"] > 0  # the sheet's record is kept
    rank1 = ClipPreview.objects.get(clip_model=clips[0])
    local = Path(ws.processed) / "check.mp4"
    with open_stored(rank1.video) as fh:
        local.write_bytes(fh.read())
    info = _probe(local)
    video_stream = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video_stream["width"], video_stream["height"]) == (270, 480)
    assert _dominant(read_frame(local, 0.5, 270, 480)) == "red"  # source 0.7 s
    assert _dominant(read_frame(local, 4.5, 270, 480)) == "blue"  # source 4.7 s
    listed = api.get(f"{base}/previews").json()["results"]
    assert all(r["ready"] and r["preview_url"] == f"{base}/suggestions/{r['rank']}/preview" for r in listed)
    assert api.get(f"{base}/suggestions/2/preview").status_code == 200
    assert not list(Path(ws.processed).glob("clip-*-preview.mp4*"))  # stored, not left behind

    step_previews_missing(JobContext(job), video, analysis, clips, source, ws)
    assert "previews_missing" not in Job.objects.get(pk=job.pk).stage_timings


@pytest.mark.django_db
def test_a_clip_rendered_before_a_retry_gets_its_preview_after_the_renders(video_with_clips, source, settings):
    """A variant stored before the retry is not rendered again, so no render brings its preview
    video: it is made the separate way after the renders."""
    from fala_clip.media.workspace import workspace_for
    from fala_clip.pipeline import step_previews, step_previews_missing
    from jobs.models import Job
    from jobs.runner import JobContext
    from rendering.models import ClipPreview, RenderedVariant

    settings.RENDER_PRESET = "ultrafast"
    video, analysis, clips, job = video_with_clips
    ws = workspace_for(job.pk).create()
    step_previews(JobContext(job), video, analysis, clips, source, ws)
    RenderedVariant.objects.create(job=job, clip_model=clips[0], ingest=video, index=1, status="done", file="x")
    _render_job(video, analysis, clips, job, source)
    assert not ClipPreview.objects.get(clip_model=clips[0]).video
    assert ClipPreview.objects.get(clip_model=clips[1]).timings["video_from"] == "render"

    step_previews_missing(JobContext(job), video, analysis, clips, source, ws)
    p1 = ClipPreview.objects.get(clip_model=clips[0])
    assert p1.video and p1.timings["video_duration"] == pytest.approx(6.0, abs=0.04) and "video" in p1.timings
    job = Job.objects.get(pk=job.pk)
    assert "previews_missing" in job.stage_timings
    assert any("previews: 1 made" in e.message for e in job.events.all())


def test_preview_video_setting_is_validated():
    import os
    import sys

    env = {**os.environ, "PREVIEW_VIDEO": "later", "DJANGO_SETTINGS_MODULE": "fala_clip.settings.base"}
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "PREVIEW_VIDEO must be render or ahead" in proc.stderr
