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


#: A stitched song's form: (part, RMS) — verse, chorus, verse, chorus, a louder one-off bridge, chorus.
STITCHED_FORM = (("verse", 0.05), ("chorus", 0.1), ("verse", 0.05), ("chorus", 0.1), ("bridge", 0.11), ("chorus", 0.1))
STITCHED_DEFAULT_BRIDGE_RMS = 0.11
STITCH_PART_S = 15.0


def stitched_song(spec: str) -> Path:
    """A 90-s song in :data:`STITCHED_FORM` from three real GTZAN clips: ``"stitched:VERSE+CHORUS+BRIDGE[@RMS]"``.

    The 30-s dev clips seldom repeat a section, so a chorus found by repetition needs a longer
    song: each part is the first 15 s of its clip, levelled to the form's RMS (the bridge's RMS
    may be given after ``@``); written once to the temp dir, deterministic.
    """
    import tempfile

    import numpy as np
    import soundfile as sf

    from music.analysis.decode import load_audio

    body, _, bridge_rms = spec.removeprefix("stitched:").partition("@")
    names = dict(zip(("verse", "chorus", "bridge"), body.split("+"), strict=True))
    levels = {"bridge": float(bridge_rms or STITCHED_DEFAULT_BRIDGE_RMS)}
    out = Path(tempfile.gettempdir()) / "fala-test-stitched" / f"{body}@{levels['bridge']:g}.wav"
    if not out.exists():
        parts = []
        for part, form_rms in STITCHED_FORM:
            rms = levels.get(part, form_rms)
            y = load_audio(require(GTZAN / f"{names[part]}.wav"), sr=22050)[: int(STITCH_PART_S * 22050)]
            parts.append(rms * y / max(float(np.sqrt(np.mean(y**2))), 1e-9))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.wav")
        sf.write(tmp, np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32), 22050)
        tmp.rename(out)
    return out


@functools.cache
def music_result(song: str) -> dict[str, Any]:
    from music.analysis.pipeline import analyze_track

    path = stitched_song(song) if song.startswith("stitched:") else require(GTZAN / f"{song}.wav")
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
        declared_genre=genre or song.removeprefix("stitched:").split(".")[0],
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
