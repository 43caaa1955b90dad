"""The whole clip pipeline through real workers on generated media."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job, JobEvent
from rendering.models import RenderedVariant
from tests.procwatch import child_pids, proc_alive, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _submit(api, video: Path, music_id: str | None = None, **opts):
    data = {"file": SimpleUploadedFile("source.mp4", video.read_bytes()), "target_length_s": 15, **opts}
    if music_id:
        data["music_id"] = music_id
    resp = api.post("/videos", data, format="multipart")
    assert resp.status_code == 202, resp.json()
    return resp.json()


def _progress_events(job_id: str) -> list[dict]:
    return list(JobEvent.objects.filter(job_id=job_id, type="progress").order_by("id").values_list("data", flat=True))


def _check_progress(events: list[dict], total: int) -> None:
    """percent rises monotonically to 100 per variant; the counters are right at every step."""
    by_variant: dict[int, list[float]] = {}
    for ev in events:
        assert ev["total_variants"] == total
        v = ev.get("rendering_variant")
        if v is None:
            continue
        assert ev["completed_variants"] in (v - 1, v), ev  # v-1 while rendering, v once stored
        if ev["completed_variants"] == v:
            assert ev["percent"] == 100.0
        by_variant.setdefault(v, []).append(ev["percent"])
    assert sorted(by_variant) == list(range(1, total + 1))
    for v, percents in by_variant.items():
        assert percents == sorted(percents), f"variant {v} percent went back: {percents}"
        assert percents[0] == 0.0 and percents[-1] == 100.0
        assert len(percents) >= 3


def _ffmpeg_processes_mentioning(text: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            raw = cmdline.read_bytes()
        except OSError:
            continue
        if b"ffmpeg" in raw and text.encode() in raw and proc_alive(int(cmdline.parent.name)):
            pids.append(int(cmdline.parent.name))
    return pids


def test_pipeline_without_music(api, e2e, small_media, settings):
    body = _submit(api, small_media["video"])
    job_id, video_id = body["job"]["id"], body["video"]["id"]
    proc = e2e()
    out, _ = proc.communicate(timeout=900)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "done", out[-4000:]
    assert [e["to_status"] for e in job["events"] if e["type"] == "transition"] == [
        "queued",
        "analyzing",
        "rendering",
        "done",
    ]
    assert job["links"]["suggestions"] == f"/videos/{video_id}/suggestions"
    sugg = api.get(f"/videos/{video_id}/suggestions").json()
    assert [c["template"] for c in sugg["clip_models"]] and len(sugg["clip_models"]) == 2
    assert {c["template"] for c in sugg["clip_models"]} == {"highlight", "beat_montage"}
    starts = [c["start"] for c in sugg["clip_models"]]
    assert abs(starts[0] - starts[1]) >= 5.0
    for c in sugg["clip_models"]:
        assert c["music_offset"] is None
        assert c["score"] == pytest.approx(sum(c["breakdown"].values()), abs=1e-3)
    _check_progress(_progress_events(job_id), total=2)

    # the previews were made by the worker's job, before the renders, and are served
    assert sugg["previews_url"] == f"/videos/{video_id}/previews"
    previews = api.get(sugg["previews_url"]).json()["results"]
    assert len(previews) == 2 and all(p["ready"] for p in previews), previews

    renders = api.get(f"/videos/{video_id}/renders").json()["results"]
    assert [r["status"] for r in renders] == ["done", "done"]
    for r in renders:
        assert (r["width"], r["height"]) == (1080, 1920)
        assert abs(r["av_offset_s"]) <= 1 / 30
        assert r["download_url"] == f"/renders/{r['id']}/download"
        resp = api.get(r["download_url"])
        assert resp.status_code == 200 and resp["Content-Type"] == "video/mp4"
        data = b"".join(resp.streaming_content)
        assert data[4:8] == b"ftyp" and len(data) == r["size_bytes"]
    # sequential: variants never overlap in time
    spans = sorted(RenderedVariant.objects.filter(job_id=job_id).values_list("started_at", "finished_at"))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start
    # delivered: the workspace is gone, the rows remain
    assert not (Path(settings.WORK_DIR) / "jobs" / job_id).exists()
    assert Job.objects.get(pk=job_id).workspace_removed_at is not None
    assert RenderedVariant.objects.filter(job_id=job_id).count() == 2


def test_pipeline_with_music_three_models_on_the_beat(api, e2e, small_media):
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        music = api.post(
            "/music",
            {
                "file": SimpleUploadedFile("t.wav", small_media["music"].read_bytes()),
                "title": "Track",
                "language": "en",
            },
            format="multipart",
        ).json()
    body = _submit(api, small_media["video"], music_id=music["music"]["id"])
    proc = e2e()
    out, _ = proc.communicate(timeout=900)
    job = api.get(f"/jobs/{body['job']['id']}").json()
    assert job["status"] == "done", out[-4000:]
    sugg = api.get(f"/videos/{body['video']['id']}/suggestions").json()
    templates = [c["template"] for c in sugg["clip_models"]]
    assert sorted(templates) == ["beat_montage", "highlight", "hook"], sugg["reasons"]
    starts = sorted(c["start"] for c in sugg["clip_models"])
    assert all(b - a >= 5.0 for a, b in zip(starts, starts[1:]))
    beats = [b["time"] for b in api.get(f"/music/{music['music']['id']}/analysis").json()["analysis"]["beats"]]
    montage = next(c for c in sugg["clip_models"] if c["template"] == "beat_montage")
    assert montage["music_offset"] is not None and len(montage["edl"]) >= 2
    for seg in montage["edl"][1:]:  # every cut lands on a beat of the track (within one frame)
        t = montage["music_offset"] + seg["position"]
        assert min(abs(t - b) for b in beats) <= 1 / 30 + 1e-6
    renders = api.get(f"/videos/{body['video']['id']}/renders").json()["results"]
    assert [r["status"] for r in renders] == ["done"] * 3
    # the track plays under the clips cut to it; the highlight keeps the source's own sound
    by_model = {c["id"]: c for c in sugg["clip_models"]}
    for r in renders:
        cm = by_model[r["clip_model_id"]]
        assert r["plan"]["audio"] == ("source" if cm["music_offset"] is None else "music"), (cm["template"], r["plan"])
    # every variant's loudness was measured ahead (during the previews and the earlier encodes)
    # and its render skipped that pass
    for v in RenderedVariant.objects.filter(job_id=body["job"]["id"]):
        assert v.timings["loudness"] == 0.0 and v.timings["loudness_ahead"] > 0, v.timings
        assert any("measured ahead" in line for line in v.log), v.log
    _check_progress(_progress_events(body["job"]["id"]), total=3)


def test_killed_render_resumes_without_redoing_finished_variants(api, e2e, small_media):
    body = _submit(api, small_media["video"])
    job_id = body["job"]["id"]
    proc = e2e(burst=False)

    def variant_one_done():
        return RenderedVariant.objects.filter(job_id=job_id, index=1, status="done").first()

    first = wait_until(variant_one_done, timeout=600, interval=0.3)
    assert first is not None, "variant 1 never finished"
    # kill the work-horse (ffmpeg's parent) while variant 2 renders
    horses = child_pids(proc.pid)
    assert horses, "no work-horse found"
    encoders = wait_until(lambda: _ffmpeg_processes_mentioning(job_id), timeout=60)
    assert encoders, "variant 2 is not rendering"
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    # the horse's ffmpeg dies with it (PR_SET_PDEATHSIG acts at once): within a second no orphan
    # keeps writing the workspace (an orphan encoder would still be running then)
    wait_until(lambda: not any(proc_alive(p) for p in encoders), timeout=1.0)
    assert [p for p in encoders if proc_alive(p)] == []
    wait_until(lambda: Job.objects.get(pk=job_id).status == "done", timeout=600, interval=0.5)
    job = Job.objects.get(pk=job_id)
    assert job.status == "done", job.error_message
    assert job.attempts == 2
    again = RenderedVariant.objects.get(pk=first.pk)
    assert again.finished_at == first.finished_at and again.file == first.file  # not redone
    assert JobEvent.objects.filter(job_id=job_id, message="variant 1 already rendered; skipped").exists()
    assert RenderedVariant.objects.filter(job_id=job_id, status="done").count() == 2
