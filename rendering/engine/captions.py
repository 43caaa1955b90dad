"""Word-synced captions: timed words → pages of at most two lines → ASS (burned in), SRT and WebVTT.

Plain Python (no Django).  The words come from the source's transcript
(highlight clips: the original speech, on the source clock) or the track's
lyrics (music clips: on the track's clock); :func:`map_words` carries them
through a render plan onto the output clock:

* speech: a word lands in the segment that holds more than half of it (a word
  cut by a segment boundary is shown in the piece where it is mostly heard,
  clipped to that piece; a word mostly cut away is dropped); a source span
  used twice captions twice;
* lyrics: output time = track time - ``music_offset``, kept while more than
  half of the word is inside the music's length.

:func:`paginate` groups the words into pages: a new page after a pause
(:data:`PAUSE_BREAK_S`), after a sentence end, at a cut, after
:data:`PAGE_MAX_S`, or when a third line would be needed; lines are broken by
the words' measured width in the caption font and at most
:data:`LINE_MAX_CHARS` characters.  While a page is up, each word appears at
its own start (the words still to come are laid out but transparent, so the
lines do not move) and the word being said is highlighted.  Event times are
put on the output frame grid: a word is first drawn on the first output frame
at or after its start (at most one frame late, never early).

Placement: inside the platform safe area (:data:`SAFE_BANDS`, fractions of
the frame kept clear of the apps' overlays), bottom-centred just above the
bottom band.  The font is DejaVu Sans Bold (Debian ``fonts-dejavu-core``;
Bitstream Vera licence + public-domain DejaVu changes, a free licence that
allows embedding and redistribution), measured with Pillow using the same
size rule as libass, so the text, its outline included, stays inside the safe
area.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "CaptionError",
    "CaptionPage",
    "CaptionTrack",
    "CaptionWord",
    "DEFAULT_FONT",
    "FONT_LICENCE",
    "SAFE_BANDS",
    "build_captions",
    "map_words",
    "paginate",
    "safe_area",
    "words_from_lyrics",
    "words_from_transcript",
    "write_captions",
]

#: Debian ``fonts-dejavu-core``.
DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_FAMILY = "DejaVu Sans"
FONT_LICENCE = "DejaVu fonts licence (Bitstream Vera licence + public domain changes); Debian fonts-dejavu-core"

#: Bands kept clear of the platforms' UI, as fractions of the frame (top, bottom, left/right).
#: 9:16: TikTok / Reels / Shorts put the caption + account name + music ticker over the bottom
#: ~20 %, the tabs / search over the top ~14 %, the like/comment/share column over the right edge
#: (kept symmetric at 6 %, with the column's ~12 % partly over the lines' ends only on long lines).
#: 1:1 and 4:5 are feed posts: smaller overlays (a like bar below, a tag or mute badge in corners).
SAFE_BANDS: dict[str, tuple[float, float, float]] = {
    "9:16": (0.14, 0.20, 0.06),
    "4:5": (0.10, 0.14, 0.06),
    "1:1": (0.08, 0.12, 0.06),
}

#: A pause at least this long between two words starts a new page.
PAUSE_BREAK_S = 0.6
#: A page never lasts longer than this (a new one starts at the next word).
PAGE_MAX_S = 3.0
#: A page stays up this long after its last word ends (unless the next page starts first).
HOLD_S = 0.5
#: Short lines: at most this many characters.
LINE_MAX_CHARS = 20
#: Font size (libass units = output pixels) as a fraction of the frame width.
FONT_SIZE_FRACTION = 0.075
OUTLINE_FRACTION = 0.0055  # black outline, of the frame width
GAP_FRACTION = 0.02  # between the captions' bottom and the bottom band, of the frame height
HIGHLIGHT_BGR = "00D7FF"  # ASS colours are &HBBGGRR: a warm yellow (#FFD700) for the word being said
TEXT_BGR = "FFFFFF"

_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*$")


class CaptionError(RuntimeError):
    """The captions cannot be drawn (e.g. the font file is missing)."""


@dataclass(frozen=True)
class CaptionWord:
    """One word on the output clock."""

    start: float
    end: float
    text: str
    segment: int = 0  # the plan segment it is shown in (-1: music clock)


@dataclass
class CaptionPage:
    words: list[CaptionWord]
    lines: list[list[int]]  # word indices per line (one or two lines)
    start: float
    end: float
    font_size: int

    def text_lines(self) -> list[str]:
        return [" ".join(self.words[i].text for i in line) for line in self.lines]


@dataclass
class CaptionTrack:
    """Paginated captions for one variant (output clock, seconds)."""

    pages: list[CaptionPage]
    width: int
    height: int
    fps: Fraction
    source: str  # "speech" | "lyrics"
    language: str | None = None
    font: str = DEFAULT_FONT
    safe: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 pixels
    font_size: int = 0
    outline: int = 0
    margin_v: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def words(self) -> list[CaptionWord]:
        return [w for p in self.pages for w in p.words]

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "language": self.language,
            "words": [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.text} for w in self.words],
            "pages": len(self.pages),
            "font": {"family": FONT_FAMILY, "file": os.path.basename(self.font), "licence": FONT_LICENCE},
            "font_size": self.font_size,
            "safe_area": list(self.safe),
            "notes": list(self.notes),
        }

    # -- frame grid ---------------------------------------------------------------------------

    def _frame_at_or_after(self, t: float) -> int:
        return max(0, math.ceil(t * self.fps - Fraction(1, 1000)))

    def _ass_time(self, frame: int) -> str:
        """An ASS time (centiseconds) that falls between frame-1 and frame: shown from ``frame`` on."""
        t = 0.0 if frame <= 0 else float((Fraction(frame) - Fraction(1, 2)) / self.fps)
        cs = int(round(t * 100))
        h, rem = divmod(cs, 360000)
        m, rem = divmod(rem, 6000)
        s, c = divmod(rem, 100)
        return f"{h}:{m:02d}:{s:02d}.{c:02d}"

    # -- formats ------------------------------------------------------------------------------

    def to_ass(self) -> str:
        x0, _y0, x1, _y1 = self.safe
        head = [
            "[Script Info]",
            "; fala-clip word-synced captions",
            "ScriptType: v4.00+",
            f"PlayResX: {self.width}",
            f"PlayResY: {self.height}",
            "WrapStyle: 2",
            "ScaledBorderAndShadow: yes",
            "YCbCr Matrix: TV.709",
            "",
            "[V4+ Styles]",
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold,"
            " Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow,"
            " Alignment, MarginL, MarginR, MarginV, Encoding",
            f"Style: Caption,{FONT_FAMILY},{self.font_size},&H00{TEXT_BGR},&H00{HIGHLIGHT_BGR},&H00000000,"
            f"&H80000000,-1,0,0,0,100,100,0,0,1,{self.outline},0,2,{x0},{self.width - x1},{self.margin_v},1",
            "",
            "[Events]",
            "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        ]
        events = []
        for page in self.pages:
            end_f = self._frame_at_or_after(page.end)
            starts = [self._frame_at_or_after(w.start) for w in page.words]
            for k in range(len(page.words)):
                f0 = starts[k]
                f1 = starts[k + 1] if k + 1 < len(page.words) else end_f
                if f1 <= f0:
                    continue  # the next word starts on the same frame: it takes over
                text = _ass_page_text(page, k)
                events.append(f"Dialogue: 0,{self._ass_time(f0)},{self._ass_time(f1)},Caption,,0,0,0,,{text}")
        return "\n".join(head + events) + "\n"

    def to_srt(self) -> str:
        out = []
        for i, page in enumerate(self.pages, start=1):
            out.append(f"{i}\n{_srt_time(page.start)} --> {_srt_time(page.end)}\n" + "\n".join(page.text_lines()))
        return "\n\n".join(out) + ("\n" if out else "")

    def to_vtt(self) -> str:
        """WebVTT with each word's start as an inline timestamp (karaoke-style cue text)."""
        out = ["WEBVTT", ""]
        for i, page in enumerate(self.pages, start=1):
            lines = []
            for line in page.lines:
                parts = []
                for j in line:
                    w = page.words[j]
                    stamp = f"<{_vtt_time(w.start)}>" if j > 0 and w.start > page.start else ""
                    parts.append(stamp + _vtt_escape(w.text))
                lines.append(" ".join(parts))
            out += [str(i), f"{_vtt_time(page.start)} --> {_vtt_time(page.end)}", *lines, ""]
        return "\n".join(out)


# -- input words ---------------------------------------------------------------------------


def _clean_words(items: Iterable[dict[str, Any]]) -> list[tuple[float, float, str]]:
    out = []
    for w in items:
        try:
            s, e, text = float(w["start"]), float(w["end"]), str(w["word"]).strip()
        except (KeyError, TypeError, ValueError):
            continue
        if text and math.isfinite(s) and math.isfinite(e) and e >= s:
            out.append((s, e, text))
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def words_from_transcript(transcript: dict[str, Any] | None) -> list[tuple[float, float, str]]:
    """``(start, end, word)`` on the source clock from ``VideoAnalysis.transcript``."""
    return _clean_words((transcript or {}).get("words") or [])


def words_from_lyrics(transcription: dict[str, Any] | None) -> list[tuple[float, float, str]]:
    """``(start, end, word)`` on the track clock from ``MusicAnalysis.transcription`` (its segments' words)."""
    segs = (transcription or {}).get("segments") or []
    return _clean_words(w for seg in segs for w in (seg.get("words") or []))


# -- plan → output clock -------------------------------------------------------------------


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


def map_words(words: list[tuple[float, float, str]], plan: Any, *, clock: str) -> list[CaptionWord]:
    """Words on the output clock of ``plan`` (a :class:`RenderPlan` or its ``to_dict()``).

    ``clock``: ``"source"`` (speech: through the segments) or ``"music"`` (lyrics: minus the
    plan's ``music_offset``, within its ``music_length``).
    """
    out: list[CaptionWord] = []
    if clock == "music":
        offset = float(_get(plan, "music_offset") or 0.0)
        length = float(_get(plan, "music_length") or _get(plan, "duration"))
        for s, e, text in words:
            a, b = s - offset, e - offset
            if _mostly_inside(a, b, 0.0, length):
                out.append(CaptionWord(max(a, 0.0), min(b, length), text, -1))
        return out
    if clock != "source":
        raise ValueError(f"unknown clock {clock!r}")
    for seg in _get(plan, "segments"):
        src_in, dur, pos = float(_get(seg, "src_in")), float(_get(seg, "duration")), float(_get(seg, "position"))
        src_out = src_in + dur
        idx = int(_get(seg, "index"))
        for s, e, text in words:
            if e < src_in or s >= src_out:
                continue
            if _mostly_inside(s, e, src_in, src_out):
                out.append(CaptionWord(pos + max(s, src_in) - src_in, pos + min(e, src_out) - src_in, text, idx))
    out.sort(key=lambda w: (w.start, w.end))
    return out


def _mostly_inside(s: float, e: float, lo: float, hi: float) -> bool:
    """More than half of ``[s, e]`` inside ``[lo, hi)`` (a zero-length word: its instant inside)."""
    if e <= s:
        return lo <= s < hi
    return (min(e, hi) - max(s, lo)) * 2 > (e - s)


# -- layout --------------------------------------------------------------------------------


def _aspect_key(width: int, height: int) -> str:
    r = width / height
    return min(SAFE_BANDS, key=lambda k: abs(math.log(r / (int(k.split(":")[0]) / int(k.split(":")[1])))))


def safe_area(width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` pixels of the frame clear of the UI bands (nearest of :data:`SAFE_BANDS`)."""
    top, bottom, side = SAFE_BANDS[_aspect_key(width, height)]
    return (
        int(math.ceil(width * side)),
        int(math.ceil(height * top)),
        int(math.floor(width * (1 - side))),
        int(math.floor(height * (1 - bottom))),
    )


@cache
def _font(path: str, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


@cache
def _em_per_ass_unit(path: str) -> float:
    """libass sizes a font so that ascender + descender (hhea/OS2) equal the font size: em px per unit."""
    f = _font(path, 1000)
    ascent, descent = f.getmetrics()
    return 1000.0 / (ascent + descent)


def _measure(path: str, ass_size: int, text: str) -> float:
    em = max(1, round(ass_size * _em_per_ass_unit(path)))
    return float(_font(path, em).getlength(text))


def paginate(
    words: list[CaptionWord],
    *,
    width: int,
    height: int,
    font: str = DEFAULT_FONT,
    duration: float | None = None,
) -> tuple[list[CaptionPage], int, int]:
    """``(pages, font_size, outline)``: words grouped into pages of at most two lines that fit the safe area."""
    x0, _y0, x1, _y1 = safe_area(width, height)
    size = max(8, round(width * FONT_SIZE_FRACTION))
    outline = max(1, round(width * OUTLINE_FRACTION))
    line_w = (x1 - x0) - 2 * outline - 2  # libass may spill a pixel of antialiasing
    space = _measure(font, size, " ")
    pages: list[CaptionPage] = []
    cur: list[CaptionWord] = []
    lines: list[list[int]] = []
    cur_w = 0.0

    def close() -> None:
        nonlocal cur, lines, cur_w
        if cur:
            pages.append(CaptionPage(cur, lines, cur[0].start, cur[-1].end, size))
        cur, lines, cur_w = [], [], 0.0

    for w in words:
        prev = cur[-1] if cur else None
        if prev is not None and (
            w.start - prev.end >= PAUSE_BREAK_S
            or _SENTENCE_END.search(prev.text)
            or w.segment != prev.segment
            or w.end - cur[0].start > PAGE_MAX_S
        ):
            close()
        ww = _measure(font, size, w.text)
        line_text = " ".join(cur[i].text for i in lines[-1]) if lines else ""
        fits = bool(lines) and cur_w + space + ww <= line_w and len(line_text) + 1 + len(w.text) <= LINE_MAX_CHARS
        if not fits and len(lines) == 2:
            close()
        cur.append(w)
        if fits:
            lines[-1].append(len(cur) - 1)
            cur_w += space + ww
        else:
            lines.append([len(cur) - 1])
            cur_w = ww
    close()
    for i, page in enumerate(pages):
        nxt = pages[i + 1].start if i + 1 < len(pages) else math.inf
        page.end = min(page.end + HOLD_S, nxt, duration if duration is not None else math.inf)
        # a word wider than the line on its own: this page gets a smaller font
        widest = max(_measure(font, size, t) for t in page.text_lines())
        if widest > line_w:
            page.font_size = max(8, int(size * line_w / widest))
    return pages, size, outline


def build_captions(
    words: list[tuple[float, float, str]],
    plan: Any,
    *,
    clock: str,
    source: str,
    language: str | None = None,
    font: str = DEFAULT_FONT,
) -> CaptionTrack:
    """Words (source or track clock) → a paginated :class:`CaptionTrack` for ``plan``'s output frame."""
    if not os.path.isfile(font):
        raise CaptionError(f"caption font {font} is missing (Debian package fonts-dejavu-core)")
    width, height = int(_get(plan, "width")), int(_get(plan, "height"))
    fps = Fraction(str(_get(plan, "fps")))
    duration = float(_get(plan, "duration"))
    mapped = map_words(words, plan, clock=clock)
    pages, size, outline = paginate(mapped, width=width, height=height, font=font, duration=duration)
    seg_end = {
        int(_get(g, "index")): float(_get(g, "position")) + float(_get(g, "duration")) for g in _get(plan, "segments")
    }
    for page in pages:  # speech: a page leaves with its piece at a cut
        last = page.words[-1]
        if last.segment in seg_end:
            page.end = max(last.end, min(page.end, seg_end[last.segment]))
    x0, y0, x1, y1 = safe_area(width, height)
    track = CaptionTrack(
        pages=pages,
        width=width,
        height=height,
        fps=fps,
        source=source,
        language=language,
        font=font,
        safe=(x0, y0, x1, y1),
        font_size=size,
        outline=outline,
        margin_v=height - y1 + int(round(height * GAP_FRACTION)),
    )
    if words and not mapped:
        track.notes.append(f"none of the {len(words)} word(s) falls inside the clip")
    return track


def write_captions(track: CaptionTrack, out_dir: str | os.PathLike[str], stem: str) -> dict[str, str]:
    """Write ``<stem>.ass/.srt/.vtt`` and a fonts dir with the caption font; the paths by kind.

    ``{"ass", "fontsdir", "srt", "vtt"}``: ``ass`` and ``fontsdir`` are what
    :func:`rendering.engine.render_variant` takes as ``captions``.
    """
    d = Path(out_dir)
    fonts = d / f"{stem}-fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    link = fonts / os.path.basename(track.font)
    if not link.exists():
        try:
            link.symlink_to(os.path.abspath(track.font))
        except OSError:
            import shutil

            shutil.copyfile(track.font, link)
    paths = {"ass": d / f"{stem}.ass", "srt": d / f"{stem}.srt", "vtt": d / f"{stem}.vtt"}
    paths["ass"].write_text(track.to_ass(), encoding="utf-8")
    paths["srt"].write_text(track.to_srt(), encoding="utf-8")
    paths["vtt"].write_text(track.to_vtt(), encoding="utf-8")
    return {"ass": str(paths["ass"]), "fontsdir": str(fonts), "srt": str(paths["srt"]), "vtt": str(paths["vtt"])}


# -- text formats ---------------------------------------------------------------------------


def _ass_escape(text: str) -> str:
    return text.replace("\\", "/").replace("{", "(").replace("}", ")").replace("\n", " ")


def _ass_page_text(page: CaptionPage, current: int) -> str:
    """The page with word ``current`` highlighted, earlier words plain, later ones laid out invisibly."""
    size = "" if page.font_size == 0 else f"{{\\fs{page.font_size}}}"
    rows = []
    for line in page.lines:
        parts = []
        for j in line:
            t = _ass_escape(page.words[j].text)
            if j < current:
                parts.append(f"{{\\alpha&H00&\\1c&H{TEXT_BGR}&}}{t}")
            elif j == current:
                parts.append(f"{{\\alpha&H00&\\1c&H{HIGHLIGHT_BGR}&}}{t}")
            else:
                parts.append(f"{{\\alpha&HFF&}}{t}")
        rows.append(" ".join(parts))
    return size + "\\N".join(rows)


def _hms(t: float) -> tuple[int, int, int, int]:
    ms = int(round(max(0.0, t) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return h, m, s, ms


def _srt_time(t: float) -> str:
    h, m, s, ms = _hms(t)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _vtt_time(t: float) -> str:
    h, m, s, ms = _hms(t)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
