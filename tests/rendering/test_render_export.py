"""GET /renders/{id}/export?format=otio|edl: a finished variant's plan for an editing tool (owner only)."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from tests.suggestions import conftest as suggestions_fixtures

make_analysed_video = suggestions_fixtures.make_analysed_video
make_track = suggestions_fixtures.make_track
suggested = suggestions_fixtures.suggested

pytestmark = pytest.mark.django_db


def test_a_finished_render_exports_its_plan_and_sidecars_owner_only(api, user, other_user, suggested):
    from jobs.models import Job
    from rendering.engine.edl import plan_render
    from rendering.models import RenderedVariant
    from rendering.services import compact_plan

    ingest, models = suggested(user, music=True)
    hook = next(m for m in models if m.music_offset is not None)
    meta = ingest.analysis.meta
    plan = compact_plan(plan_render(hook.as_engine_clip(), meta, {"fps": 30}, music=True).to_dict())
    job = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest)
    variant = RenderedVariant.objects.create(
        job=job, clip_model=hook, ingest=ingest, index=1, status="done", plan=plan,
        captions={"language": "en", "srt": "renders/x/1.srt"},
    )  # fmt: skip
    r = api.get(f"/renders/{variant.pk}/export?format=otio")
    assert r.status_code == 200 and r["Content-Disposition"].endswith('-1.otio"')
    read = otio.adapters.read_from_string(r.content.decode(), "otio_json")
    clips = list(read.video_tracks()[0].find_clips())
    assert len(clips) == len(plan["segments"])
    for clip, seg in zip(clips, plan["segments"], strict=True):
        assert abs(clip.source_range.start_time.to_seconds() - seg["src_in"]) <= 0.0005
        assert abs(clip.source_range.duration.to_seconds() - seg["duration"]) <= 0.0005
    assert [dict(c) for c in read.metadata["fala"]["captions"]] == [{"format": "srt", "name": f"{hook.template}-1.srt"}]
    e = api.get(f"/renders/{variant.pk}/export?format=edl")
    assert e.status_code == 200 and e["Content-Type"].startswith("text/plain")
    assert otio.adapters.read_from_string(e.content.decode(), "cmx_3600", rate=float(meta["fps"])).tracks
    assert api.get(f"/renders/{variant.pk}/export?format=mov").json()["error"]["code"] == "invalid_format"
    variant.status = "rendering"
    variant.save(update_fields=["status"])
    assert api.get(f"/renders/{variant.pk}/export?format=otio").status_code == 404  # not finished
    theirs, their_models = suggested(other_user, music=False)
    job2 = Job.objects.create(kind="clip_pipeline", owner=other_user, video_ingest=theirs)
    other = RenderedVariant.objects.create(
        job=job2, clip_model=their_models[0], ingest=theirs, index=1, status="done", plan=plan
    )
    assert api.get(f"/renders/{other.pk}/export?format=otio").status_code == 404
