"""fala_clip.media.memory.trim_heap: freed heap pages go back to the system (glibc)."""

from __future__ import annotations

import ctypes

import pytest

from fala_clip.media.memory import trim_heap


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_trim_heap_returns_freed_fragmented_memory():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    # 64 KiB blocks (under the mmap threshold: they come from the heap), every page touched
    blocks = []
    for _ in range(2000):
        p = libc.malloc(64 * 1024)
        ctypes.memset(p, 1, 64 * 1024)
        blocks.append(p)
    keep = blocks[-1]  # the top block stays: free() alone cannot shrink the heap below it
    for p in blocks[:-1]:
        libc.free(p)
    before = _rss_kib()
    if not trim_heap():
        pytest.skip("no malloc_trim in this C library")
    after = _rss_kib()
    libc.free(keep)
    # ~125 MiB were freed inside the heap; the trim gives (nearly) all of it back
    assert before - after > 100 * 1024, (before, after)
