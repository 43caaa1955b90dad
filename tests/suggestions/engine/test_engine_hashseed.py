"""Suggestions are byte-identical across interpreter hash seeds.

Checking determinism twice in one process is blind to anything that iterates a
set or a dict built from a set: string hashing (and so that order) is fixed for
the life of a process.  Here the engine runs in fresh interpreters with
different ``PYTHONHASHSEED`` values over the same stored analysis inputs (the
JSON the database holds) and the JSON they print must be the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video

REPO_ROOT = Path(__file__).resolve().parents[3]

# Runs in the child: load the stored inputs, stack some profile layers, print the result
# as JSON in the engine's own key order (no sort_keys: an order change must show).
CHILD = """
import json, sys
from suggestions.engine import ProfileLayer, merge_profiles, suggest_clips

inputs = json.loads(open(sys.argv[1]).read())
layers = [ProfileLayer(**layer) for layer in inputs["layers"]]
profile = merge_profiles(layers, allow_experimental=False)
for music in (inputs["music"], None):
    result = suggest_clips(inputs["video"], music, profile, target_length_s=20.0)
    sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\\n")
sys.stdout.write(json.dumps(profile.to_dict()) + "\\n")
"""


def _run(inputs: Path, seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the engine is plain Python
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(inputs)], env=env, cwd=REPO_ROOT, capture_output=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return proc.stdout


def test_suggestions_are_byte_identical_under_different_hash_seeds(tmp_path):
    # Given stored analyses of a video and a track, and profile layers with several weights
    video = synthetic_video(
        150.0, seed=11,
        peaks=[(30.0, 10.0, {"motion": 0.9, "audio_energy": 0.8}), (100.0, 12.0, {"speech": 1.0, "faces": 1.0})],
    )  # fmt: skip
    music = synthetic_music(120.0, tempo=124.0, seed=5, peak=(60.0, 20.0))
    layers = [
        {"kind": "genre", "id": "pop", "version": 2, "weights": {"motion": 0.7, "speech": 1.3, "beat_strength": 1.1}},
        {"kind": "artist", "id": "a-1", "version": 5, "weights": {"novelty": 0.4, "audio_energy": 1.6}},
    ]
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"video": video, "music": music, "layers": layers}))
    # When the engine runs in three interpreters with different hash seeds
    outputs = [_run(inputs, seed) for seed in ("0", "12345", "4242")]
    # Then their outputs are the same bytes, and they are real suggestions (3 with music, 2 without)
    assert outputs[0] == outputs[1] == outputs[2]
    with_music, without_music, profile = (json.loads(line) for line in outputs[0].splitlines())
    assert [len(with_music["clips"]), len(without_music["clips"])] == [3, 2]
    assert [s["id"] for s in profile["sources"]] == ["builtin", "pop", "a-1"]
