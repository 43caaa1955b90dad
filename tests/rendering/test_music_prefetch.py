"""The track's probe asked while the pipeline waits for its analysis, not by the first render."""

from __future__ import annotations

import subprocess

import pytest

from tests.rendering.conftest import create_video_with_clips


@pytest.mark.django_db
def test_the_tracks_duration_is_probed_ahead_and_the_renders_find_it(
    user, isolated_media, source, tmp_path, monkeypatch
):
    from fala_clip.media.workspace import workspace_for
    from fala_clip.storage import storage_key, store_file
    from music.models import MusicAsset
    from rendering import services
    from rendering.engine import run as run_mod

    video, _, _, job = create_video_with_clips(user, source, with_music=True)
    track = tmp_path / "bed.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=r=48000:duration=2.25", str(track)],
        check=True,
    )
    MusicAsset.objects.filter(pk=video.music_id).update(
        file=store_file(track, storage_key("music", user.pk, "bed", "track.wav"))
    )
    video.refresh_from_db()
    calls: list[str] = []
    real = run_mod.ffprobe_json
    monkeypatch.setattr(run_mod, "ffprobe_json", lambda p, *a, **k: calls.append(p) or real(p, *a, **k))

    services.music_prefetch(ingest=video)
    assert len(calls) == 1
    # the loudness measurement ahead of the first render and the renders ask for the same file
    music_path = services._music_path(video, workspace_for(job.pk).create())
    assert music_path is not None and calls == [music_path]
    assert run_mod.probe_duration(music_path)["duration"] == pytest.approx(2.25, abs=0.01)
    assert len(calls) == 1  # answered from memory


@pytest.mark.django_db
def test_no_local_track_no_probe(user, isolated_media, source, monkeypatch):
    from rendering import services
    from rendering.engine import run as run_mod

    monkeypatch.setattr(run_mod, "ffprobe_json", lambda *a, **k: pytest.fail("nothing to probe"))
    video, _, _, _ = create_video_with_clips(user, source)
    services.music_prefetch(ingest=video)  # no track
    # a track whose stored file is not on local disk (here: missing; on S3: remote) is not
    # copied for the probe -- the renders' own copy is made once, later
    video, _, _, _ = create_video_with_clips(user, source, with_music=True)
    services.music_prefetch(ingest=video)
