"""Errors raised by the rendering engine.

One exception type with a machine-readable ``code`` so the job runner can
store ``error_code`` / ``error_message`` without parsing text, plus the tail
of ffmpeg's stderr for the operator (the message shown to the artist carries no
server path: :mod:`fala_clip.scrub`).
"""

from __future__ import annotations

from fala_clip.scrub import scrub_text


class RenderError(Exception):
    """A render step failed.

    Codes:
      ``invalid_edl``      the edit decision list or metadata cannot be rendered
      ``invalid_settings`` an unknown render setting or a value out of range
      ``missing_input``    source or music file does not exist
      ``ffmpeg_failed``    ffmpeg exited non-zero
      ``timeout``          ffmpeg ran past the configured timeout and was killed
      ``loudness_failed``  the loudness measurement pass failed or gave no data
      ``verify_failed``    the output is not what was asked (codec, size, faststart, ...)
      ``sync_failed``      audio and video timestamps disagree by more than one frame
      ``probe_failed``     ffprobe could not read a file
    """

    def __init__(self, code: str, message: str, stderr_tail: str = "") -> None:
        # ``str(exc)`` becomes the job's and the variant's error message, shown to the artist:
        # ffmpeg's last line without our paths (the whole tail stays in ``stderr_tail``).
        last = stderr_tail.strip().splitlines()[-1:] if stderr_tail else []
        super().__init__(f"{code}: {message}" + (f" [ffmpeg: {scrub_text(last[0])[:300]}]" if last else ""))
        self.code = code
        self.message = message
        self.stderr_tail = stderr_tail

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "stderr_tail": self.stderr_tail}
