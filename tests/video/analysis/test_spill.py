"""Samples, soundtrack and thumbnails kept on disk: same values as in memory, read a piece at a time."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from video.analysis.decode import decode_video
from video.analysis.framestats import FrameStatsAccumulator
from video.analysis.pipeline import analyze_video
from video.analysis.spill import SpillArray, SpillWriter

from .conftest import FPS


def _spill(tmp_path, arr: np.ndarray, name: str = "a.bin") -> SpillArray:
    w = SpillWriter(tmp_path / name, arr.dtype, arr.shape[1:])
    half = len(arr) // 2
    w.append(arr[:half])
    w.write_bytes(np.ascontiguousarray(arr[half:]).tobytes())
    w.close()
    return w.array()


def test_spill_array_indexes_like_numpy(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.random(1000).astype(np.float32)
    s = _spill(tmp_path, a)
    assert s.shape == (1000,) and s.size == 1000 and s.ndim == 1 and len(s) == 1000 and s.dtype == np.float32
    for key in (slice(10, 20), slice(None, None, 3), slice(-5, None), slice(990, 2000), slice(50, 10), slice(None)):
        got = s[key]
        assert isinstance(got, np.ndarray) and np.array_equal(got, a[key]), key
    assert s[5] == a[5] and s[-1] == a[-1]
    idx = np.array([5, 6, 7, 100, 3, 3, -1])
    assert np.array_equal(s[idx], a[idx])
    assert np.array_equal(s[a > 0.5], a[a > 0.5])
    assert np.array_equal(np.asarray(s), a)
    for bad in (1000, -1001):
        with pytest.raises(IndexError):
            s[bad]
    with pytest.raises(IndexError):
        s[np.array([0, 1000])]


def test_spill_array_rows_tuples_iteration_and_views(tmp_path):
    f = np.random.default_rng(4).integers(0, 255, (150, 4, 5, 3), dtype=np.uint8)
    s = _spill(tmp_path, f, "f.u8")
    assert s.shape == (150, 4, 5, 3) and s.nbytes == f.nbytes
    assert np.array_equal(np.stack(list(s)), f)  # iterated in pieces of ITER_ROWS rows
    assert np.array_equal(s[3, :, ::-1], f[3, :, ::-1])
    assert np.array_equal(s[10:20, :2], f[10:20, :2])
    got = s[7]
    got[0, 0, 0] = 1  # a plain writable copy: the file is unchanged
    assert np.array_equal(s[7], f[7])
    v = s.take([3, 9, 10, 11, 140])
    assert v.shape == (5, 4, 5, 3) and len(v) == 5
    assert np.array_equal(v[1:3], f[[9, 10]])
    assert np.array_equal(v[-1], f[140])
    assert np.array_equal(np.stack(list(v)), f[[3, 9, 10, 11, 140]])
    assert np.array_equal(v.take([4, 0])[:], f[[140, 3]])


def test_decode_spilled_to_disk_gives_the_same_samples_and_audio(flash_video, tmp_path):
    mem = decode_video(flash_video)
    disk = decode_video(flash_video, spill_dir=tmp_path)
    assert isinstance(disk.samples, SpillArray) and isinstance(disk.audio, SpillArray)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.f32", "samples.rgb"]
    assert disk.samples.shape == mem.samples.shape == (9, 126, 224, 3)
    assert np.array_equal(disk.samples[:], mem.samples)
    assert mem.audio is not None and disk.audio.size == mem.audio.size
    assert np.array_equal(disk.audio[:], mem.audio)
    assert np.array_equal(disk.sample_times, mem.sample_times)


def test_frame_statistics_thumbnails_on_disk_are_the_same(flash_video, tmp_path):
    mem_acc, disk_acc = FrameStatsAccumulator(FPS), FrameStatsAccumulator(FPS, spill_dir=tmp_path)
    decode_video(flash_video, consumer=mem_acc, chunk_frames=32, sample_fps=0, with_audio=False)
    decode_video(flash_video, consumer=disk_acc, chunk_frames=32, sample_fps=0, with_audio=False)
    mem, disk = mem_acc.result(), disk_acc.result()
    assert isinstance(disk.thumb, SpillArray) and (tmp_path / "thumbs.u8").exists()
    assert disk.thumb.shape == mem.thumb.shape and np.array_equal(disk.thumb[:], mem.thumb)
    n = mem.n
    a, b = np.arange(1, n), np.arange(0, n - 1)
    assert np.array_equal(disk.thumb_diff(a, b), mem.thumb_diff(a, b))


def test_a_full_disk_during_the_decode_is_an_enospc_error_not_a_hang(flash_video, tmp_path):
    # /dev/full answers every write with ENOSPC: the reader keeps draining ffmpeg's pipe and the
    # decode raises once ffmpeg is done
    os.symlink("/dev/full", tmp_path / "samples.rgb")
    with pytest.raises(OSError) as err:
        decode_video(flash_video, spill_dir=tmp_path, timeout_s=60)
    assert err.value.errno == errno.ENOSPC


def test_analysis_removes_its_files_on_return_and_on_failure(flash_video, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    res = analyze_video(flash_video, work_dir=work, with_transcript=False, with_embeddings=False, with_faces=False)
    assert res["meta"]["nb_frames"] == 4 * FPS and len(res["saliency"]["samples"]) == 9
    assert list(work.iterdir()) == []
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    with pytest.raises(Exception):  # noqa: B017 - whatever the gate raises
        analyze_video(bad, work_dir=work, with_transcript=False)
    assert list(work.iterdir()) == []
