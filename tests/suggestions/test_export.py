"""Export of clip models and rendered variants for editors: OpenTimelineIO and CMX 3600 EDL.

Everything exported is read back with OpenTimelineIO itself (``otio_json`` and the
``cmx_3600`` adapter package) and compared with the clip's EDL.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from suggestions.export import (
    AUDIO_RATE,
    ExportError,
    Media,
    otio_json,
    parse_rate,
    quantise,
    reel_name,
    timecode,
    timeline_from_clip_model,
    timeline_from_plan,
    to_cmx3600,
)


def _video_clips(timeline):
    return [c for c in timeline.video_tracks()[0].find_clips()]


def _record_starts(track):
    return [track.range_of_child(c).start_time for c in track.find_clips()]


# --------------------------------------------------------------------------- quantisation


def test_quantisation_is_the_renderers(settings):
    """The export cuts exactly the frames the renderer would (source rate, snap to source frames)."""
    from rendering.engine.edl import plan_render

    edl = [
        {"src_in": 10.02, "src_out": 12.51, "position": 0.0, "duration": 2.49},
        {"src_in": 40.0, "src_out": 41.333, "position": 2.49, "duration": 1.333},
        {"src_in": 3.3333, "src_out": 5.0, "position": 3.823, "duration": 1.6667},
    ]
    for fps in (25.0, 24.0, 30000 / 1001):
        plan = plan_render(
            {"edl": edl}, {"fps": fps, "width": 1280, "height": 720, "duration": 60.0}, {"fps": "source"}
        )
        cuts = quantise(edl, parse_rate(fps))
        rate = parse_rate(fps)
        assert [(c.src_in, c.frames) for c in cuts] == [
            (round(Fraction(s.src_in) * rate), s.frames) for s in plan.segments
        ]
        # every in point within half a frame of the EDL, record in points contiguous
        for cut, item in zip(cuts, edl, strict=True):
            assert abs(cut.src_in / rate - item["src_in"]) <= 1 / (2 * rate)
        assert [c.record_in for c in cuts] == [0, cuts[0].frames, cuts[0].frames + cuts[1].frames]
        total = sum(i["src_out"] - i["src_in"] for i in edl)
        assert abs(sum(c.frames for c in cuts) / rate - total) <= 1 / (2 * rate)


def test_invalid_edls_are_refused():
    with pytest.raises(ExportError):
        quantise([], Fraction(25))
    with pytest.raises(ExportError):
        quantise([{"src_in": 5.0, "src_out": 4.0}], Fraction(25))
    with pytest.raises(ExportError):
        quantise([{"src_in": 5.0, "src_out": 5.01}], Fraction(25))  # under one frame
    with pytest.raises(ExportError):
        parse_rate("0/1")
    assert parse_rate(29.97) == parse_rate(30000 / 1001) == Fraction(30000, 1001)
    assert parse_rate(59.94) == Fraction(60000, 1001) and parse_rate(25) == 25 and parse_rate("24/1") == 24


def test_timecodes_and_reels():
    assert timecode(0, Fraction(25)) == "00:00:00:00"
    assert timecode(25 * 3600 + 25 * 61 + 3, Fraction(25)) == "01:01:01:03"
    assert timecode(30, Fraction(30000, 1001)) == "00:00:01:00"  # NDF at the nominal 30
    used: set[str] = set()
    assert reel_name("Meu vídeo final.mp4", used) == "MEUVIDEO"
    assert reel_name("meu-video-2.mov", used) == "MEUVIDE2"  # unique within the list
    assert reel_name("😀.mp4") == "AX"


# --------------------------------------------------------------------------- round trips


CLIP = {
    "edl": [
        {"src_in": 10.02, "src_out": 12.51, "position": 0.0, "duration": 2.49},
        {"src_in": 40.0, "src_out": 41.333, "position": 2.49, "duration": 1.333},
    ],
    "music_offset": 31.2345,
    "music_duration": 3.823,
}


@pytest.mark.parametrize("fps", [25.0, 24.0, 30000 / 1001, 59.94])
def test_otio_and_edl_read_back_to_the_same_cut(fps):
    tl = timeline_from_clip_model(
        CLIP, name="hook (#1)", source=Media("Meu vídeo.mp4", 120.0), fps=fps, music=Media("song.wav", 200.0)
    )
    rate = parse_rate(fps)
    read = otio.adapters.read_from_string(otio_json(tl), "otio_json")
    clips = _video_clips(read)
    assert [c.media_reference.target_url for c in clips] == ["Meu vídeo.mp4"] * 2
    for clip, item, cut in zip(clips, CLIP["edl"], tl.cuts, strict=True):
        start = clip.source_range.start_time
        assert start.value == round(Fraction(str(item["src_in"])) * rate) == cut.src_in
        assert abs(start.to_seconds() - item["src_in"]) <= 0.5 / float(rate) + 1e-9
        assert clip.metadata["fala"]["src_in_s"] == item["src_in"]
        assert clip.metadata["fala"]["src_out_s"] == item["src_out"]
    for rec, item in zip(_record_starts(read.video_tracks()[0]), CLIP["edl"], strict=True):
        assert abs(rec.to_seconds() - item["position"]) <= 1 / float(rate)
    (music,) = read.audio_tracks()[0].find_clips()
    assert music.media_reference.target_url == "song.wav"
    assert music.source_range.start_time.rate == AUDIO_RATE
    assert abs(music.source_range.start_time.to_seconds() - CLIP["music_offset"]) <= 0.5 / AUDIO_RATE
    # the music follows the video (as the renderer does): at most the cut's quantised length
    music_length = min(CLIP["music_duration"], tl.total_frames / float(rate))
    assert abs(music.source_range.duration.to_seconds() - music_length) <= 0.5 / AUDIO_RATE

    edl = otio.adapters.read_from_string(to_cmx3600(tl), "cmx_3600", rate=float(rate))
    v = [t for t in edl.tracks if t.kind == otio.schema.TrackKind.Video][0]
    a1 = [t for t in edl.tracks if t.name == "A1"][0]
    assert [(c.source_range.start_time.value, c.source_range.duration.value) for c in v.find_clips()] == [
        (c.source_range.start_time.value, c.source_range.duration.value) for c in clips
    ]
    assert [c.media_reference.target_url for c in v.find_clips()] == ["Meu vídeo.mp4"] * 2
    (m,) = a1.find_clips()
    assert m.media_reference.target_url == "song.wav"
    assert m.source_range.start_time.value == round(CLIP["music_offset"] * float(rate))
    assert m.source_range.duration.value == round(music_length * float(rate))
    # both start at the record start: the music runs from the first frame of the cut
    assert a1.range_of_child(m).start_time == v.range_of_child(v.find_clips()[0]).start_time


def test_a_clip_with_the_sources_sound_carries_it_on_both_sides():
    clip = {"edl": CLIP["edl"], "music_offset": None}
    tl = timeline_from_clip_model(clip, name="highlight", source=Media("a.mp4"), fps=25)
    assert tl.audio == "source"
    read = otio.adapters.read_from_string(otio_json(tl), "otio_json")
    video, sound = read.tracks
    assert [c.source_range for c in sound.find_clips()] == [c.source_range for c in video.find_clips()]
    text = to_cmx3600(tl)
    assert text.count(" AA/V ") == 2
    edl = otio.adapters.read_from_string(text, "cmx_3600", rate=25)
    assert sorted(t.name for t in edl.tracks) == ["A1", "A2", "V"]
    silent = timeline_from_clip_model(clip, name="x", source=Media("a.mp4"), fps=25, has_audio=False)
    assert len(otio.adapters.read_from_string(otio_json(silent), "otio_json").tracks) == 1
    assert " AA/V " not in to_cmx3600(silent)


def test_a_rendered_variants_plan_is_exported_as_rendered_with_its_caption_sidecars():
    """A 30-fps render of a 25-fps source: source in points on source frames, lengths in output frames."""
    from rendering.engine.edl import plan_render

    edl = [
        {"src_in": 10.02, "src_out": 12.51, "position": 0.0, "duration": 2.49},
        {"src_in": 40.0, "src_out": 41.333, "position": 2.49, "duration": 1.333},
        {"src_in": 50.5, "src_out": 53.0, "position": 3.823, "duration": 2.5},
    ]
    meta = {"fps": 25.0, "width": 1280, "height": 720, "duration": 120.0, "has_audio": True}
    plan = plan_render(
        {"edl": edl, "music_offset": 12.3456, "music_duration": 6.323}, meta, {"fps": 30}, music=True
    ).to_dict()
    captions = {"language": "pt", "words": 12, "srt": "renders/1/v/clip.srt", "vtt": "renders/1/v/clip.vtt"}
    tl = timeline_from_plan(
        plan, name="variant 1", source=Media("src.mp4", 120.0), music=Media("song.wav", 60.0), captions=captions
    )
    read = otio.adapters.read_from_string(otio_json(tl), "otio_json")
    assert [dict(c) for c in read.metadata["fala"]["captions"]] == [
        {"format": "srt", "name": "clip.srt"},
        {"format": "vtt", "name": "clip.vtt"},
    ]
    clips = _video_clips(read)
    for clip, seg in zip(clips, plan["segments"], strict=True):
        assert clip.source_range.start_time.rate == 25
        assert abs(clip.source_range.start_time.to_seconds() - seg["src_in"]) < 1e-9  # on a source frame
        assert clip.source_range.duration == otio.opentime.RationalTime(seg["frames"], 30)
    starts = _record_starts(read.video_tracks()[0])
    assert [round(s.to_seconds() * 30) for s in starts] == [round(s["position"] * 30) for s in plan["segments"]]
    (music,) = read.audio_tracks()[0].find_clips()
    assert abs(music.source_range.start_time.to_seconds() - plan["music_offset"]) <= 0.5 / AUDIO_RATE
    assert abs(music.source_range.duration.to_seconds() - plan["music_length"]) <= 0.5 / AUDIO_RATE

    text = to_cmx3600(tl)
    assert "* CAPTIONS SRT: clip.srt" in text and "* CAPTIONS VTT: clip.vtt" in text
    edl_read = otio.adapters.read_from_string(text, "cmx_3600", rate=25)
    v = [t for t in edl_read.tracks if t.name == "V"][0]
    ins = [c.source_range.start_time.value for c in v.find_clips()]
    assert ins == [round(s["src_in"] * 25) for s in plan["segments"]]
    # the cut re-expressed at the source rate: the same total length within one source frame
    assert abs(v.duration().to_seconds() - plan["duration"]) <= 1 / 25


# --------------------------------------------------------------------------- the endpoint


@pytest.mark.django_db
def test_the_endpoint_exports_a_stored_clip_model_exactly(api, user, suggested):
    ingest, models = suggested(user, music=True)
    fps = parse_rate(ingest.analysis.meta["fps"])
    for model in models:
        r = api.get(f"/videos/{ingest.pk}/suggestions/{model.rank}/export?format=otio")
        assert r.status_code == 200, r.content
        assert r["Content-Type"] == "application/json"
        assert (
            r["Content-Disposition"] == f'attachment; filename="{ingest.pk.hex[:8]}-{model.rank}-{model.template}.otio"'
        )
        read = otio.adapters.read_from_string(r.content.decode(), "otio_json")
        assert read.metadata["fala"]["title"] == model.title
        clips = _video_clips(read)
        cuts = quantise(model.edl, fps)
        assert len(clips) == len(model.edl)
        for clip, item, cut in zip(clips, sorted(model.edl, key=lambda e: e["position"]), cuts, strict=True):
            assert clip.media_reference.target_url == "Festival cut.mp4"
            assert (clip.source_range.start_time.value, clip.source_range.duration.value) == (cut.src_in, cut.frames)
            assert abs(clip.source_range.start_time.to_seconds() - item["src_in"]) <= 0.5 / float(fps) + 1e-9
            assert clip.metadata["fala"]["src_in_s"] == item["src_in"]
        if model.music_offset is not None:
            (music,) = read.audio_tracks()[0].find_clips()
            assert music.media_reference.target_url == "Golden River (master).wav"
            assert abs(music.source_range.start_time.to_seconds() - model.music_offset) <= 0.5 / AUDIO_RATE
            expected = min(model.music_duration or model.duration, sum(c.frames for c in cuts) / float(fps))
            assert abs(music.source_range.duration.to_seconds() - expected) <= 0.5 / AUDIO_RATE

        e = api.get(f"/videos/{ingest.pk}/suggestions/{model.rank}/export?format=edl")
        assert e.status_code == 200 and e["Content-Type"].startswith("text/plain")
        assert e["Content-Disposition"].endswith('.edl"')
        edl = otio.adapters.read_from_string(e.content.decode(), "cmx_3600", rate=float(fps))
        v = [t for t in edl.tracks if t.name == "V"][0]
        assert [(c.source_range.start_time.value, c.source_range.duration.value) for c in v.find_clips()] == [
            (c.src_in, c.frames) for c in cuts
        ]
        if model.music_offset is not None:
            (m,) = [t for t in edl.tracks if t.name == "A1"][0].find_clips()
            assert m.source_range.start_time.value == round(model.music_offset * float(fps))


@pytest.mark.django_db
def test_the_endpoint_is_owner_only_and_refuses_bad_input(api, user, other_user, suggested):
    ingest, models = suggested(user, music=False)
    theirs, _ = suggested(other_user, music=False)
    r = api.get(f"/videos/{theirs.pk}/suggestions/1/export?format=otio")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.get(f"/videos/{ingest.pk}/suggestions/{len(models) + 1}/export?format=edl")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.get(f"/videos/{ingest.pk}/suggestions/1/export?format=xml")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_format" and r.json()["error"]["details"] == {"format": ["otio", "edl"]}
    r = api.get(f"/videos/{ingest.pk}/suggestions/1/export")  # otio by default
    assert r.status_code == 200 and r["Content-Disposition"].endswith('.otio"')


@pytest.mark.django_db
def test_the_endpoint_needs_a_login(anon_api, user, suggested):
    ingest, _ = suggested(user, music=False)
    assert anon_api.get(f"/videos/{ingest.pk}/suggestions/1/export?format=otio").status_code == 401


def _compact_plan(fps_out: int = 30):
    """A real render plan (25-fps source, ``fps_out`` output, music) as ``RenderedVariant.plan`` stores it."""
    from rendering.engine.edl import plan_render
    from rendering.services import compact_plan

    edl = [
        {"src_in": 10.02, "src_out": 12.51, "position": 0.0, "duration": 2.49},
        {"src_in": 40.0, "src_out": 41.333, "position": 2.49, "duration": 1.333},
    ]
    meta = {"fps": 25.0, "width": 1280, "height": 720, "duration": 90.0, "has_audio": True}
    full = plan_render(
        {"edl": edl, "music_offset": 21.5, "music_duration": 3.823}, meta, {"fps": fps_out}, music=True
    ).to_dict()
    return full, compact_plan(full)


def test_the_stored_compact_plan_gives_the_same_frames_as_the_full_plan():
    full, compact = _compact_plan()
    assert "frames" not in compact["segments"][0] and "source_fps" not in compact  # what is stored
    song = Media("song.wav", 60.0)
    a = timeline_from_plan(full, name="a", source=Media("s.mp4"), music=song)
    b = timeline_from_plan(compact, name="b", source=Media("s.mp4"), source_fps=25.0, music=song)
    assert [(c.src_in, c.frames, c.record_in) for c in a.cuts] == [(c.src_in, c.frames, c.record_in) for c in b.cuts]
    assert (a.source_fps, a.record_fps) == (b.source_fps, b.record_fps) == (25, 30)
    assert a.music is not None and b.music is not None
    assert abs(b.music.offset - a.music.offset) <= 0.0005 and abs(b.music.length - a.music.length) <= 0.0005


@pytest.mark.django_db
def test_a_rendered_variant_exports_its_plan_with_its_caption_sidecars(user, suggested):
    from jobs.models import Job
    from rendering.models import RenderedVariant
    from suggestions.services import rendered_variant_export

    ingest, models = suggested(user, music=True)
    hook = next(m for m in models if m.music_offset is not None)
    _, compact = _compact_plan()
    job = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest)
    variant = RenderedVariant.objects.create(
        job=job, clip_model=hook, ingest=ingest, index=2, status="done", plan=compact,
        captions={"language": "en", "srt": "renders/x/2.srt", "vtt": "renders/x/2.vtt"},
    )  # fmt: skip
    content, media_type, name = rendered_variant_export(variant=variant, fmt="otio")
    assert media_type == "application/json" and name == f"{ingest.pk.hex[:8]}-{hook.template}-2.otio"
    read = otio.adapters.read_from_string(content, "otio_json")
    assert [dict(c) for c in read.metadata["fala"]["captions"]] == [
        {"format": "srt", "name": f"{hook.template}-2.srt"},  # the names the captions API downloads them under
        {"format": "vtt", "name": f"{hook.template}-2.vtt"},
    ]
    assert read.metadata["fala"]["render_id"] == variant.pk
    clips = _video_clips(read)
    for clip, seg in zip(clips, compact["segments"], strict=True):
        assert abs(clip.source_range.start_time.to_seconds() - seg["src_in"]) <= 0.0005
        assert abs(clip.source_range.duration.to_seconds() - seg["duration"]) <= 0.0005
        assert clip.media_reference.target_url == "Festival cut.mp4"
    (music,) = read.audio_tracks()[0].find_clips()
    assert abs(music.source_range.start_time.to_seconds() - compact["music_offset"]) <= 0.5 / AUDIO_RATE
    edl, _, _ = rendered_variant_export(variant=variant, fmt="edl")
    assert f"* CAPTIONS SRT: {hook.template}-2.srt" in edl
    assert otio.adapters.read_from_string(edl, "cmx_3600", rate=25).tracks[0].find_clips()

    from fala_clip.api.errors import ServiceError

    with pytest.raises(ServiceError) as bad:
        rendered_variant_export(variant=variant, fmt="aaf")
    assert bad.value.status_code == 400
    variant.plan = {}
    with pytest.raises(ServiceError) as old:
        rendered_variant_export(variant=variant, fmt="edl")
    assert (old.value.code, old.value.status_code) == ("no_plan", 409)
