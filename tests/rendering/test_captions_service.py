"""Captions end to end in the rendering service: a spoken source → its transcript → a rendered
variant with captions burned in, the .srt/.vtt sidecars stored beside it, the plan and the
caption record on the variant, and the owner-only sidecar download."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fala_clip.media.workspace import workspace_for
from jobs.runner import JobContext
from jobs.services import job_create
from rendering.models import RenderedVariant
from rendering.services import render_all_variants
from suggestions.models import ClipModel, SuggestionSet
from tests.speech_factory import spoken_video
from video.analysis.pipeline import analyze_video
from video.models import VideoIngest
from video.services import video_analysis_save

WORDS = [("hello", 0.8), ("morning", 1.9), ("music", 3.9), ("captions", 5.0)]
# Two pieces: 0.5-2.8 s (hello, morning) and 3.6-5.9 s (music, captions).
EDL = [
    {"src_in": 0.5, "src_out": 2.8, "position": 0.0, "duration": 2.3},
    {"src_in": 3.6, "src_out": 5.9, "position": 2.3, "duration": 2.3},
]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> tuple[Path, dict]:
    src = tmp_path_factory.mktemp("captions_service") / "spoken.mp4"
    spoken_video(src, WORDS, 6.5, size="320x180")
    return src, analyze_video(src, with_faces=False, with_embeddings=False)


def _variant(user, spoken, options) -> RenderedVariant:
    src, result = spoken
    analysis = video_analysis_save(owner=user, sha256="e" * 64, result=result)
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256="e" * 64, file="x", analysis=analysis, options=options
    )
    sset = SuggestionSet.objects.create(ingest=ingest, features_version="test")
    cm = ClipModel.objects.create(
        suggestion_set=sset, ingest=ingest, template="highlight", rank=1, start=0.5, end=5.9, duration=4.6,
        score=1.0, edl=EDL,
    )  # fmt: skip
    job = job_create(owner=user, kind="clip_pipeline", params={"video_id": str(ingest.pk)})
    ws = workspace_for(job.pk).create()
    render_all_variants(
        ctx=JobContext(job), ingest=ingest, analysis=analysis, clip_models=[cm], source_path=src, workspace=ws
    )
    return RenderedVariant.objects.get(job=job)


def _cue_count(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(json.loads(out)["packets"])


@pytest.mark.django_db
def test_variant_gets_captions_sidecars_and_plan(user, make_artist, api, spoken, settings, isolated_media):
    from django.core.files.storage import storages
    from rest_framework.test import APIClient

    settings.RENDER_PRESET = "ultrafast"
    v = _variant(user, spoken, {"aspect": "9:16"})
    assert v.status == RenderedVariant.Status.DONE, v.error_message
    assert v.settings["captions"] is True

    cap = v.captions
    assert cap["enabled"] and cap["source"] == "speech" and cap["language"] == "en"
    got = [w["word"].strip(".,!?").lower() for w in cap["words"]]
    assert got == ["hello", "morning", "music", "captions"]
    # output clock: hello at 0.8 - 0.5 = 0.3 s, music at 2.3 + (3.9 - 3.6) = 2.6 s (whisper's own timing)
    assert abs(cap["words"][0]["start"] - 0.3) <= 0.35 and abs(cap["words"][2]["start"] - 2.6) <= 0.35
    assert any("ass=filename=" in line for line in v.log)

    store = storages["default"]
    for kind in ("srt", "vtt"):
        name = cap[kind]
        assert name.endswith(f".{kind}") and Path(name).parent == Path(v.file).parent
        assert _cue_count(Path(store.path(name))) == cap["pages"] >= 2  # a page per piece at least

    plan = v.plan
    segs = [(s["src_in"], s["position"], s["duration"]) for s in plan["segments"]]
    want = [(0.5, 0.0, 2.3), (3.6, 2.3, 2.3)]  # src_in snapped to the 25 fps source grid (<= half a frame)
    assert len(segs) == 2 and all(
        abs(a[0] - b[0]) <= 0.02 + 1e-9 and abs(a[1] - b[1]) < 1e-3 and abs(a[2] - b[2]) < 1e-3
        for a, b in zip(segs, want, strict=True)
    ), segs
    assert plan["music_offset"] is None and plan["width"] == 1080 and plan["height"] == 1920
    assert all(s["layout"] in ("crop", "fit") for s in plan["segments"])

    # the API: plan + sidecar URLs; owner-only download
    rows = api.get(f"/videos/{v.ingest_id}/renders").json()["results"]
    data = rows[0]
    assert data["plan"]["segments"] == plan["segments"]
    assert data["captions"]["srt_url"] == f"/renders/{v.pk}/captions.srt" and "srt" not in data["captions"]
    resp = api.get(data["captions"]["vtt_url"])
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/vtt")
    body = b"".join(resp.streaming_content).decode()
    assert body.startswith("WEBVTT") and "morning" in body.lower()
    assert api.get(f"/renders/{v.pk}/captions.txt").status_code == 404

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {make_artist('bob')[1]}")
    r = other.get(data["captions"]["srt_url"])
    assert r.status_code == 404 and r.json()["error"]["code"]


@pytest.mark.django_db
def test_captions_can_be_turned_off(user, spoken, settings, isolated_media):
    settings.RENDER_PRESET = "ultrafast"
    v = _variant(user, spoken, {"aspect": "1:1", "captions": False})
    assert v.status == RenderedVariant.Status.DONE
    assert v.settings["captions"] is False and v.captions == {"enabled": False, "reason": "turned off"}
    assert not any("ass=filename=" in line for line in v.log)
    assert v.plan["segments"] and v.plan["height"] == 1080


@pytest.mark.django_db
def test_music_variant_is_captioned_with_the_lyrics(user, spoken, settings, isolated_media, tmp_path):
    from fala_clip.storage import storage_key, store_file
    from music.models import MusicAnalysis, MusicAsset
    from tests.media_factory import music_bed

    settings.RENDER_PRESET = "ultrafast"
    track = music_bed(tmp_path / "bed.m4a", duration=10.0)
    name = store_file(track, storage_key("music", user.pk, "bed.m4a"))
    asset = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="bed", sha256="f" * 64, file=name, size_bytes=1, format="mp4",
        duration=10.0,
    )  # fmt: skip
    lyrics = [  # on the track's clock; the clip plays the track from 2.0 s
        {"start": 1.0, "end": 1.5, "word": "antes", "probability": 0.9},
        {"start": 2.5, "end": 3.0, "word": "canta", "probability": 0.9},
        {"start": 3.2, "end": 3.8, "word": "comigo", "probability": 0.9},
    ]
    MusicAnalysis.objects.create(
        asset=asset, duration=10.0, language="pt",
        transcription={"language": "pt", "segments": [{"start": 1.0, "end": 3.8, "text": "", "words": lyrics}]},
    )  # fmt: skip
    src, result = spoken
    analysis = video_analysis_save(owner=user, sha256="e" * 64, result=result)
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256="e" * 64, file="x", analysis=analysis,
        options={"aspect": "4:5"}, music=asset,
    )  # fmt: skip
    sset = SuggestionSet.objects.create(ingest=ingest, features_version="test")
    cm = ClipModel.objects.create(
        suggestion_set=sset, ingest=ingest, template="hook", rank=1, start=0.5, end=5.9, duration=4.6, score=1.0,
        edl=EDL, music_offset=2.0, music_duration=4.6,
    )  # fmt: skip
    job = job_create(owner=user, kind="clip_pipeline", params={"video_id": str(ingest.pk)})
    render_all_variants(
        ctx=JobContext(job), ingest=ingest, analysis=analysis, clip_models=[cm], source_path=src,
        workspace=workspace_for(job.pk).create(),
    )  # fmt: skip
    v = RenderedVariant.objects.get(job=job)
    assert v.status == RenderedVariant.Status.DONE, v.error_message
    cap = v.captions
    assert cap["source"] == "lyrics" and cap["language"] == "pt"
    assert [(w["word"], w["start"], w["end"]) for w in cap["words"]] == [("canta", 0.5, 1.0), ("comigo", 1.2, 1.8)]
    assert v.plan["music_offset"] == 2.0 and v.plan["audio"] == "music" and cap["srt"].endswith(".srt")
