"""Fixtures of the rendering app's tests: a small source of solid colour blocks, and an
artist's video of it with an analysis, a track with its analysis and two proposed clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import ffmpeg, lavfi

#: The source: four 2-s blocks of these colours, 320x180 at 25 fps (a keyframe a second), a 440 Hz tone.
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}
BLOCK_S = 2.0
META = {"width": 320, "height": 180, "fps": 25, "duration": 8.0, "has_audio": True}


def clip_spec(*spans: tuple[float, float], **extra):
    """A clip model spec whose EDL plays ``spans`` of the source one after another."""
    edl, pos = [], 0.0
    for a, b in spans:
        edl.append({"src_in": a, "src_out": b, "position": pos, "duration": b - a})
        pos += b - a
    return {"template": "beat_montage", "edl": edl, "duration": pos, **extra}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("preview-src") / "blocks.mp4"
    args: list[str] = []
    for name in COLOURS:
        args += lavfi(f"color=c={name}:s=320x180:r=25:d={BLOCK_S}")
    args += lavfi("sine=frequency=440:sample_rate=48000:duration=8")
    graph = "".join(f"[{i}:v]" for i in range(len(COLOURS))) + f"concat=n={len(COLOURS)}:v=1:a=0[v]"
    ffmpeg(
        *args,
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        f"{len(COLOURS)}:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(out),
    )
    return out


def create_video_with_clips(user, source: Path, *, with_music: bool = False):
    """Alice's video (stored source) with an analysis, optionally a track with its analysis, a
    current suggestion set of two clip models (a 7-s highlight; a 3-cut montage) and a job."""
    from fala_clip.storage import storage_key, store_file
    from jobs.services import job_create
    from music.models import MusicAsset
    from music.services import music_analysis_save
    from suggestions.models import ClipModel, SuggestionSet
    from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video
    from video.models import VideoAnalysis, VideoIngest
    from video.services import video_analysis_save

    result = synthetic_video(8.0, fps=25.0, seed=3, peaks=[(4.0, 2.0, {"motion": 0.95, "speech": 0.9})])
    analysis = video_analysis_save(owner=user, sha256="c" * 64, result=result)
    VideoAnalysis.objects.filter(pk=analysis.pk).update(meta=META)
    analysis.refresh_from_db()
    music = None
    if with_music:
        music = MusicAsset.objects.create(
            owner=user, artist=user.artist, title="Bed", sha256="d" * 64, file="m", size_bytes=1, format="wav",
            duration=60.0,
        )  # fmt: skip
        music_analysis_save(asset=music, result=synthetic_music(60.0, peak=(20.0, 12.0)), genre={})
    video = VideoIngest.objects.create(
        owner=user,
        artist=user.artist,
        source=VideoIngest.Source.UPLOAD,
        sha256="c" * 64,
        file=store_file(source, storage_key("videos", user.pk, "src", "original.mp4")),
        original_filename="blocks.mp4",
        duration=8.0,
        analysis=analysis,
        music=music,
    )
    sset = SuggestionSet.objects.create(ingest=video, features_version="t")
    clips = []
    for rank, spans in ((1, [(0.2, 7.2)]), (2, [(4.2, 5.2), (0.1, 1.1), (2.2, 3.2)])):
        c = clip_spec(*spans)
        clips.append(
            ClipModel.objects.create(
                suggestion_set=sset,
                ingest=video,
                template="highlight" if rank == 1 else "beat_montage",
                rank=rank,
                start=min(a for a, _ in spans),
                end=max(b for _, b in spans),
                duration=c["duration"],
                score=1.0 / rank,
                breakdown={"motion": 0.4 / rank, "speech": 0.2 / rank},
                edl=c["edl"],
                music_offset=20.0 if (with_music and rank == 2) else None,
                music_duration=c["duration"] if (with_music and rank == 2) else None,
            )
        )
    job = job_create(owner=user, kind="clip_pipeline", params={"video_id": str(video.pk)})
    return video, analysis, clips, job


@pytest.fixture
def video_with_clips(user, isolated_media, source):
    return create_video_with_clips(user, source)
