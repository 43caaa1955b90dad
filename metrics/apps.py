from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        from prometheus_client import disable_created_metrics

        # No *_created series: they double the exposition and multiprocess mode has none.
        disable_created_metrics()
        prime_series()


def prime_series() -> None:
    """Create the bounded label sets of the event counters at 0 in every process.

    A labelled series appears only at its first event, and ``increase()``/``rate()``
    cannot see that first event (there is no earlier sample to subtract), so the first
    failure of a kind would never count in the failure-rate alert.  Only closed sets
    are primed (kinds, outcomes, templates, scopes, reasons); open ones (error codes,
    models) appear with their first event.
    """
    from fala_clip import telemetry
    from jobs.models import JobKind
    from learning.models import CenterScope
    from suggestions.engine.profiles import TEMPLATES

    for kind in JobKind.values:
        for outcome in ("done", "failed"):
            telemetry.JOBS.labels(kind, outcome)
            telemetry.JOB_DURATION.labels(kind, outcome)
        for detected_by in ("horse_killed", "stale_heartbeat"):
            telemetry.WORKER_LOST.labels(kind, detected_by)
        telemetry.JOB_RETRIES.labels(kind, "worker_lost")
    for template in TEMPLATES:
        for outcome in ("done", "failed"):
            telemetry.RENDERS.labels(template, outcome)
    for fb_kind in ("music", "artist"):
        for event in ("received", "interpreted", "applied", "not_understood", "failed"):
            telemetry.FEEDBACK.labels(fb_kind, event)
    for scope in CenterScope.values:
        telemetry.LEARNING_ROLLBACKS.labels(scope)
    for reason in ("error", "timeout", "invalid_output", "budget_exceeded"):
        telemetry.LLM_FALLBACKS.labels(reason)
