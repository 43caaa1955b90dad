from django.apps import AppConfig


class FalaClipConfig(AppConfig):
    name = "fala_clip"
    verbose_name = "fala-clip core"
