"""Job handler: interpret and apply one feedback (``feedback_apply`` on the default queue)."""

from __future__ import annotations

from typing import Any

from learning.feedback import feedback_apply
from learning.models import ArtistFeedback, MusicFeedback


def apply_feedback(ctx: Any) -> None:
    """``JOB_HANDLERS["feedback_apply"]``: params ``{"feedback": "music"|"artist", "id": uuid}``."""
    params = ctx.job.params
    model = MusicFeedback if params.get("feedback") == "music" else ArtistFeedback
    feedback = model.objects.select_related("owner").get(pk=params["id"])
    with ctx.stage("interpreting_feedback"):
        summary = feedback_apply(feedback, job=ctx.job)
    ctx.result(feedback=str(feedback.pk), **summary)
