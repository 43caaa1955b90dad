"""fala_clip.media.warmup: heavy imports in a lowest-priority background thread."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from fala_clip.media.warmup import warm_in_background

_PROBE = """
import os, threading
NICE = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
THREAD = threading.current_thread().name
"""


@pytest.fixture()
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"warm_probe_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(_PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_imports_in_a_niced_thread_and_skips_failures(probe_module: str) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    thread = warm_in_background(["no_such_module_for_warmup", probe_module, " "])
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive()
    mod = sys.modules[probe_module]
    # imported in the warm-up thread, at the lowest priority; this thread's priority is untouched
    assert mod.THREAD == "fala-warmup"
    assert min(19, base + 19) == mod.NICE
    assert os.getpriority(os.PRIO_PROCESS, 0) == base
    assert "no_such_module_for_warmup" not in sys.modules


def test_nothing_to_do_starts_no_thread() -> None:
    assert warm_in_background(["json", "os"]) is None
    assert warm_in_background([]) is None


def test_the_pipeline_warms_its_modules_setting(probe_module: str) -> None:
    from django.test import override_settings

    from fala_clip.pipeline import warm_modules_in_background

    with override_settings(PIPELINE_WARM_MODULES=[]):
        assert warm_modules_in_background() is None
        assert probe_module not in sys.modules
    with override_settings(PIPELINE_WARM_MODULES=[probe_module]):
        thread = warm_modules_in_background()
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert sys.modules[probe_module].THREAD == "fala-warmup"
