"""Word-synced captions: mapping through the plan, pages, sidecars, and the burned-in result.

The render test draws captions over a plain moving picture, renders the same
EDL with and without them, and reads the output frames back: a pixel that
differs between the two renders is a caption pixel (text or outline).  Each
word's appearance is where the highlighted (yellow) word moves to a new place;
it must land on the first output frame at or after the word's mapped start
(within one frame), and no caption pixel may fall outside the safe area.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rendering.engine import plan_render, render_variant
from rendering.engine.captions import (
    DEFAULT_FONT,
    LINE_MAX_CHARS,
    CaptionError,
    build_captions,
    map_words,
    safe_area,
    words_from_lyrics,
    words_from_transcript,
    write_captions,
)
from tests.media_factory import ffmpeg, lavfi

W, H, FPS = 360, 640, 30
META = {"fps": 25, "width": 640, "height": 360, "has_audio": True, "duration": 8.0}
SETTINGS = {"width": W, "height": H, "fps": FPS, "preset": "ultrafast", "crf": 16, "loudnorm_passes": 1}
# Two pieces of the source: 1.0-3.6 s and 5.0-7.0 s (a cut at output 2.6 s).
CLIP = {
    "template": "highlight",
    "edl": [
        {"src_in": 1.0, "src_out": 3.6, "position": 0.0, "duration": 2.6},
        {"src_in": 5.0, "src_out": 7.0, "position": 2.6, "duration": 2.0},
    ],
    "music_offset": None,
    "music_duration": None,
}
TRANSCRIPT = {
    "language": "pt",
    "words": [
        {"start": 0.2, "end": 0.6, "word": "antes"},  # before the clip: not shown
        {"start": 0.8, "end": 1.3, "word": "Olá,"},  # cut by the clip start, 60 % inside: shown from 0
        {"start": 1.52, "end": 1.9, "word": "meu"},
        {"start": 1.93, "end": 2.3, "word": "nome"},
        {"start": 2.37, "end": 2.8, "word": "é"},
        {"start": 2.85, "end": 3.3, "word": "Fala."},
        {"start": 3.45, "end": 3.9, "word": "metade"},  # only 33 % inside the first piece: dropped
        {"start": 5.31, "end": 5.7, "word": "Vamos"},
        {"start": 5.77, "end": 6.2, "word": "cantar"},
        {"start": 6.43, "end": 6.9, "word": "juntos!"},
    ],
}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """8 s of a mid-grey picture with a slowly moving darker box (no yellow, no white) and a tone."""
    out = tmp_path_factory.mktemp("captions") / "src.mp4"
    ffmpeg(
        *lavfi("color=c=0x707070:s=640x360:r=25:d=8"),
        *lavfi("sine=f=220:sample_rate=48000:d=8"),
        "-vf",
        "drawbox=x='40+40*t':y=140:w=80:h=80:color=0x404040:t=fill",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(out),
    )
    return out


def _plan():
    return plan_render(CLIP, META, SETTINGS)


def test_words_map_through_the_segments():
    words = map_words(words_from_transcript(TRANSCRIPT), _plan(), clock="source")
    texts = [w.text for w in words]
    assert texts == ["Olá,", "meu", "nome", "é", "Fala.", "Vamos", "cantar", "juntos!"]
    first = words[0]
    assert first.start == 0.0 and math.isclose(first.end, 0.3, abs_tol=1e-6) and first.segment == 0
    vamos = words[5]
    assert math.isclose(vamos.start, 2.6 + 0.31, abs_tol=1e-6) and vamos.segment == 1


def test_lyrics_map_through_the_music_offset():
    plan = plan_render({**CLIP, "music_offset": 10.0}, META, SETTINGS, music=True)
    lyrics = {
        "segments": [
            {
                "words": [
                    {"start": 9.0, "end": 9.8, "word": "fora"},
                    {"start": 10.5, "end": 11.0, "word": "dentro"},
                    {"start": 14.3, "end": 15.5, "word": "fim"},
                ]
            }
        ]
    }
    words = map_words(words_from_lyrics(lyrics), plan, clock="music")
    assert [(w.text, round(w.start, 3), round(w.end, 3)) for w in words] == [("dentro", 0.5, 1.0)]


def test_pages_have_at_most_two_short_lines_inside_the_safe_area():
    many = [
        {"start": 1.0 + 0.3 * i, "end": 1.25 + 0.3 * i, "word": w}
        for i, w in enumerate(["um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "Extraordinariamente"])
    ]
    track = build_captions(words_from_transcript({"words": many}), _plan(), clock="source", source="speech")
    assert track.pages
    for page in track.pages:
        assert 1 <= len(page.lines) <= 2
        assert all(len(line) <= LINE_MAX_CHARS for line in page.text_lines())
        assert page.end - page.start <= 3.0 + 0.5 + 1e-6
    assert [w.text for w in track.words] == [w["word"] for w in many]


def test_safe_area_bands():
    assert safe_area(1080, 1920) == (65, 269, 1015, 1536)  # 6 % sides, 14 % top, 20 % bottom
    assert safe_area(1080, 1080)[3] == 950 and safe_area(1080, 1350)[1] == 135


def test_missing_font_is_a_clear_error():
    with pytest.raises(CaptionError, match="fonts-dejavu-core"):
        build_captions([], _plan(), clock="source", source="speech", font="/nonexistent/font.ttf")


def _probe_cues(path: Path) -> list[tuple[float, float, str]]:
    """The cues as ffmpeg's own SRT / WebVTT demuxer reads them: (start, end, text)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-show_data", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cues = []
    for p in json.loads(out)["packets"]:
        hexdump = "".join(line[10:50].replace(" ", "") for line in p["data"].splitlines())
        text = bytes.fromhex(hexdump).decode("utf-8")
        start = float(p["pts_time"])
        cues.append((start, start + float(p["duration_time"]), text))
    return cues


def test_sidecars_parse_and_match(tmp_path):
    track = build_captions(words_from_transcript(TRANSCRIPT), _plan(), clock="source", source="speech", language="pt")
    paths = write_captions(track, tmp_path, "v1")
    for kind in ("srt", "vtt"):
        cues = _probe_cues(Path(paths[kind]))
        assert len(cues) == len(track.pages), kind
        for (s, e, text), page in zip(cues, track.pages, strict=True):
            assert abs(s - page.start) <= 0.001 and abs(e - page.end) <= 0.001, kind
            words = re.sub(r"<[^>]*>", " ", text).split()
            assert words == [w.text for w in page.words], (kind, text)
    assert Path(paths["fontsdir"], Path(DEFAULT_FONT).name).is_file()


def _frames(path: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3).astype(np.int16)


def test_burned_captions_appear_on_the_word_frames_inside_the_safe_area(source, tmp_path):
    plan = _plan()
    track = build_captions(words_from_transcript(TRANSCRIPT), plan, clock="source", source="speech")
    paths = write_captions(track, tmp_path, "v1")
    with_c, without = tmp_path / "with.mp4", tmp_path / "without.mp4"
    render_variant(
        str(source),
        CLIP,
        str(with_c),
        meta=META,
        settings=SETTINGS,
        captions={"ass": paths["ass"], "fontsdir": paths["fontsdir"]},
    )
    render_variant(str(source), CLIP, str(without), meta=META, settings=SETTINGS)
    a, b = _frames(with_c), _frames(without)
    assert a.shape == b.shape and a.shape[0] == plan.total_frames

    caption = np.abs(a - b).max(axis=3) > 48  # text or outline (grey background, encoder noise < 20)
    x0, y0, x1, y1 = safe_area(W, H)
    inside = np.zeros((H, W), bool)
    inside[y0:y1, x0:x1] = True
    assert caption.any()
    assert not (caption & ~inside).any(), "caption pixels outside the safe area"

    r, g, bl = a[..., 0], a[..., 1], a[..., 2]
    yellow = caption & (r > 180) & (g > 150) & (bl < 110)
    appear = []
    prev = None
    for k in range(a.shape[0]):
        ys, xs = np.nonzero(yellow[k])
        if xs.size < 15:
            prev = None
            continue
        c = (float(xs.mean()), float(ys.mean()))
        if prev is None or math.dist(c, prev) > 4.0:
            appear.append(k)
        prev = c
    expected = [math.ceil(w.start * FPS - 1e-6) for w in track.words]
    assert len(appear) == len(expected), (appear, expected)
    for got, want, w in zip(appear, expected, track.words, strict=True):
        assert abs(got - want) <= 1, (w.text, got, want)
    # and nothing is drawn after the last page ends
    last = math.ceil(track.pages[-1].end * FPS)
    assert not caption[last + 1 :].any()
