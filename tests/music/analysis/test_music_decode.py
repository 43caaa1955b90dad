"""decode.load_audio / resample: one ffmpeg decode, mono float32, in-memory 16 kHz copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from music.analysis.decode import AudioDecodeError, load_audio, resample, to_16k


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spec)])


def test_stereo_44k_file_decodes_to_mono_22k_float32(ffmpeg, tmp_path: Path) -> None:
    # given a 2-s stereo 44.1 kHz file with a 440 Hz tone
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2", "-ac", "2", "tone.flac")
    # when it is decoded
    y = load_audio(tmp_path / "tone.flac")
    # then it is one mono float32 channel at 22.05 kHz with the tone intact
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == 44100
    assert abs(_peak_hz(y, 22050) - 440.0) < 2.0
    assert 0.05 < float(np.abs(y).max()) <= 1.0


def test_max_seconds_caps_the_decode(ffmpeg, tmp_path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3", "t.wav")
    y = load_audio(tmp_path / "t.wav", sr=16000, max_seconds=1.0)
    assert y.size == 16000


def test_name_that_looks_like_an_option_or_url_is_read_as_a_local_file(ffmpeg, tmp_path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1", "file:-http:x.wav")
    y = load_audio(tmp_path / "-http:x.wav", sr=16000)
    assert y.size == 16000


def test_16k_copy_is_resampled_in_memory_and_keeps_pitch(ffmpeg, tmp_path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=2", "k.wav")
    y = load_audio(tmp_path / "k.wav")
    y16 = to_16k(y, 22050)
    assert y16.dtype == np.float32
    assert y16.size == 32000
    assert abs(_peak_hz(y16, 16000) - 1000.0) < 2.0
    assert resample(y16, 16000, 16000).size == 32000


def test_missing_file_raises_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match="not a file"):
        load_audio(tmp_path / "nope.wav")


def test_non_audio_file_raises_with_ffmpeg_reason(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp3"
    bad.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioDecodeError, match="ffmpeg failed"):
        load_audio(bad)


def test_video_without_audio_stream_is_refused(ffmpeg, tmp_path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", "-c:v", "mpeg4", "silent.mp4")
    with pytest.raises(AudioDecodeError):
        load_audio(tmp_path / "silent.mp4")
