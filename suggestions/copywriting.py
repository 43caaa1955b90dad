"""A short title and a post description for a clip model, written locally (no network, deterministic).

Inputs (:class:`CopyInput`): the words the clip actually contains — the source's speech inside the
clip's EDL spans (``VideoAnalysis.transcript``) and the track's lyrics inside its music span
(``MusicAnalysis.transcription``) — grouped into phrases, the whole transcript and lyrics (for
keyword weights), the track title, the artist, the genre, the template and the language.

How it writes:

* **Keywords**: the clip's words, lower-cased, without stop words (pt + en lists below), numbers
  and words under three letters; score = 2 x count in the clip + 0.5 x count in the whole
  transcript/lyrics (a chorus word repeated across the song weighs more); ties go to the word
  heard first, then alphabetical order.  The top :data:`MAX_KEYWORDS` are kept.
* **Title** (≤ :data:`TITLE_MAX` characters): the clip's phrase with the highest keyword score
  (lyrics win ties), whole when it is short enough, else cut to the :data:`TITLE_WORDS` words
  around its best keywords; a phrase under :data:`MIN_PHRASE_WORDS` words is not quoted, it
  follows the template's label (``Montage: festival``); without words, the track and artist;
  without a track either, the label alone.
* **Post text** (≤ :data:`POST_MAX` characters): the phrase quoted (up to :data:`POST_WORDS`
  words), the credit (``🎵 Track by Artist`` / ``🎵 Track, de Artist``) and up to
  :data:`MAX_HASHTAGS` hashtags from the artist, the genre and the top keywords.  Over the limit,
  hashtags go first, then the quote is shortened with an ellipsis.

Only ``pt`` and ``en`` are written: :func:`copy_language` picks the first supported language of
its candidates (track analysis, declared track language, …) and falls back to ``en``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

LANGUAGES: tuple[str, ...] = ("pt", "en")
DEFAULT_LANGUAGE = "en"
TITLE_MAX = 60
POST_MAX = 200
TITLE_WORDS = 7
#: A phrase shorter than this is not quoted: the title is the template's label and the words.
MIN_PHRASE_WORDS = 4
POST_WORDS = 16
MAX_KEYWORDS = 5
MAX_HASHTAGS = 4
#: A pause this long between two words of the source's speech starts a new phrase.
PHRASE_GAP_S = 0.6

_STOP_EN = """
a about above after again against all also am an and any are aren as at be because been before being
below between both but by can cannot could did didn do does doesn doing don down during each few for
from further get gets got had has have having he her here hers herself him himself his how i if in into
is isn it its itself just let like me more most my myself no nor not now of off on once only or other
our ours ourselves out over own really same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up us very was we were what
when where which while who whom why will with would yeah yes you your yours yourself yourselves oh ooh
ah uh um hey gonna wanna gotta ain ll ve re
"""
_STOP_PT = """
a ao aos aquela aquelas aquele aqueles aquilo as até com como da das de dela delas dele deles depois do
dos e é ela elas ele eles em entre era eram essa essas esse esses esta está estão estas estava este
estes eu foi for foram há isso isto já lhe lhes mais mas me mesmo meu meus minha minhas muito na nas
não nem no nos nós num numa o os ou para pela pelas pelo pelos por qual quando que quem se sem ser
seu seus só sua suas também te tem têm teu tua tudo um uma umas uns você vocês vou vai vamos tá pra pro
né aí então ai oh ô ah eh hum uh tô cê num gente coisa assim aqui lá ser estar ter fazer faz bem
"""
STOP_WORDS: frozenset[str] = frozenset((_STOP_EN + _STOP_PT).split())

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)

LABELS: dict[str, dict[str, str]] = {
    "en": {"highlight": "Best moment", "beat_montage": "Montage", "hook": "The hook", "": "Clip"},
    "pt": {"highlight": "Melhor momento", "beat_montage": "Montagem", "hook": "O refrão", "": "Clipe"},
}
CREDIT: dict[str, str] = {"en": "🎵 {track} by {artist}", "pt": "🎵 {track}, de {artist}"}
CREDIT_TRACK_ONLY = "🎵 {track}"


@dataclass(frozen=True)
class Phrase:
    """Consecutive words the clip contains (a lyric line or a stretch of speech)."""

    words: tuple[str, ...]
    kind: str  # "lyrics" | "speech"
    start: float


@dataclass(frozen=True)
class CopyInput:
    language: str = DEFAULT_LANGUAGE
    template: str = ""
    track_title: str = ""
    artist: str = ""
    genre: str = ""
    phrases: tuple[Phrase, ...] = ()
    #: every word of the whole transcript and lyrics (the keyword weights' context)
    context_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClipCopy:
    title: str
    post_text: str
    language: str
    keywords: tuple[str, ...] = ()
    source: str = "local"
    model: str = ""
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """What ``ClipModel.copy`` stores."""
        out: dict[str, Any] = {
            "language": self.language,
            "source": self.source,
            "keywords": list(self.keywords),
            "model": self.model,
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def normalise_language(value: Any) -> str | None:
    """``"pt-BR"`` → ``"pt"``; an unsupported or empty language → None."""
    if not value:
        return None
    code = str(value).strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def copy_language(*candidates: Any) -> str:
    """The first supported language among ``candidates`` (in order of trust), else ``en``."""
    for c in candidates:
        lang = normalise_language(c)
        if lang:
            return lang
    return DEFAULT_LANGUAGE


def tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text or "")


def _is_keyword(word: str) -> bool:
    w = word.lower().replace("’", "'")
    return len(w) >= 3 and w not in STOP_WORDS and w.split("'")[0] not in STOP_WORDS


def keywords(phrases: Sequence[Phrase], context_words: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The clip's keywords with their scores, best first (see the module doc)."""
    clip_count: dict[str, int] = {}
    first: dict[str, int] = {}
    n = 0
    for p in phrases:
        for w in p.words:
            key = w.lower()
            if _is_keyword(key):
                clip_count[key] = clip_count.get(key, 0) + 1
                first.setdefault(key, n)
            n += 1
    context: dict[str, int] = {}
    for w in context_words:
        key = w.lower()
        if key in clip_count:
            context[key] = context.get(key, 0) + 1
    scored = [(k, 2.0 * c + 0.5 * context.get(k, 0)) for k, c in clip_count.items()]
    scored.sort(key=lambda kv: (-kv[1], first[kv[0]], kv[0]))
    return scored


def _best_window(words: Sequence[str], scores: dict[str, float], size: int) -> tuple[int, float]:
    """Start of the ``size``-word window with the highest keyword score (earliest on ties)."""
    best, best_score = 0, -1.0
    for i in range(max(len(words) - size + 1, 1)):
        window = words[i : i + size]
        s = sum(scores.get(w.lower(), 0.0) for w in dict.fromkeys(window))
        if s > best_score + 1e-9:
            best, best_score = i, s
    return best, best_score


def _sentence(words: Sequence[str]) -> str:
    text = " ".join(words).strip(" ,;-–—")
    return text[:1].upper() + text[1:] if text else ""


def _fit(words: Sequence[str], limit: int) -> str:
    """The words as a sentence of at most ``limit`` characters (dropping words from the end)."""
    words = list(words)
    while words:
        text = _sentence(words)
        if len(text) <= limit:
            return text
        words.pop()
    return ""


def hashtag(text: str) -> str:
    """``"Ana Vitória"`` → ``"#AnaVitória"`` (letters and digits only; empty when none)."""
    parts = re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text or ""), re.UNICODE)
    if not parts:
        return ""
    body = "".join(p[:1].upper() + p[1:] for p in parts) if len(parts) > 1 else parts[0]
    return "#" + body[:40]


def _credit(language: str, track: str, artist: str) -> str:
    if track and artist:
        return CREDIT[language].format(track=track, artist=artist)
    if track:
        return CREDIT_TRACK_ONLY.format(track=track)
    return ""


def _hashtags(inp: CopyInput, kws: Sequence[str]) -> list[str]:
    tags: list[str] = []
    seen: set[str] = set()
    for raw in (inp.artist, "" if inp.genre in ("", "unknown") else inp.genre, *kws):
        tag = hashtag(raw)
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
        if len(tags) >= MAX_HASHTAGS:
            break
    return tags


def local_copy(inp: CopyInput) -> ClipCopy:
    """The title and post text of one clip (pure and deterministic; see the module doc)."""
    language = copy_language(inp.language)
    scored = keywords(inp.phrases, inp.context_words)
    scores = dict(scored)
    kws = [k for k, _ in scored[:MAX_KEYWORDS]]
    track, artist = inp.track_title.strip(), inp.artist.strip()

    # The phrase with the most keyword weight (lyrics win ties: they are the hook people know);
    # a sentence of MIN_PHRASE_WORDS words or more before any shorter one.
    best: Phrase | None = None
    best_key = (False, 0.0, False)
    for p in inp.phrases:
        s = sum(scores.get(w.lower(), 0.0) for w in dict.fromkeys(p.words))
        key = (len(p.words) >= MIN_PHRASE_WORDS, round(s, 9), p.kind == "lyrics")
        if s > 0 and key > best_key:
            best, best_key = p, key

    title = ""
    quote = ""
    labels = LABELS[language]
    label = labels.get(inp.template, labels[""])
    if best is not None and len(best.words) < MIN_PHRASE_WORDS:
        # A word or two (a montage of short pieces) is no sentence: it names the clip instead.
        title = _fit([f"{label}:", *best.words], TITLE_MAX)
        best = None
    if best is not None:
        whole = _sentence(best.words)
        if len(best.words) <= TITLE_WORDS + 3 and len(whole) <= TITLE_MAX:
            title = whole  # a whole short line reads better than a cut one
        else:
            i, _ = _best_window(best.words, scores, TITLE_WORDS)
            window = list(best.words[i : i + TITLE_WORDS])
            while len(window) > 1 and window[-1].lower() in STOP_WORDS:
                window.pop()  # "… and the" reads cut off
            title = _fit(window, TITLE_MAX)
        j, _ = _best_window(best.words, scores, POST_WORDS)
        quote = _sentence(best.words[j : j + POST_WORDS])
    if not title:
        if track and artist and len(track) + len(artist) + 3 <= TITLE_MAX:
            title = f"{track} — {artist}"
        elif track:
            title = track[:TITLE_MAX].rstrip()
        else:
            title = label

    credit = _credit(language, track, artist)
    tags = _hashtags(inp, kws)

    def compose(q: str, t: Sequence[str]) -> str:
        lines = []
        if q:
            lines.append(f"“{q}”")
        if credit:
            lines.append(credit)
        body = "\n".join(lines)
        return f"{body}\n{' '.join(t)}".strip() if t else body

    post = compose(quote, tags)
    while len(post) > POST_MAX and tags:
        tags = tags[:-1]
        post = compose(quote, tags)
    if len(post) > POST_MAX and quote:
        room = POST_MAX - len(compose("", tags)) - 4  # quotes, newline, ellipsis
        words = quote.split()
        while words and len(" ".join(words)) > room:
            words.pop()
        quote = (" ".join(words) + "…") if words else ""
        post = compose(quote, tags)
    if len(post) > POST_MAX:
        post = post[: POST_MAX - 1].rstrip() + "…"
    if not post:
        post = title
    return ClipCopy(title=title, post_text=post, language=language, keywords=tuple(kws))


# --------------------------------------------------------------------------- phrases from analyses


def _in_spans(t0: float, t1: float, spans: Sequence[tuple[float, float]]) -> bool:
    mid = (t0 + t1) / 2
    return any(a <= mid <= b for a, b in spans)


def speech_phrases(transcript: dict[str, Any] | None, spans: Sequence[tuple[float, float]]) -> list[Phrase]:
    """The source's words whose middle lies in one of ``spans`` (source seconds), as phrases.

    A phrase ends at a pause of :data:`PHRASE_GAP_S`, at sentence punctuation, or where the clip
    leaves a span.
    """
    words = (transcript or {}).get("words") or []
    phrases: list[Phrase] = []
    current: list[str] = []
    start = 0.0
    prev_end: float | None = None
    prev_span: int | None = None
    for w in words:
        try:
            t0, t1 = float(w["start"]), float(w["end"])
        except (KeyError, TypeError, ValueError):
            continue
        mid = (t0 + t1) / 2
        span = next((k for k, (a, b) in enumerate(spans) if a <= mid <= b), None)
        if span is None:
            continue
        parts = tokens(str(w.get("word", "")))
        if not parts:
            continue
        if current and (span != prev_span or (prev_end is not None and t0 - prev_end > PHRASE_GAP_S)):
            phrases.append(Phrase(tuple(current), "speech", start))
            current = []
        if not current:
            start = t0
        current.extend(parts)
        prev_end, prev_span = t1, span
        if str(w.get("word", "")).rstrip().endswith((".", "!", "?", "…")):
            phrases.append(Phrase(tuple(current), "speech", start))
            current = []
    if current:
        phrases.append(Phrase(tuple(current), "speech", start))
    return phrases


def lyric_phrases(transcription: dict[str, Any] | None, start: float, end: float) -> list[Phrase]:
    """The track's lyric lines (their words inside [start, end] on the track clock)."""
    out: list[Phrase] = []
    for seg in (transcription or {}).get("segments") or []:
        words = seg.get("words")
        if words:
            kept = [
                p
                for w in words
                if _in_spans(float(w.get("start", 0)), float(w.get("end", 0)), [(start, end)])
                for p in tokens(str(w.get("word", "")))
            ]
        elif _in_spans(float(seg.get("start", 0)), float(seg.get("end", 0)), [(start, end)]):
            kept = tokens(str(seg.get("text", "")))
        else:
            kept = []
        if kept:
            out.append(Phrase(tuple(kept), "lyrics", float(seg.get("start", 0))))
    return out


def all_words(transcript: dict[str, Any] | None, transcription: dict[str, Any] | None) -> tuple[str, ...]:
    """Every word of the source's speech and the track's lyrics (keyword context)."""
    speech = [p for w in (transcript or {}).get("words") or [] for p in tokens(str(w.get("word", "")))]
    lyrics = tokens(str((transcription or {}).get("text") or ""))
    return (*speech, *lyrics)
