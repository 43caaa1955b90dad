"""Project-wide pytest fixtures.

Real media written by other people lives in ``../shared/media`` (beside the
repository, never copied into it).  Tests that need it take the
``shared_media`` fixture, which skips with a clear message when it is absent
(e.g. a fresh clone on a machine without the shared folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", REPO_ROOT.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA / "ground_truth.json").exists():
        pytest.skip(f"shared media not found at {SHARED_MEDIA} (set FALA_SHARED_MEDIA)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def ground_truth(shared_media: Path) -> dict:
    return json.loads((shared_media / "ground_truth.json").read_text())
