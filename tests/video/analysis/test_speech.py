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


def test_blockwise_silero_is_identical_to_faster_whisper_and_bounded():
    """The batch-by-batch VAD equals faster-whisper's whole-array call, across several batches."""
    import tracemalloc

    import numpy as np
    from faster_whisper.vad import get_vad_model

    from video.analysis import speech

    rng = np.random.default_rng(7)
    sr = 16000
    n = 2 * speech.SILERO_BATCH * speech.WINDOW + 12345  # 2 full batches and a ragged tail
    t = np.arange(n) / sr
    audio = (0.05 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(t / 3) > 0)).astype(np.float32)
    got = speech._silero_probs(audio)
    padded = np.pad(audio, (0, (-n) % speech.WINDOW))
    want = np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)
    assert got.shape == want.shape and np.array_equal(got, want)

    # memory: one batch at a time, so three times the audio takes no more than one batch's worth
    def peak_for(batches: int) -> int:
        longer = np.resize(audio, batches * speech.SILERO_BATCH * speech.WINDOW)
        tracemalloc.start()
        speech._silero_probs(longer)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    one, three = peak_for(1), peak_for(3)
    assert three < 1.3 * one, (one, three)
