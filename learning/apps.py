from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"

    def ready(self) -> None:
        from django.conf import settings

        from learning.interpret import embed

        # Prototype embeddings are computed once per install, not once per forked job.
        embed.set_cache_dir(settings.MODEL_CACHE_DIR)
