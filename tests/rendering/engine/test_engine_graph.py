"""Planning and command building: pure, no encoding."""

from __future__ import annotations

import struct

import pytest
from render_media import make_clip

from rendering.engine import RenderError, build_command, plan_render
from rendering.engine.graph import (
    build_loudness_command,
    crop_geometry,
    crop_path_at,
    face_centre,
    resolve_settings,
)
from rendering.engine.run import _out_time_s, _Progress, parse_progress_line
from rendering.engine.verify import moov_before_mdat, parse_loudnorm_json, top_level_atoms

META_1080 = {"fps": 30, "width": 1920, "height": 1080, "has_audio": True, "duration": 300.0}


def _filter(cmd: list[str]) -> str:
    return cmd[cmd.index("-filter_complex") + 1]


def _inputs(cmd: list[str]) -> list[tuple[str | None, str | None, str]]:
    """(ss, t, path) of every -i, in order."""
    out, ss, t = [], None, None
    for i, arg in enumerate(cmd):
        if arg == "-ss":
            ss = cmd[i + 1]
        elif arg == "-t":
            t = cmd[i + 1]
        elif arg == "-i":
            out.append((ss, t, cmd[i + 1]))
            ss = t = None
    return out


# --------------------------------------------------------------------------- plan


def test_plan_quantises_cumulatively_to_output_frames():
    # Given cuts whose lengths are not whole frames
    clip = make_clip([(10.0, 11.01), (20.0, 21.01), (30.0, 31.01)])
    # When planned at 30 fps
    plan = plan_render(clip, META_1080, {})
    # Then each segment is whole frames, the total is round(3.03 * 30) and positions chain
    assert [s.frames for s in plan.segments] == [30, 31, 30]
    assert plan.total_frames == 91
    assert plan.duration == pytest.approx(91 / 30)
    assert [s.position for s in plan.segments] == pytest.approx([0.0, 1.0, 61 / 30])
    assert sum(s.samples for s in plan.segments) == plan.total_samples == 91 * 1600


def test_plan_orders_by_position():
    clip = {
        "edl": [
            {"src_in": 50.0, "src_out": 51.0, "position": 1.0, "duration": 1.0},
            {"src_in": 5.0, "src_out": 6.0, "position": 0.0, "duration": 1.0},
        ]
    }
    plan = plan_render(clip, META_1080, {})
    assert [s.src_in for s in plan.segments] == [5.0, 50.0]


@pytest.mark.parametrize(
    "edl, fragment",
    [
        ([], "empty edl"),
        ([{"src_in": 3.0, "src_out": 2.0}], "src_in=3.0"),
        ([{"src_in": -1.0, "src_out": 2.0}], "src_in=-1.0"),
        ([{"src_in": 1.0}], "numeric src_in"),
        ([{"src_in": 1.0, "src_out": 2.0, "duration": 3.0}], "disagrees"),
        ([{"src_in": 400.0, "src_out": 401.0}], "past the source end"),
        ([{"src_in": 1.0, "src_out": 1.01}], "shorter than one output frame"),
    ],
)
def test_plan_rejects_bad_edl(edl, fragment):
    with pytest.raises(RenderError) as err:
        plan_render({"edl": edl}, META_1080, {})
    assert err.value.code == "invalid_edl"
    assert fragment in err.value.message


def test_cut_in_snaps_to_the_nearest_source_frame():
    clip = make_clip([(3.71, 4.5), (10.0, 11.0)])
    plan = plan_render(clip, META_1080, {})
    assert plan.segments[0].src_in == pytest.approx(3.7) and plan.segments[0].requested_in == 3.71
    assert plan.segments[1].src_in == 10.0
    # the output timeline is untouched: lengths still come from the EDL
    assert [s.frames for s in plan.segments] == [24, 30]
    plan = plan_render(clip, META_1080, {"snap_to_source_frames": False})
    assert plan.segments[0].src_in == 3.71


def test_plan_clamps_to_source_end_with_a_note():
    plan = plan_render(make_clip([(298.0, 301.0)]), META_1080, {})
    assert plan.segments[0].src_out == pytest.approx(300.0)
    assert any("clamped" in n for n in plan.notes)


def test_settings_are_validated():
    with pytest.raises(RenderError):
        resolve_settings({"colour": "red"})
    with pytest.raises(RenderError):
        resolve_settings({"mode": "stretch"})
    with pytest.raises(RenderError):
        resolve_settings({"width": 1081})
    assert resolve_settings({"crf": 18})["crf"] == 18
    for threads in (0, -2, 65, 2.5, "6", True):
        with pytest.raises(RenderError, match="threads"):
            resolve_settings({"threads": threads})
    assert resolve_settings({"threads": 4})["threads"] == 4
    assert resolve_settings({})["threads"] is None


# --------------------------------------------------------------------------- face crop


def _faces(t0, t1, box, step=0.2):
    n = int(round((t1 - t0) / step))
    return [{"time": round(t0 + i * step, 3), "boxes": [box]} for i in range(n + 1)]


def test_crop_follows_a_face_on_the_right_and_is_constant_per_segment():
    # Given a face on the right of the frame during the first segment only
    faces = _faces(10.0, 12.0, [0.70, 0.30, 0.12, 0.25, 0.95])
    clip = make_clip([(10.0, 12.0), (40.0, 42.0)])
    # When planned
    plan = plan_render(clip, META_1080, {}, faces=faces)
    # Then the crop window is 9:16 of the full height
    assert (plan.crop_w, plan.crop_h) == (606, 1080)
    first, second = plan.segments
    # centred on the face centre x = 0.76 * 1920 = 1459 -> x = 1459 - 303, clamped, even
    assert first.crop_x == 1156
    assert first.crop_x > (1920 - 606) / 2
    assert first.face_samples == len(faces)
    # and the segment without faces falls back to the frame centre
    assert second.crop_x == 656 and second.face_samples == 0
    # and the command crops each segment with one constant x (no per-frame expression)
    cmd = build_command("/in.mp4", clip, "/out.mp4", faces=faces, meta=META_1080, settings={})
    fc = _filter(cmd)
    assert "crop=606:1080:1156:0" in fc
    assert "crop=606:1080:656:0" in fc
    assert fc.count("crop=606:1080:") == 2


def test_short_cut_between_sparse_face_samples_uses_the_neighbours():
    faces = [{"time": 10.0, "boxes": [[0.7, 0.3, 0.1, 0.2, 0.9]]}, {"time": 11.0, "boxes": [[0.7, 0.3, 0.1, 0.2, 0.9]]}]
    plan = plan_render(make_clip([(10.3, 10.7)]), META_1080, {}, faces=faces)
    # causal: the sample just before the cut (10.0 s) places the window, not the one after it
    assert plan.segments[0].face_samples == 1 and plan.segments[0].crop_x > 1000


def test_crop_is_clamped_at_the_frame_edge():
    faces = _faces(0.0, 2.0, [0.93, 0.3, 0.06, 0.1, 0.9])
    plan = plan_render(make_clip([(0.0, 2.0)]), META_1080, {}, faces=faces)
    assert plan.segments[0].crop_x == 1920 - 606


def test_crop_uses_weighted_median_and_ignores_weak_boxes():
    # a big confident face on the left, a small one on the right, a weak
    # false positive far right
    faces = [
        {"time": t / 5, "boxes": [[0.15, 0.2, 0.2, 0.4, 0.9], [0.75, 0.4, 0.05, 0.08, 0.8], [0.9, 0.1, 0.3, 0.3, 0.2]]}
        for t in range(11)
    ]
    cx, cy, n = face_centre(faces, 0.0, 2.0, min_score=0.5)
    assert cx == pytest.approx(0.25) and cy == pytest.approx(0.4)
    assert n == 22


def test_contiguous_segments_keep_the_window_when_the_face_barely_moves():
    faces = _faces(0.0, 2.0, [0.60, 0.3, 0.1, 0.2, 0.9]) + _faces(2.2, 4.0, [0.62, 0.3, 0.1, 0.2, 0.9])
    plan = plan_render(make_clip([(0.0, 2.0), (2.0, 4.0)]), META_1080, {}, faces=faces)
    assert plan.segments[0].crop_x == plan.segments[1].crop_x


def test_portrait_source_crops_vertically():
    w, h = crop_geometry(1080, 1920, 1080, 1920)
    assert (w, h) == (1080, 1920)
    w, h = crop_geometry(1080, 2400, 1080, 1920)
    assert (w, h) == (1080, 1920)
    meta = {"fps": 30, "width": 1080, "height": 2400, "has_audio": True}
    faces = _faces(0.0, 1.0, [0.4, 0.0, 0.2, 0.1, 0.9])
    plan = plan_render(make_clip([(0.0, 1.0)]), meta, {}, faces=faces)
    assert (plan.segments[0].crop_x, plan.segments[0].crop_y) == (0, 0)


def test_rotated_source_swaps_dimensions():
    meta = {"fps": 30, "width": 1920, "height": 1080, "rotation": -90, "has_audio": True}
    plan = plan_render(make_clip([(0.0, 1.0)]), meta, {})
    assert (plan.source_width, plan.source_height) == (1080, 1920)
    assert (plan.crop_w, plan.crop_h) == (1080, 1920)


# --------------------------------------------------------------------------- command


def test_command_is_one_run_with_an_accurate_seek_input_per_segment():
    clip = make_clip([(12.5, 14.0), (100.0, 101.2), (7.0, 8.0)])
    cmd = build_command("/src.mp4", clip, "/out.mp4", meta=META_1080, settings={"preset": "fast", "crf": 23})
    assert cmd[0].endswith("ffmpeg")
    inputs = _inputs(cmd)
    assert [p for _, _, p in inputs] == ["/src.mp4"] * 3
    # seek to the cut (1 us early so the frame starting there survives the accurate-seek trim)
    assert [float(ss) for ss, _, _ in inputs] == pytest.approx([12.5, 100.0, 7.0], abs=2e-6)
    # -t covers the segment plus a small margin, never the whole file
    assert all(1.0 < float(t) < 1.7 for _, t, _ in inputs)
    fc = _filter(cmd)
    assert "concat=n=3:v=1:a=1" in fc
    assert fc.count("fps=30/1:start_time=0") == 3
    assert "trim=end_frame=45" in fc and "atrim=end_sample=72000" in fc
    assert "scale=1080:1920" in fc
    assert "loudnorm=I=-14:TP=-1.5:LRA=11" in fc
    for flag in (
        ["-c:v", "libx264"],
        ["-preset", "fast"],
        ["-crf", "23"],
        ["-pix_fmt", "yuv420p"],
        ["-c:a", "aac"],
        ["-ar", "48000"],
        ["-ac", "2"],
        ["-movflags", "+faststart"],
        ["-progress", "pipe:1"],
        ["-map_metadata", "-1"],
    ):
        i = cmd.index(flag[0])
        assert cmd[i + 1] == flag[1], flag
    assert "-nostats" in cmd and cmd[-1] == "/out.mp4"


@pytest.mark.parametrize(
    ("cores", "setting", "expected"),
    [(1, None, None), (2, None, "6"), (4, None, "12"), (8, None, "16"), (2, 1, "1"), (8, 4, "4")],
)
def test_x264_gets_three_frame_threads_per_core_unless_set(monkeypatch, cores, setting, expected):
    from rendering.engine import filtergraph

    monkeypatch.setattr(filtergraph, "usable_cores", lambda: cores)
    clip = make_clip([(12.5, 14.0)])
    cmd = build_command("/src.mp4", clip, "/out.mp4", meta=META_1080, settings={"threads": setting})
    # the option belongs to the deliverable's output: after its encoder, before its path
    main = cmd[cmd.index("libx264") : cmd.index("/out.mp4")]
    if expected is None:
        assert "-threads" not in cmd  # one core: ffmpeg's (x264's) own default
    else:
        assert main[main.index("-threads") + 1] == expected
        assert cmd.count("-threads") == 1


def test_usable_cores_is_this_process_affinity():
    import os

    from rendering.engine.filtergraph import usable_cores

    assert usable_cores() == len(os.sched_getaffinity(0))


def test_only_a_preview_decodes_its_source_without_the_loop_filter():
    clip = make_clip([(12.5, 14.0), (100.0, 101.2)])
    full = build_command("/src.mp4", clip, "/out.mp4", meta=META_1080, settings={})
    assert "-skip_loop_filter" not in full  # a deliverable: the decoder's full quality
    from rendering.previews import PREVIEW_RENDER_SETTINGS

    for seek in ("input", "trim"):
        cmd = build_command(
            "/src.mp4", clip, "/out.mp4", meta=META_1080, settings={**PREVIEW_RENDER_SETTINGS, "seek": seek}
        )
        # the option sits before each input of the source (it applies to the input that follows)
        src_inputs = [i for i, a in enumerate(cmd) if a == "-i" and cmd[i + 1] == "/src.mp4"]
        assert len(src_inputs) == (2 if seek == "input" else 1)
        for i in src_inputs:
            head = cmd[max(0, i - 8) : i]
            assert head[head.index("-skip_loop_filter") + 1] == "all"


def test_music_replaces_the_original_audio_with_fades():
    clip = make_clip([(10.0, 20.0), (30.0, 40.0)], music_offset=42.5, music_duration=20.0)
    cmd = build_command("/src.mp4", clip, "/out.mp4", music="/music.mp3", meta=META_1080, settings={})
    inputs = _inputs(cmd)
    assert inputs[-1][0] == "42.500000" and inputs[-1][2] == "/music.mp3"
    fc = _filter(cmd)
    assert "[2:a:0]" in fc and "[0:a:0]" not in fc and "[1:a:0]" not in fc
    assert "concat=n=2:v=1:a=0" in fc
    assert "afade=t=in:st=0:d=0.250000" in fc
    assert "afade=t=out:st=19.250000:d=0.750000" in fc
    assert "atrim=end_sample=960000" in fc


def test_source_without_audio_gets_a_silent_track():
    meta = dict(META_1080, has_audio=False)
    cmd = build_command("/src.mp4", make_clip([(0.0, 2.0)]), "/out.mp4", meta=meta, settings={})
    fc = _filter(cmd)
    assert "anullsrc=r=48000:cl=stereo,atrim=end_sample=96000" in fc
    assert "loudnorm" not in fc
    assert "[0:a" not in fc
    assert build_loudness_command("/src.mp4", make_clip([(0.0, 2.0)]), meta=meta) is None


def test_two_pass_loudnorm_uses_the_measurement():
    measured = {
        "input_i": "-20.5",
        "input_tp": "-6.0",
        "input_lra": "3.2",
        "input_thresh": "-31.0",
        "target_offset": "0.4",
    }

    def audio_filter(m: dict) -> str:
        cmd = build_command(
            "/src.mp4",
            make_clip([(0.0, 2.0)]),
            "/out.mp4",
            meta=META_1080,
            settings={"loudness_target": -16},
            measured_loudness=m,
        )
        return _filter(cmd)

    # one gain keeps the true peak at the ceiling (-6.0 + 4.5 = -1.5): loudnorm's linear mode,
    # applied as that gain (no round trip through 192 kHz)
    fc = audio_filter(measured)
    assert "volume=4.50dB,aresample=48000" in fc and "loudnorm" not in fc
    # a peak the gain would push over the ceiling: loudnorm's dynamic mode with pass one's figures
    assert (
        "loudnorm=I=-16:TP=-1.5:LRA=11:measured_I=-20.50:measured_TP=-3.00:measured_LRA=3.20"
        ":measured_thresh=-31.00:offset=0.40:linear=true"
    ) in audio_filter({**measured, "input_tp": "-3.0"})


def test_loudness_pass_is_audio_only():
    cmd = build_loudness_command("/src.mp4", make_clip([(1.0, 2.0), (5.0, 6.0)]), meta=META_1080)
    assert cmd is not None
    assert cmd.count("-vn") == 2 and "print_format=json" in _filter(cmd) and cmd[-3:] == ["-f", "null", "-"]


def test_letterbox_modes():
    clip = make_clip([(0.0, 2.0)])
    black = _filter(
        build_command(
            "/s.mp4", clip, "/o.mp4", meta=META_1080, settings={"mode": "letterbox", "letterbox_background": "black"}
        )
    )
    assert "force_original_aspect_ratio=decrease" in black and "pad=1080:1920" in black and "crop=" not in black
    blur = _filter(build_command("/s.mp4", clip, "/o.mp4", meta=META_1080, settings={"mode": "letterbox"}))
    assert "boxblur" in blur and "overlay=(W-w)/2:(H-h)/2" in blur


def test_source_fps_setting_keeps_ntsc_rate():
    meta = dict(META_1080, fps="30000/1001")
    plan = plan_render(make_clip([(0.0, 1.0)]), meta, {"fps": "source"})
    assert str(plan.fps) == "30000/1001" and plan.total_frames == 30


def test_trim_seek_mode_uses_a_single_input():
    cmd = build_command(
        "/s.mp4", make_clip([(5.0, 6.0), (8.0, 9.0)]), "/o.mp4", meta=META_1080, settings={"seek": "trim"}
    )
    assert len(_inputs(cmd)) == 1
    assert "split=2" in _filter(cmd) and "asplit=2" in _filter(cmd)


# --------------------------------------------------------------------------- progress / atoms / json


def test_progress_parsing_is_monotonic_and_ends_at_100():
    seen: list[float] = []
    progress = _Progress(seen.append)
    state: dict[str, str] = {}
    blocks = [
        ["out_time_us=N/A", "progress=continue"],
        ["out_time_us=-23000", "progress=continue"],
        ["out_time_us=1500000", "progress=continue"],
        ["out_time_us=1200000", "progress=continue"],
        ["out_time_us=3000000", "progress=continue"],
        ["out_time_us=3100000", "progress=end"],
    ]
    for block in blocks:
        for line in block:
            if parse_progress_line(line, state):
                t = _out_time_s(state)
                if t is not None:
                    progress.report(100 * t / 3.0)
    progress.done()
    assert seen == sorted(seen)
    assert seen[-1] == 100.0 and seen.count(100.0) == 1
    assert all(0 <= p <= 100 for p in seen)


def _box(kind: bytes, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def test_top_level_atoms_handles_64_bit_and_to_eof_sizes(tmp_path):
    path = tmp_path / "a.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + _box(b"moov", b"x" * 20) + _box(b"mdat", b"y" * 40, large=True))
    assert [a[0] for a in top_level_atoms(str(path))] == ["ftyp", "moov", "mdat"]
    assert moov_before_mdat(str(path))
    path.write_bytes(_box(b"ftyp", b"isom") + struct.pack(">I4s", 0, b"mdat") + b"z" * 30)
    assert top_level_atoms(str(path)) == [("ftyp", 0, 12), ("mdat", 12, 38)]
    assert not moov_before_mdat(str(path))


def test_parse_loudnorm_json():
    text = (
        'junk\n[Parsed_loudnorm_0 @ 0x1] \n{\n\t"input_i" : "-23.01",\n\t"input_tp" : "-5.00",\n'
        '\t"normalization_type" : "dynamic"\n}\n'
    )
    data = parse_loudnorm_json(text)
    assert data["input_i"] == -23.01 and data["normalization_type"] == "dynamic"
    with pytest.raises(RenderError):
        parse_loudnorm_json("nothing here")


# --------------------------------------------------------------------------- tracked crop (long segments)


def test_long_segment_follows_a_moving_face_smoothly():
    # Given a face walking from the left to the right over an 8 s highlight
    faces = [{"time": i * 0.2, "boxes": [[0.1 + 0.8 * i / 40 - 0.05, 0.3, 0.1, 0.2, 0.9]]} for i in range(41)]
    plan = plan_render(make_clip([(0.0, 8.0)]), META_1080, {}, faces=faces)
    seg = plan.segments[0]
    # Then the window moves along x, one way only, following the face
    assert seg.crop_axis == "x" and seg.crop_path is not None
    xs = [x for _, x in seg.crop_path]
    assert xs == sorted(xs) and xs[0] < 300 and xs[-1] > 1000
    # and frame to frame it never jumps more than the speed limit allows
    per_frame = [
        abs(crop_path_at(seg.crop_path, (k + 1) / 30) - crop_path_at(seg.crop_path, k / 30)) for k in range(239)
    ]
    assert max(per_frame) <= 0.6 * 1920 / 30 + 1
    # and the face stays inside the window in every frame
    for k in range(240):
        t = k / 30
        face_x = (0.1 + 0.8 * min(round(t / 0.2), 40) / 40) * 1920
        x0 = crop_path_at(seg.crop_path, t)
        assert x0 <= face_x - 0.05 * 1920 + 40 and face_x + 0.05 * 1920 - 40 <= x0 + 606, (t, x0, face_x)
    # and the command drives crop x with a flat expression of t (no nested if)
    fc = _filter(build_command("/s.mp4", make_clip([(0.0, 8.0)]), "/o.mp4", faces=faces, meta=META_1080))
    assert "crop=w=606:h=1080:x='" in fc and "clip(t-" in fc and "if(" not in fc


def test_long_segment_with_a_still_or_jittery_face_keeps_a_constant_window():
    still = [{"time": i * 0.2, "boxes": [[0.6, 0.3, 0.1, 0.2, 0.9]]} for i in range(41)]
    jitter = [{"time": i * 0.2, "boxes": [[0.6 + (0.02 if i % 2 else -0.02), 0.3, 0.1, 0.2, 0.9]]} for i in range(41)]
    for faces in (still, jitter):
        seg = plan_render(make_clip([(0.0, 8.0)]), META_1080, {}, faces=faces).segments[0]
        assert seg.crop_path is None
        assert seg.crop_x == pytest.approx(0.65 * 1920 - 303, abs=40)


def test_render_threads_setting_reaches_the_renderer():
    from django.test import override_settings

    from rendering.engine.reframe import Reframe
    from rendering.services import render_settings

    with override_settings(RENDER_THREADS=0):
        assert render_settings({}, Reframe("auto", "default"))["threads"] is None  # x264_threads decides
    with override_settings(RENDER_THREADS=2):
        st = render_settings({}, Reframe("auto", "default"))
        assert st["threads"] == 2
        cmd = build_command("/src.mp4", make_clip([(1.0, 3.0)]), "/out.mp4", meta=META_1080, settings=st)
        assert cmd[cmd.index("-threads") + 1] == "2"
