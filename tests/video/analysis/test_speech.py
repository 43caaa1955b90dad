"""Speech presence per second with Silero VAD (offline, from faster-whisper)."""

from __future__ import annotations

import numpy as np

from video.analysis.decode import decode_audio
from video.analysis.speech import speech_per_second


def test_speech_found_in_jfk_and_not_in_a_kick_drum(shared_media):
    jfk = decode_audio(shared_media / "jfk.flac")
    values, info = speech_per_second(jfk, 16000, 11)
    assert info["name"].startswith("silero")
    assert len(values) == 11 and all(0 <= v <= 1 for v in values)
    assert np.mean(values) > 0.4 and max(values) == 1.0
    kick = decode_audio(shared_media / "808kick120bpm.mp3")
    values, _ = speech_per_second(kick, 16000, 10)
    assert max(values) < 0.2


def test_silence_and_missing_audio():
    assert speech_per_second(np.zeros(16000 * 2, np.float32), 16000, 2)[0] == [0.0, 0.0]
    assert speech_per_second(None, 16000, 3)[0] == [0.0, 0.0, 0.0]
