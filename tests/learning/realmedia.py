"""Real analysed media for the learning tests and the learning benchmark.

The shared media (``../shared/media``: Big Buck Bunny's first 30 s, GTZAN clips) are analysed
once per process with the project's real analysers (no database), and stored per test as real
``VideoAnalysis`` / ``MusicAnalysis`` rows owned by the test's artists.  Skips with a clear
message when the shared media are absent.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "media"
VIDEO = SHARED / "big_buck_bunny_0_30.webm"
GTZAN = SHARED / "dev" / "gtzan" / "audio"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared media not found: {path} (the learning tests need ../shared/media)")
    return path


@functools.cache
def video_result(path: str = str(VIDEO)) -> dict[str, Any]:
    from video.analysis.pipeline import analyze_video

    require(Path(path))
    # Embeddings are not read by the suggestion engine; faces, motion, shots and audio are.
    return json.loads(json.dumps(analyze_video(path, with_embeddings=False), default=str))


@functools.cache
def music_result(song: str) -> dict[str, Any]:
    from music.analysis.pipeline import analyze_track

    path = require(GTZAN / f"{song}.wav")
    return json.loads(json.dumps(analyze_track(str(path)), default=str))


def store_track(owner: Any, song: str, *, title: str | None = None, genre: str = "") -> Any:
    """A MusicAsset of ``owner`` with the real analysis of GTZAN ``song`` stored."""
    from music.models import MusicAsset
    from music.services import music_analysis_save

    result = music_result(song)
    sha = hashlib.sha256(f"{owner.pk}:{song}:{title}".encode()).hexdigest()
    asset = MusicAsset.objects.create(
        owner=owner,
        artist=owner.artist,
        title=title or song,
        declared_genre=genre or song.split(".")[0],
        sha256=sha,
        file=f"music/{sha}.wav",
        size_bytes=1,
        format="wav",
        duration=result["duration"],
    )
    music_analysis_save(asset=asset, result=result, genre={"inferred": "unknown", "score": 0.0})
    return asset


def store_video(owner: Any, music: Any = None, *, tag: str = "", options: dict[str, Any] | None = None) -> Any:
    """A VideoIngest of ``owner`` (with ``music``) whose analysis is the real one of Big Buck Bunny."""
    from video.models import VideoIngest
    from video.services import video_analysis_save

    result = video_result()
    sha = hashlib.sha256(f"{owner.pk}:bbb:{tag}:{getattr(music, 'pk', '')}".encode()).hexdigest()
    analysis = video_analysis_save(owner=owner, sha256=sha, result=result)
    return VideoIngest.objects.create(
        owner=owner,
        artist=owner.artist,
        source="upload",
        sha256=sha,
        file=f"videos/{sha}.webm",
        analysis=analysis,
        music=music,
        options=options or {},
    )
