"""Per-job workspaces under ``settings.WORK_DIR``.

Layout: ``WORK_DIR/jobs/<job id>/videos`` (inputs: downloads, local copies)
and ``.../processed`` (intermediate and rendered files before they go to
Django storage).  Workspaces are disposable: everything worth keeping is in the
database or in storage.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    def create(self) -> Workspace:
        self.videos.mkdir(parents=True, exist_ok=True)
        self.processed.mkdir(parents=True, exist_ok=True)
        return self

    def exists(self) -> bool:
        return self.root.exists()

    def size_bytes(self) -> int:
        if not self.root.exists():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def remove(self) -> bool:
        if not self.root.exists():
            return False
        shutil.rmtree(self.root)
        return True


def workspace_for(job_id: Any) -> Workspace:
    return Workspace(Path(settings.WORK_DIR) / "jobs" / str(job_id))
