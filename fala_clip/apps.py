from pathlib import Path

from django.apps import AppConfig


class FalaClipConfig(AppConfig):
    name = "fala_clip"
    verbose_name = "fala-clip core"

    def ready(self) -> None:
        # Registers the start-up validation of the settings (manage.py check).
        from django.conf import settings
        from django.core.signals import setting_changed

        from fala_clip import (
            checks,  # noqa: F401
            scrub,
        )
        from fala_clip.media import procs

        def _configure_scrub() -> None:
            # What the API must never show: these directories and the ffmpeg command line.
            scrub.configure(
                roots=[getattr(settings, name, "") for name in scrub.ROOT_SETTINGS], ffmpeg=settings.FFMPEG_BIN
            )

        procs.configure(ffmpeg=settings.FFMPEG_BIN)
        _configure_scrub()
        # Django spools large uploads into FILE_UPLOAD_TEMP_DIR (the work filesystem) and refuses
        # to start (files.E001) when it does not exist: a fresh WORK_DIR has none yet.
        try:
            Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # unwritable here (e.g. a read-only check run): the system check names it

        def _reconfigure(*, setting: str, value: object, **_: object) -> None:
            if setting == "FFMPEG_BIN":
                procs.configure(ffmpeg=str(value or ""))
            if setting == "FFMPEG_BIN" or setting in scrub.ROOT_SETTINGS:
                _configure_scrub()

        setting_changed.connect(_reconfigure, weak=False, dispatch_uid="fala_clip_ffmpeg_bin")
