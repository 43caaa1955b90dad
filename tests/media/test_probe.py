"""The ffprobe gate: given a file, when gated, then accepted with metadata or refused with a code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fala_clip.media.probe import (
    AUDIO_LIMITS,
    VIDEO_LIMITS,
    MediaLimits,
    MediaRejected,
    gate_audio,
    gate_video,
    probe,
)


def rejected(fn, path, limits=None) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        fn(path, limits)
    return info.value


def test_valid_mp4_gives_normalised_metadata(gate_media):
    meta = gate_video(gate_media["mp4"])
    assert meta["format"] == "mov,mp4,m4a,3gp,3g2,mj2"
    assert meta["duration"] == pytest.approx(2.0, abs=0.1)
    assert meta["size"] == gate_media["mp4"].stat().st_size
    assert meta["streams"] == 2
    v = meta["video"]
    assert (v["codec"], v["width"], v["height"], v["fps"], v["nb_frames"]) == ("h264", 160, 120, 25.0, 50)
    a = meta["audio"]
    assert (a["codec"], a["sample_rate"], a["channels"]) == ("aac", 22050, 1)


def test_video_without_audio_is_accepted_with_audio_none(gate_media):
    meta = gate_video(gate_media["mp4_noaudio"])
    assert meta["audio"] is None
    assert meta["video"]["nb_frames"] == 50


def test_video_without_audio_is_refused_by_the_audio_gate(gate_media):
    assert rejected(gate_audio, gate_media["mp4_noaudio"]).code == "no_audio_stream"


@pytest.mark.parametrize("kind,codec,rate", [("mp3", "mp3", 22050), ("wav", "pcm_s16le", 16000)])
def test_valid_audio_files_pass_the_audio_gate(gate_media, kind, codec, rate):
    meta = gate_audio(gate_media[kind])
    assert meta["video"] is None
    assert meta["audio"]["codec"] == codec
    assert meta["audio"]["sample_rate"] == rate
    assert meta["duration"] == pytest.approx(3.0, abs=0.1)


def test_audio_file_given_to_the_video_gate_is_refused(gate_media):
    err = rejected(gate_video, gate_media["mp3"])
    assert err.code == "no_video_stream"
    assert "audio" in err.message


def test_text_file_renamed_mp3_is_unreadable(tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio at all\n" * 50)
    assert rejected(gate_audio, fake).code in {"unreadable_media", "unsupported_format"}


def test_truncated_mp4_is_unreadable(gate_media, tmp_path):
    # Without +faststart the moov atom is at the end: cutting the file loses it.
    data = gate_media["mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert rejected(gate_video, cut).code == "unreadable_media"


def test_random_bytes_are_unreadable(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 64)
    assert rejected(gate_video, junk).code in {"unreadable_media", "unsupported_format"}


def test_empty_file_is_empty_media(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert rejected(gate_video, empty).code == "empty_media"


def test_missing_file_is_unreadable(tmp_path):
    assert rejected(gate_video, tmp_path / "nope.mp4").code == "unreadable_media"


def test_hls_playlist_renamed_mp4_pointing_to_the_network_is_refused(tmp_path):
    playlist = tmp_path / "video.mp4"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXTINF:10.0,\nhttp://169.254.169.254/latest/meta-data/seg0.ts\n#EXT-X-ENDLIST\n"
    )
    assert rejected(gate_video, playlist).code in {"unreadable_media", "unsupported_format"}


def test_hls_playlist_renamed_mp4_with_local_segment_is_refused(gate_media, tmp_path):
    # Even when ffprobe can follow it (local segment, file protocol), the
    # container is reported as hls, which is not whitelisted.
    seg = tmp_path / "seg0.ts"
    seg.write_bytes(gate_media["ts"].read_bytes())
    playlist = tmp_path / "video.mp4"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:1.0,\n{seg.name}\n#EXT-X-ENDLIST\n"
    )
    err = rejected(gate_video, playlist)
    assert (err.code, err.details["format"]) == ("unsupported_format", "hls")


def test_concat_list_renamed_mp4_is_refused(gate_media, tmp_path):
    lst = tmp_path / "list.mp4"
    lst.write_text(f"ffconcat version 1.0\nfile '{gate_media['mp4']}'\n")
    assert rejected(gate_video, lst).code in {"unreadable_media", "unsupported_format"}


def test_mpegts_is_not_whitelisted(gate_media):
    err = rejected(gate_video, gate_media["ts"])
    assert err.code == "unsupported_format"
    assert err.details["format"] == "mpegts"
    assert err.http_status == 415


def test_over_the_duration_cap_is_too_long(gate_media):
    limits = dataclasses.replace(AUDIO_LIMITS, max_duration_s=2.5)
    err = rejected(gate_audio, gate_media["wav"], limits)
    assert err.code == "too_long"
    assert err.details["max_duration_s"] == 2.5


def test_over_the_size_cap_is_too_large_before_probing(gate_media):
    limits = VIDEO_LIMITS.with_overrides(max_bytes=100)
    err = rejected(gate_video, gate_media["mp4"], limits)
    assert (err.code, err.http_status) == ("too_large", 413)


def test_resolution_fps_and_stream_caps(gate_media):
    assert rejected(gate_video, gate_media["mp4"], MediaLimits(max_width=100)).code == "resolution_too_high"
    assert rejected(gate_video, gate_media["mp4"], MediaLimits(max_fps=24)).code == "fps_too_high"
    assert rejected(gate_video, gate_media["mp4"], MediaLimits(max_streams=1)).code == "too_many_streams"


def test_default_limits():
    assert AUDIO_LIMITS.max_duration_s == 15 * 60
    assert VIDEO_LIMITS.max_duration_s == 60 * 60
    assert (VIDEO_LIMITS.max_width, VIDEO_LIMITS.max_height, VIDEO_LIMITS.max_fps, VIDEO_LIMITS.max_streams) == (
        4096,
        4096,
        120.0,
        8,
    )


def test_probe_returns_raw_ffprobe_json(gate_media):
    data = probe(gate_media["mp4"])
    assert {s["codec_type"] for s in data["streams"]} == {"video", "audio"}
    assert "format_name" in data["format"]


def test_shared_webm_passes_the_video_gate(shared_media: Path, ground_truth):
    meta = gate_video(shared_media / "big_buck_bunny_0_30.webm")
    assert meta["format"] == "matroska,webm"
    assert meta["video"]["fps"] == ground_truth["big_buck_bunny_0_30.webm"]["fps"]
    assert meta["audio"] is not None
    assert meta["duration"] == pytest.approx(30.0, abs=0.1)


# --- the real duration of a file whose header claims more than its data ------------


@pytest.fixture(scope="module")
def faststart_24s(tmp_path_factory) -> Path:
    """24 s of 320x240 video + audio, index (moov) at the front."""
    from tests.media_factory import ffmpeg

    path = tmp_path_factory.mktemp("faststart") / "full.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=24"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=24"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
        *("-movflags", "+faststart", str(path)),
    )
    return path


def _decodable_seconds(path: Path) -> float:
    """What a full decode of the file yields (the reference for the gate's measurement)."""
    import subprocess

    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "quiet", "-i", str(path), "-f", "null", "-", "-progress", "pipe:1"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return max(int(line.split("=")[1]) for line in out.splitlines() if line.startswith("out_time_us=")) / 1e6


@pytest.fixture
def ffprobe_calls(monkeypatch) -> list[list[str]]:
    """Records every command the gate runs (and runs it for real)."""
    import fala_clip.media.probe as probe_module

    calls: list[list[str]] = []
    real = probe_module.run_tool

    def recording(cmd, **kwargs):
        calls.append([str(c) for c in cmd])
        return real(cmd, **kwargs)

    monkeypatch.setattr(probe_module, "run_tool", recording)
    return calls


def test_truncated_faststart_mp4_gets_its_decodable_duration(faststart_24s, tmp_path, ffprobe_calls):
    """Given a 24 s +faststart mp4 cut to 10 % of its bytes (the header still claims 24 s),
    when gated, then the duration is what really decodes (±0.5 s) and the claim is kept aside."""
    data = faststart_24s.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 10])
    assert probe(cut)["format"]["duration"] == "24.000000"  # the container's claim
    decodable = _decodable_seconds(cut)
    assert 1.0 < decodable < 5.0
    meta = gate_video(cut)
    assert meta["duration"] == pytest.approx(decodable, abs=0.5)
    assert meta["duration_claimed"] == 24.0
    assert meta["video"]["nb_frames"] == round(meta["duration"] * 25)
    packet_reads = [c for c in ffprobe_calls if any(a.startswith("packet=") for a in c)]
    full_scans = [c for c in packet_reads if "-read_intervals" not in c]
    assert len(full_scans) == 1


def test_intact_file_keeps_its_exact_duration_after_one_tail_read(faststart_24s, ffprobe_calls):
    """Given an intact file, then its header duration is kept and only the last seconds are read
    (one short packet read with a seek), never a pass over the whole file."""
    meta = gate_video(faststart_24s)
    assert meta["duration"] == 24.0 and "duration_claimed" not in meta
    assert meta["video"]["nb_frames"] == 600
    packet_reads = [c for c in ffprobe_calls if any(a.startswith("packet=") for a in c)]
    assert len(packet_reads) == 1
    assert packet_reads[0][packet_reads[0].index("-read_intervals") + 1] == "21.000%"


def test_truncated_file_below_the_minimum_is_empty_media(faststart_24s, tmp_path):
    data = faststart_24s.read_bytes()
    cut = tmp_path / "sliver.mp4"
    cut.write_bytes(data[: len(data) // 40])  # about 0.6 s of data under a 24 s header
    err = rejected(gate_video, cut, dataclasses.replace(VIDEO_LIMITS, min_duration_s=1.0))
    assert err.code == "empty_media"
    assert err.details["duration"] == pytest.approx(_decodable_seconds(cut), abs=0.5)
    assert err.details["duration"] < 1.0


@pytest.mark.parametrize("ext,args", [("webm", ("-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus"))])
def test_truncated_webm_gets_its_real_duration(tmp_path, ext, args):
    from tests.media_factory import ffmpeg

    full = tmp_path / f"full.{ext}"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=20"),
        *("-f", "lavfi", "-i", "sine=duration=20"),
        *args,
        *("-shortest", str(full)),
    )
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 5])
    meta = gate_video(cut)
    assert meta["duration_claimed"] == pytest.approx(20.0, abs=0.1)
    assert meta["duration"] == pytest.approx(_decodable_seconds(cut), abs=0.5)
