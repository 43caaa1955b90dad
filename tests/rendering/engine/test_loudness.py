"""The numpy EBU R128 measurement against ffmpeg's loudnorm, and the render's choice between them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from render_media import SOURCE_META, make_clip

from rendering.engine import measure_loudness, render_variant
from rendering.engine.loudness import linear_possible, measure_r128
from rendering.engine.verify import parse_loudnorm_json

SR = 48000
TARGET = {"target_i": -14.0, "target_tp": -1.5, "target_lra": 11.0}


def _signal(kind: str, seconds: float = 20.0, seed: int = 3) -> np.ndarray:
    """Stereo test programmes at 48 kHz: speech-like bursts, a dynamic piece, a quiet peaky one, silence."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if kind == "silence":
        return np.zeros((n, 2), np.float32)
    noise = rng.standard_normal((n, 2))
    if kind == "bursts":  # syllable-like bursts of band noise with pauses, moderate level
        env = (np.sin(2 * np.pi * 3.1 * t) > 0.2) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.13 * t) ** 2)
        x = 0.08 * noise * env[:, None]
    elif kind == "steady":  # tones that swell and fade: a low crest factor, one gain suffices
        env = 0.4 + 0.6 * np.sin(2 * np.pi * 0.21 * t) ** 2
        tone = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t + 0.4)
        x = 0.05 * (tone * env)[:, None] * np.array([1.0, 0.8])
    elif kind == "dynamic":  # a loud part, a very quiet part, a tone
        x = 0.02 * noise
        x[: n // 3] *= 12.0
        x[n // 3 : 2 * n // 3] *= 0.05
        x[2 * n // 3 :] = 0.3 * np.sin(2 * np.pi * 440 * t[2 * n // 3 :, None] + np.array([0, 0.3]))
    elif kind == "peaky":  # quiet bed with near-full-scale clicks: linear gain would clip
        x = 0.01 * noise
        x[:: SR // 2] = 0.95
    else:
        raise ValueError(kind)
    return x.astype(np.float32)


def _loudnorm_json(path: Path) -> dict:
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
         "-af", "loudnorm=I=-14:TP=-1.5:LRA=11:print_format=json", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return parse_loudnorm_json(proc.stderr)


def _write_wav(x: np.ndarray, path: Path) -> Path:
    import soundfile as sf

    sf.write(str(path), x, SR, subtype="FLOAT")
    return path


def _ebur128(path: Path) -> dict[str, float]:
    """ffmpeg's ebur128 filter at the file's 48 kHz: integrated loudness and its gate."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = proc.stderr[proc.stderr.rfind("Summary:") :]
    i, thresh = re.search(r"I:\s*(-?[\d.]+) LUFS\s*\n\s*Threshold:\s*(-?[\d.]+) LUFS", summary).groups()
    return {"input_i": float(i), "input_thresh": float(thresh)}


@pytest.mark.parametrize("kind", ["bursts", "steady", "dynamic", "peaky"])
def test_numpy_measurement_agrees_with_ffmpeg(kind: str, tmp_path: Path) -> None:
    x = _signal(kind)
    ours = measure_r128(x)
    wav = _write_wav(x, tmp_path / f"{kind}.wav")
    # BS.1770 at 48 kHz: ffmpeg's ebur128 (what the render's verification measures), to its 0.1 LU print
    ref = _ebur128(wav)
    assert abs(ours["input_i"] - ref["input_i"]) <= 0.06, (ours, ref)
    assert abs(ours["input_thresh"] - ref["input_thresh"]) <= 0.06, (ours, ref)
    # loudnorm measures at 192 kHz (its K-weighting differs near 20 kHz: 0.2-0.55 LU on these
    # white-noise programmes), its true peak there, and its range from 3-s windows every second
    # as here (the ebur128 filter slides them every 100 ms); the two agree on linear or not
    theirs = _loudnorm_json(wav)
    assert abs(ours["input_i"] - theirs["input_i"]) <= 0.6, (ours, theirs)
    assert abs(ours["input_tp"] - theirs["input_tp"]) <= 0.3, (ours, theirs)
    assert abs(ours["input_lra"] - theirs["input_lra"]) <= 1.0, (ours, theirs)
    assert linear_possible(ours, **TARGET) == linear_possible(theirs, **TARGET)


def test_silence_and_short_input() -> None:
    silent = measure_r128(_signal("silence", 5.0))
    assert silent["input_i"] == -70.0 and silent["input_thresh"] == -70.0
    assert not linear_possible(silent, **TARGET)
    short = measure_r128(np.full((1000, 2), 0.1, np.float32))  # under one 400-ms block
    assert short["input_i"] == -70.0
    with pytest.raises(ValueError):
        measure_r128(np.zeros((100, 2)), rate=44100)


def test_linear_rule_is_loudnorms(tmp_path: Path) -> None:
    # loudnorm's second pass says which mode it used: it must be the one linear_possible predicts
    for kind in ("bursts", "steady", "peaky"):
        x = _signal(kind)
        wav = _write_wav(x, tmp_path / f"{kind}.wav")
        m = measure_r128(x)
        opts = (
            f"I=-14:TP=-1.5:LRA=11:measured_I={m['input_i']:.2f}:measured_TP={m['input_tp']:.2f}"
            f":measured_LRA={m['input_lra']:.2f}:measured_thresh={m['input_thresh']:.2f}:offset=0:linear=true"
            ":print_format=json"
        )
        proc = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(wav), "-af", f"loudnorm={opts}",
             "-f", "null", "-"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        mode = json.loads(proc.stderr[proc.stderr.rfind("{") : proc.stderr.rfind("}") + 1])["normalization_type"]
        assert (mode == "linear") == linear_possible(m, **TARGET), (kind, mode, m)
    assert linear_possible(measure_r128(_signal("steady")), **TARGET)
    assert not linear_possible(measure_r128(_signal("peaky")), **TARGET)


def test_render_measures_in_numpy_when_linear_and_lands_on_target(flash_source, tmp_path: Path) -> None:
    # the flash/beep source's sound is steady and far below full scale: one gain suffices
    clip = make_clip([(1.0, 4.0), (6.0, 8.0)])
    result = render_variant(
        str(flash_source), clip, str(tmp_path / "out.mp4"), meta=SOURCE_META, settings={"preset": "ultrafast"}
    )
    lines = [line for line in result.log if "] loudness:" in line]
    assert any("measured in numpy, linear gain" in line for line in lines), lines
    assert not any("measure pass" in line for line in lines)
    assert abs(measure_loudness(result.path) - (-14.0)) <= 0.5
    assert not list(tmp_path.glob("*.f32"))  # the decoded chain is removed


def test_render_falls_back_to_loudnorms_pass_for_a_peaky_track(flash_source, tmp_path: Path) -> None:
    track = _write_wav(_signal("peaky", 12.0), tmp_path / "peaky.wav")
    clip = make_clip([(1.0, 4.0), (6.0, 8.0)], music_offset=0.5, music_duration=5.0)
    result = render_variant(
        str(flash_source),
        clip,
        str(tmp_path / "out.mp4"),
        music=str(track),
        meta=SOURCE_META,
        settings={"preset": "ultrafast"},
    )
    lines = [line for line in result.log if "] loudness:" in line]
    assert any("measure pass" in line for line in lines), lines
    assert any("loudnorm pass" in line for line in lines), lines
    assert result.verify and result.verify["ok"], result.verify


def test_loudness_measured_ahead_is_used_and_renders_the_same(flash_source, tmp_path: Path) -> None:
    """`measure_variant_loudness` (made while another variant encodes) replaces the render's own
    first pass: same figures, same output loudness, no pass in the render; made for another
    audio chain, it is not used."""
    from rendering.engine import measure_variant_loudness

    track = _write_wav(_signal("peaky", 12.0), tmp_path / "peaky.wav")
    clip = make_clip([(1.0, 4.0), (6.0, 8.0)], music_offset=0.5, music_duration=5.0)
    kw = {"meta": SOURCE_META, "music": str(track), "settings": {"preset": "ultrafast"}}
    ahead = measure_variant_loudness(str(flash_source), clip, str(tmp_path / "ahead.mp4"), **kw)
    assert ahead is not None and ahead["how"] == "loudnorm pass" and ahead["seconds"] > 0
    inline = render_variant(str(flash_source), clip, str(tmp_path / "inline.mp4"), **kw)
    used = render_variant(str(flash_source), clip, str(tmp_path / "used.mp4"), loudness=ahead, **kw)
    assert used.loudness == ahead["measured"]
    assert used.loudness["input_i"] == inline.loudness["input_i"]
    assert used.timings["loudness"] == 0.0 and used.timings["loudness_ahead"] == ahead["seconds"]
    lines = [line for line in used.log if "] loudness:" in line]
    assert any("loudnorm pass, measured ahead" in line for line in lines), lines
    assert not any("measure pass" in line for line in lines), lines
    assert used.verify and used.verify["ok"], used.verify
    assert abs(measure_loudness(used.path) - measure_loudness(inline.path)) <= 0.1
    # measured for another stretch of the track: the render measures its own chain
    other = make_clip([(1.0, 4.0), (6.0, 8.0)], music_offset=2.0, music_duration=5.0)
    moved = render_variant(str(flash_source), other, str(tmp_path / "moved.mp4"), loudness=ahead, **kw)
    lines = [line for line in moved.log if "] loudness:" in line]
    assert any("made ahead was for another audio chain" in line for line in lines), lines
    assert "loudness_ahead" not in moved.timings and moved.timings["loudness"] > 0
    assert not list(tmp_path.glob("*.f32"))
    # loudnorm off: nothing to measure ahead
    assert (
        measure_variant_loudness(
            str(flash_source), clip, str(tmp_path / "x.mp4"), meta=SOURCE_META, settings={"loudnorm": False}
        )
        is None
    )


def _children() -> set[int]:
    """Live child processes of this one (ffmpeg runs left behind would show here)."""
    import os

    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            kids.add(int(entry.name))
    return kids


@pytest.mark.parametrize("kind", ["peaky", "steady"])
def test_eager_measurement_gives_the_same_figures(flash_source, tmp_path: Path, kind: str) -> None:
    """``eager``: loudnorm's pass runs beside the numpy path -- its figures are used when the gain
    cannot be linear (peaky), it is stopped and left out of the render log when it can (steady);
    the figures are those of the sequential measurement either way, and no ffmpeg is left running."""
    from rendering.engine import measure_variant_loudness

    track = _write_wav(_signal(kind, 12.0), tmp_path / f"{kind}.wav")
    clip = make_clip([(1.0, 4.0), (6.0, 8.0)], music_offset=0.5, music_duration=5.0)
    kw = {"meta": SOURCE_META, "music": str(track), "settings": {"preset": "ultrafast"}}
    before = _children()
    plain = measure_variant_loudness(str(flash_source), clip, str(tmp_path / "a.mp4"), **kw)
    eager = measure_variant_loudness(str(flash_source), clip, str(tmp_path / "b.mp4"), eager=True, **kw)
    assert plain is not None and eager is not None
    assert eager["measured"] == plain["measured"] and eager["how"] == plain["how"] and eager["key"] == plain["key"]
    assert eager["how"] == ("loudnorm pass" if kind == "peaky" else "measured in numpy, linear gain")
    assert _children() <= before
    # a render's own measurement is eager: its log names the pass only where the pass was used
    result = render_variant(str(flash_source), clip, str(tmp_path / "out.mp4"), **kw)
    lines = [line for line in result.log if "] loudness:" in line]
    assert any("measure pass" in line for line in lines) == (kind == "peaky"), lines
    assert result.loudness == plain["measured"]
    assert _children() <= before
    assert not list(tmp_path.glob("*.f32"))
