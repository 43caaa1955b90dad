"""Title and post text per clip model, written locally from the words the clip contains."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suggestions.copywriting import (
    POST_MAX,
    TITLE_MAX,
    CopyInput,
    Phrase,
    copy_language,
    hashtag,
    keywords,
    local_copy,
    lyric_phrases,
    speech_phrases,
)
from tests.suggestions.conftest import lyric_segments, speech_words


def _phrase(text: str, kind: str = "speech", start: float = 0.0) -> Phrase:
    return Phrase(tuple(text.split()), kind, start)


def test_language_follows_the_first_supported_candidate():
    assert copy_language("pt-BR", "en") == "pt"
    assert copy_language("", None, "es", "EN") == "en"  # Spanish is not written: next candidate
    assert copy_language(None, "", "fr") == "en"  # nothing supported: English
    assert copy_language("pt_PT") == "pt"


def test_keywords_drop_stop_words_and_weigh_repetition():
    phrases = [_phrase("the golden river and the golden lights"), _phrase("we dance by the river tonight")]
    scored = keywords(phrases, context_words=["golden"] * 4)
    words = [w for w, _ in scored]
    assert words[0] == "golden"  # twice in the clip and four times in the song
    assert words[1] == "river"
    assert not {"the", "and", "we", "by"} & set(words)
    # ties: first heard first
    assert words.index("lights") < words.index("dance") < words.index("tonight")


def test_the_lyric_hook_becomes_the_title_and_the_post_credits_the_track_in_the_language():
    inp = CopyInput(
        language="pt",
        template="hook",
        track_title="Rio Dourado",
        artist="Ana Vitória",
        genre="mpb",
        phrases=(
            _phrase("obrigado a todos por virem", "speech"),
            _phrase("rio dourado rio dourado me leva pra casa", "lyrics", 20.0),
        ),
        context_words=tuple(["rio", "dourado", "rio", "dourado"]),
    )
    copy = local_copy(inp)
    assert copy.title == "Rio dourado rio dourado me leva pra casa"
    assert copy.post_text.splitlines() == [
        "“Rio dourado rio dourado me leva pra casa”",
        "🎵 Rio Dourado, de Ana Vitória",
        "#AnaVitória #mpb #rio #dourado",
    ]
    assert copy.language == "pt" and copy.keywords[:2] == ("rio", "dourado")
    assert copy.as_json() == {
        "language": "pt",
        "source": "local",
        "keywords": list(copy.keywords),
        "model": "",
    }
    en = local_copy(CopyInput(**{**inp.__dict__, "language": "en"}))
    assert "🎵 Rio Dourado by Ana Vitória" in en.post_text
    assert local_copy(inp) == copy  # deterministic


def test_without_words_the_title_is_the_track_or_the_templates_label():
    assert local_copy(CopyInput(track_title="Golden River", artist="Alice", template="beat_montage")).title == (
        "Golden River — Alice"
    )
    assert local_copy(CopyInput(language="pt", template="beat_montage")).title == "Montagem"
    one_word = local_copy(CopyInput(language="en", template="beat_montage", phrases=(_phrase("festival"),)))
    assert one_word.title == "Montage: festival"
    assert "“" not in one_word.post_text  # one word is not quoted
    assert "#festival" in one_word.post_text


def test_a_long_phrase_is_cut_around_its_keywords_without_a_dangling_stop_word():
    words = "so I was telling my friends that the river festival lights tonight are the best of the year"
    copy = local_copy(CopyInput(phrases=(_phrase(words),), context_words=("river", "festival", "lights")))
    assert len(copy.title) <= TITLE_MAX
    assert "River festival lights" in copy.title or "river festival lights" in copy.title
    assert copy.title.split()[-1].lower() not in {"the", "of", "are", "and"}


text = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=120)


@settings(max_examples=60, deadline=None)
@given(
    track=text,
    artist=text,
    genre=st.text(max_size=40),
    lines=st.lists(text, max_size=6),
    language=st.sampled_from(["pt", "en", "es", ""]),
)
def test_title_and_post_text_always_fit(track, artist, genre, lines, language):
    inp = CopyInput(
        language=language,
        template="highlight",
        track_title=track,
        artist=artist,
        genre=genre,
        phrases=tuple(Phrase(tuple(line.split()), "lyrics", 0.0) for line in lines),
    )
    copy = local_copy(inp)
    assert 0 < len(copy.title) <= TITLE_MAX
    assert 0 < len(copy.post_text) <= POST_MAX
    assert copy.language in ("pt", "en")
    assert local_copy(inp) == copy


def test_hashtags_keep_letters_and_join_words():
    assert hashtag("Ana Vitória") == "#AnaVitória"
    assert hashtag("hip-hop") == "#HipHop"
    assert hashtag("  ") == ""


def test_only_the_words_inside_the_clip_are_read():
    words = speech_words(start=22.0)
    # one span covering "the river lights are beautiful" only
    first = next(w for w in words if w["word"].strip() == "river" and w["start"] > 24)
    last = next(w for w in words if w["word"].strip() == "beautiful")
    phrases = speech_phrases({"words": words}, [(first["start"] - 0.36, last["end"] + 0.01)])
    assert [" ".join(p.words) for p in phrases] == ["the river lights are beautiful"]
    lyrics = lyric_phrases({"segments": lyric_segments()}, 24.0, 27.5)
    assert [" ".join(p.words) for p in lyrics] == ["under the golden lights we dance"]
    assert lyric_phrases({"segments": lyric_segments()}, 40.0, 50.0) == []


def test_sentences_and_pauses_split_the_speech():
    phrases = speech_phrases({"words": speech_words()}, [(0.0, 100.0)])
    assert [" ".join(p.words) for p in phrases] == [
        "welcome to the river festival tonight",
        "the river lights are beautiful and the festival crowd is dancing",
        "thank you all for coming to the festival",
    ]


# --------------------------------------------------------------------------- stored and served


@pytest.mark.django_db
def test_clip_models_are_stored_with_a_title_and_post_text_and_the_api_returns_them(api, user, suggested):
    ingest, models = suggested(user, music=True, track_language="pt")
    hook = next(m for m in models if m.template == "hook")
    assert hook.music_offset is not None and hook.music_offset <= 28.0  # its music span has the chorus
    assert "golden river" in hook.title.lower()
    assert hook.copy["language"] == "pt" and hook.copy["source"] == "local"
    assert "🎵 Golden River, de alice" in hook.post_text
    for m in models:
        assert m.title and len(m.title) <= TITLE_MAX and len(m.post_text) <= POST_MAX
        if m.music_offset is None:  # a clip that does not play the track does not credit it
            assert "🎵" not in m.post_text
    body = api.get(f"/videos/{ingest.pk}/suggestions").json()
    served = {c["rank"]: c for c in body["clip_models"]}
    for m in models:
        assert served[m.rank]["title"] == m.title
        assert served[m.rank]["post_text"] == m.post_text
        assert served[m.rank]["copy"] == m.copy


@pytest.mark.django_db
def test_a_highlight_is_titled_from_the_speech_it_contains(user, suggested):
    ingest, models = suggested(user, music=False, video_language="pt")
    highlight = next(m for m in models if m.template == "highlight")
    spans = [(e["src_in"], e["src_out"]) for e in highlight.edl]
    inside = {
        w["word"].strip(" .").lower()
        for w in ingest.analysis.transcript["words"]
        if any(a <= (w["start"] + w["end"]) / 2 <= b for a, b in spans)
    }
    assert highlight.copy["keywords"] and set(highlight.copy["keywords"]) <= inside
    assert highlight.copy["language"] == "pt"  # the source's speech language (no track, no feedback)
    assert {w.lower().strip("“”") for w in highlight.title.split()} <= inside


@pytest.mark.django_db
def test_the_language_defaults_to_english(user, suggested):
    _, models = suggested(user, music=False, video_language=None)
    assert {m.copy["language"] for m in models} == {"en"}
