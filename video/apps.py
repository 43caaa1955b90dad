from django.apps import AppConfig


class VideoConfig(AppConfig):
    name = "video"

    def ready(self) -> None:
        from django.conf import settings

        from video.analysis import embeddings

        # The EfficientNet-Lite0 ONNX export is made once per install (scripts/warm.py), not per job.
        embeddings.set_cache_dir(settings.MODEL_CACHE_DIR)
