"""``manage.py clip``'s summary.json: per file the source spans, the layout/crop and the music offset."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from fala_clip.management.commands.clip import variant_summary


def clip_model(**kw):
    base = dict(
        rank=1,
        template="beat_montage",
        score=0.4,
        start=3.2,
        end=40.0,
        breakdown={"motion": 0.3, "music_energy": 0.1},
        edl=[
            {"src_in": 3.2, "src_out": 5.2, "position": 0.0, "duration": 2.0},
            {"src_in": 30.0, "src_out": 32.0, "position": 2.0, "duration": 2.0},
        ],
        music_offset=12.0,
        music_duration=4.0,
        params={"pieces": "moments_1s_apart", "n_shots": 2, "music_end": "bar", "reframe": "auto"},
        title="Cortes no ritmo",
        post_text="🎵 Track, de Artist #artist",
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_from_the_render_plan():
    plan = {
        "duration": 4.0,
        "audio": "music",
        "music_offset": 12.0,
        "music_length": 4.0,
        "segments": [
            {
                "src_in": 3.2,
                "src_out": 5.2,
                "position": 0.0,
                "duration": 2.0,
                "layout": "crop",
                "crop_path": {"axis": "x", "knots": [[0.0, 100], [2.0, 180]]},
            },
            {"src_in": 30.0, "src_out": 32.0, "position": 2.0, "duration": 2.0, "layout": "fit"},
        ],
    }
    row = SimpleNamespace(
        clip_model=clip_model(),
        plan=plan,
        duration=4.0,
        width=1080,
        height=1920,
        captions={"enabled": True, "source": "lyrics", "language": "pt", "words": [{"start": 0.1}], "srt": "r/1.srt"},
    )
    out = variant_summary(Path("/x/clip-1-beat_montage.mp4"), row)
    assert out["from"] == "render_plan"
    assert (out["title"], out["post_text"]) == ("Cortes no ritmo", "🎵 Track, de Artist #artist")
    # the caption record without its word list (that stays in the database / API)
    assert out["captions"] == {"enabled": True, "source": "lyrics", "language": "pt", "srt": "r/1.srt"}
    assert [(s["src_in"], s["src_out"], s["position"], s["duration"]) for s in out["segments"]] == [
        (3.2, 5.2, 0.0, 2.0),
        (30.0, 32.0, 2.0, 2.0),
    ]
    assert out["segments"][0]["crop_path"]["knots"] == [[0.0, 100], [2.0, 180]]
    assert out["segments"][1]["layout"] == "fit"
    assert out["music_offset"] == 12.0 and out["music_length"] == 4.0
    assert out["edges"] == {"music_end": "bar", "pieces": "moments_1s_apart", "n_shots": 2}
    json.dumps(out)


def test_without_a_plan_the_clip_models_edl():
    row = SimpleNamespace(
        clip_model=clip_model(music_offset=None, music_duration=None),
        plan={},
        duration=4.0,
        width=1080,
        height=1920,
        captions={},
    )
    out = variant_summary(Path("/x/a.mp4"), row)
    assert out["from"] == "clip_model" and out["audio"] == "original" and out["music_offset"] is None
    assert [s["src_in"] for s in out["segments"]] == [3.2, 30.0]
