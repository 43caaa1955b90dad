from django.apps import AppConfig


class FalaClipConfig(AppConfig):
    name = "fala_clip"
    verbose_name = "fala-clip core"

    def ready(self) -> None:
        # Registers the start-up validation of the settings (manage.py check).
        from fala_clip import checks  # noqa: F401
