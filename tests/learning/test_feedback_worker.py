"""Feedback through the real path: HTTP → row + job enqueued on commit → a real RQ default worker.

Given an analysed video with a real track, when the artist POSTs feedback, then a real
``manage.py worker default`` process interprets and applies it: the job is ``done`` in
PostgreSQL, the feedback shows its interpretation and the version it produced, and the
video's current suggestions were recomputed with that version.
"""

from __future__ import annotations

import pytest

from jobs.models import Job
from learning.models import FeedbackStatus, LearningCenter, MusicFeedback
from suggestions.models import SuggestionSet
from suggestions.services import suggestions_recompute
from tests.learning.realmedia import store_track, store_video

pytestmark = pytest.mark.django_db(transaction=True)


def test_feedback_is_applied_by_a_real_default_worker(api, user, start_worker):
    track = store_track(user, "rock.00004")
    ingest = store_video(user, track)
    before = suggestions_recompute(ingest=ingest)

    resp = api.post(
        f"/feedback/music/{track.pk}",
        {"text": "cortes mais rápidos", "video_id": str(ingest.pk)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="worker-1",
    )
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["job"]["id"]
    assert Job.objects.get(pk=job_id).queue == "default"

    proc = start_worker("default", burst=True)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out

    job = Job.objects.get(pk=job_id)
    assert job.status == "done", (job.error_code, job.error_message, out[-3000:])
    fb = MusicFeedback.objects.get(job=job)
    assert fb.status == FeedbackStatus.APPLIED
    center = LearningCenter.objects.get(scope="track", music=track)
    assert center.active_version.number == 2 and center.active_version.params["cuts_per_bar"] == 2.0
    current = SuggestionSet.objects.get(ingest=ingest, is_current=True)
    assert current.pk != before.pk and current.center_versions.filter(pk=center.active_version.pk).exists()
    assert job.result["recomputed_sets"] == [str(current.pk)]
    # the same submission again: the same answer, no second job, nothing applied twice
    again = api.post(
        f"/feedback/music/{track.pk}",
        {"text": "cortes mais rápidos", "video_id": str(ingest.pk)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="worker-1",
    )
    assert again.status_code == 202 and again.json()["job"]["id"] == job_id
    assert Job.objects.filter(kind="feedback_apply").count() == 1
