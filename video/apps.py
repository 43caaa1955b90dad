from django.apps import AppConfig


class VideoConfig(AppConfig):
    name = "video"

    def ready(self) -> None:
        from django.conf import settings

        from video.analysis import modelcache

        # The ONNX files the analysers derive (the frame embedder's export, YuNet with a free input
        # size) are made once per install (scripts/warm.py), not per job.
        modelcache.set_cache_dir(settings.MODEL_CACHE_DIR)
