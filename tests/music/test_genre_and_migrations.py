"""Genre inferred from the catalogue's declared genres; migrations reverse cleanly."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from music.analysis.embeddings import audio_embedding, audio_model_id
from music.models import GenreClassifierVersion, MusicAsset, MusicEmbedding
from music.services import genre_infer
from tests.music.analysis import synth


def _asset(user, artist, genre: str, n: int) -> MusicAsset:
    return MusicAsset.objects.create(
        owner=user,
        artist=artist,
        title=f"{genre}{n}",
        declared_genre=genre,
        sha256=f"{genre}-{n}".ljust(64, "0"),
        file=f"x/{genre}{n}",
        size_bytes=1,
        format="wav",
        duration=20.0,
    )


@pytest.mark.django_db
def test_catalogue_classifier_infers_the_declared_style(user):
    artist = user.artist
    styles = {"electronic": synth.electronic, "ambient": synth.ambient, "rock": synth.rock}
    for genre, make in styles.items():
        for seed in range(3):
            emb = audio_embedding(make(seed, duration=12.0), synth.SR)
            MusicEmbedding.objects.create(
                asset=_asset(user, artist, genre, seed),
                kind="audio",
                model=audio_model_id(emb["version"]),
                dim=emb["dim"],
                vector=emb["vector"],
            )
    new = _asset(user, artist, "", 99)
    for genre, make in styles.items():
        vec = audio_embedding(make(1234, duration=12.0), synth.SR)["vector"]
        out = genre_infer(asset=new, audio_vector=vec)
        assert out["inferred"] == genre, out
        assert out["score"] > 0.5
        assert out["top_k"][0][0] == genre
    # The classifier was trained once for this catalogue and reused.
    assert GenreClassifierVersion.objects.count() == 1
    assert sorted(GenreClassifierVersion.objects.get().genres) == sorted(styles)


@pytest.mark.django_db
def test_empty_catalogue_gives_unknown_with_low_score(user):
    new = _asset(user, user.artist, "", 1)
    vec = audio_embedding(synth.electronic(7, duration=8.0), synth.SR)["vector"]
    out = genre_infer(asset=new, audio_vector=vec)
    assert out["inferred"] == "unknown"
    assert out["score"] < 0.5


@pytest.mark.django_db
def test_train_command_reports_the_catalogue(user):
    out = StringIO()
    call_command("train_genre_classifier", stdout=out)
    assert "0 tracks" in out.getvalue() and "unknown" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_reverse_and_reapply_cleanly():
    from django.db import connection

    call_command("migrate", "music", "zero", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert not {"music_assets", "music_analysis", "music_beats", "music_embeddings"} & tables
    call_command("migrate", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert {"music_assets", "music_analysis", "music_beats", "music_embeddings", "jobs", "job_events"} <= tables


@pytest.mark.django_db
def test_catalogue_leaves_out_older_descriptor_versions(user):
    from music.services import genre_catalogue

    # given two rock tracks: one with the current descriptor, one stored by v1 (plain model name)
    vec = audio_embedding(synth.rock(0, duration=8.0), synth.SR)
    for n, model in enumerate([audio_model_id(vec["version"]), "fala-audio-descriptor"]):
        MusicEmbedding.objects.create(
            asset=_asset(user, user.artist, "rock", n), kind="audio", model=model, dim=vec["dim"], vector=vec["vector"]
        )
    # when the catalogue is assembled, then only the current version is in it
    vectors, genres, fingerprint = genre_catalogue()
    assert genres == ["rock"] and vectors == [vec["vector"]]
    # and the fingerprint names the descriptor version (a classifier of another version is never reused)
    MusicEmbedding.objects.filter(model="fala-audio-descriptor").update(model=audio_model_id("9"))
    assert genre_catalogue()[2] == fingerprint
