"""Per-artist webhooks: the API, the signature, delivery by a real default worker (with RQ's
scheduler for the retries) to a local receiver on 127.0.0.1, and the delivery log."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.procwatch import wait_until


class Receiver:
    """A webhook receiver: answers each POST with the next scripted status (then 200), records it."""

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append(
                    {"at": time.monotonic(), "path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try again later")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def _make(statuses: list[int] | None = None) -> Receiver:
        r = Receiver(statuses)
        made.append(r)
        return r

    yield _make
    for r in made:
        r.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(token: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _finished_job(owner, to: str = "done"):
    """A job moved through analyzing to done (or failed) by the jobs services, as a worker would."""
    from jobs.services import job_create, job_fail, job_set_result, job_transition

    job = job_transition(job=job_create(owner=owner, kind="clip_pipeline", params={}), to="analyzing")
    if to == "failed":
        return job_fail(job=job, code="bad_media", message="no video stream")
    job = job_transition(job=job, to="rendering")
    job_set_result(job=job, renders_url=f"/videos/{job.pk}/renders")
    return job_transition(job=job, to="done")


@pytest.fixture
def webhook_worker(start_worker, settings):
    """A default worker (it runs RQ's scheduler) allowed to reach 127.0.0.1:<port>, retrying after 1 s, 2 s."""

    def _start(*ports: int):
        allow = ",".join(f"127.0.0.1:{p}" for p in ports)
        settings.WEBHOOK_ALLOW_HOSTS = allow.split(",")
        return start_worker(
            "default",
            extra_env={
                "WEBHOOK_ALLOW_HOSTS": allow,
                "WEBHOOK_RETRY_BASE_S": "1",
                "WEBHOOK_MAX_ATTEMPTS": "3",
                "WEBHOOK_TIMEOUT_S": "5",
            },
        )

    return _start


def _attempts(**filters) -> list:
    from jobs.models import WebhookDelivery

    return list(WebhookDelivery.objects.filter(**filters).order_by("attempt"))


# --------------------------------------------------------------------------- delivery (real worker)


def test_done_job_is_posted_once_signed_and_only_to_its_owners_endpoint(
    make_artist, receiver, webhook_worker, settings
):
    from jobs.models import WebhookDelivery
    from jobs.webhooks import verify

    # Given alice's and bob's endpoints on one receiver (different paths) and a default worker
    rcv = receiver()
    webhook_worker(rcv.port)
    alice, alice_token = make_artist("alice")
    bob, bob_token = make_artist("bob")
    created = _client(alice_token).post("/webhooks", {"url": f"{rcv.url}/alice"}, format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert _client(bob_token).post("/webhooks", {"url": f"{rcv.url}/bob"}, format="json").status_code == 201

    # When bob's job fails and alice's job is done
    bob_job = _finished_job(bob, "failed")
    job = _finished_job(alice)

    # Then each endpoint gets exactly its owner's job, once, signed with its own secret
    assert wait_until(lambda: len(rcv.requests) == 2, timeout=60), rcv.requests
    assert wait_until(lambda: WebhookDelivery.objects.filter(outcome="success").count() == 2, timeout=30), _attempts()
    (req,) = [r for r in rcv.requests if r["path"] == "/alice"]
    assert verify(secret=secret, body=req["body"], header=req["headers"]["X-Fala-Signature"])
    assert not verify(secret=secret, body=req["body"] + b" ", header=req["headers"]["X-Fala-Signature"])
    body = json.loads(req["body"])
    assert body["type"] == "job.done" and req["headers"]["X-Fala-Event"] == "job.done"
    assert body["data"]["job"]["id"] == str(job.pk)
    assert body["data"]["job"]["status"] == "done"
    assert body["data"]["job"]["links"] == {"self": f"/jobs/{job.pk}", "renders": f"/videos/{job.pk}/renders"}
    assert req["headers"]["X-Fala-Delivery"] == body["id"]
    assert req["headers"]["Content-Type"] == "application/json"
    (bob_req,) = [r for r in rcv.requests if r["path"] == "/bob"]
    assert json.loads(bob_req["body"])["data"]["job"]["id"] == str(bob_job.pk)
    assert json.loads(bob_req["body"])["type"] == "job.failed"
    # And the log has one successful attempt per endpoint, each for its owner's job only
    (alice_log,) = _attempts(owner=alice)
    assert (alice_log.job_id, alice_log.attempt, alice_log.status_code) == (job.pk, 1, 200)
    assert alice_log.response_excerpt == "thanks" and alice_log.duration_ms is not None
    assert not WebhookDelivery.objects.filter(endpoint__owner=alice, job=bob_job).exists()
    assert not WebhookDelivery.objects.filter(endpoint__owner=bob, job=job).exists()


def test_failed_attempts_are_retried_with_growing_delays_until_one_succeeds(make_artist, receiver, webhook_worker):
    # Given a receiver that answers 500 twice, then 200
    rcv = receiver([500, 500])
    webhook_worker(rcv.port)
    alice, token = make_artist("alice")
    assert _client(token).post("/webhooks", {"url": rcv.url}, format="json").status_code == 201

    # When alice's job is done
    job = _finished_job(alice)

    # Then three attempts are made and logged: retrying, retrying, success
    assert wait_until(
        lambda: [a.outcome for a in _attempts(job=job)] == ["retrying", "retrying", "success"], timeout=60
    ), [(a.attempt, a.outcome, a.error) for a in _attempts(job=job)]
    logs = _attempts(job=job)
    assert [(a.attempt, a.status_code) for a in logs] == [(1, 500), (2, 500), (3, 200)]
    assert logs[0].response_excerpt == "try again later" and logs[0].error == "http_500"
    assert len({a.delivery_id for a in logs}) == 1
    # with the backoff recorded (1 s, then 2 s) and respected: no retry came early
    delays = [(a.next_retry_at - a.finished_at).total_seconds() for a in logs[:2]]
    assert delays == [1.0, 2.0]
    assert logs[2].next_retry_at is None
    arrivals = [r["at"] for r in rcv.requests]
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] >= 1.0 and arrivals[2] - arrivals[1] >= 2.0, arrivals
    assert {r["headers"]["X-Fala-Attempt"] for r in rcv.requests} == {"1", "2", "3"}


def test_receiver_down_ends_in_a_logged_failure_and_the_job_is_unaffected(make_artist, webhook_worker):
    from jobs.models import Job, JobEvent

    # Given an endpoint on a port where nothing listens
    port = _free_port()
    webhook_worker(port)
    alice, token = make_artist("alice")
    assert _client(token).post("/webhooks", {"url": f"http://127.0.0.1:{port}/hook"}, format="json").status_code == 201

    # When alice's job is done
    job = _finished_job(alice)
    events_before = JobEvent.objects.filter(job=job).count()

    # Then every attempt fails, the last one for good, and the job stays done as it was
    assert wait_until(
        lambda: [a.outcome for a in _attempts(job=job)] == ["retrying", "retrying", "failed"], timeout=60
    ), [(a.attempt, a.outcome, a.error) for a in _attempts(job=job)]
    logs = _attempts(job=job)
    assert all(a.error.startswith("connection_error") and a.status_code is None for a in logs)
    assert logs[-1].next_retry_at is None
    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.error_code) == ("done", "")
    assert JobEvent.objects.filter(job=job).count() == events_before


# --------------------------------------------------------------------------- API and bookkeeping (no worker)


@pytest.mark.django_db
def test_create_shows_the_secret_once_list_and_delete_are_owner_scoped(api, user, other_user, settings):
    from jobs.models import WebhookEndpoint

    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1:9"]
    created = api.post("/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["job.failed"]}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert (body["url"], body["events"], body["active"]) == ("http://127.0.0.1:9/h", ["job.failed"], True)
    listed = api.get("/webhooks").json()
    assert [e["id"] for e in listed["results"]] == [body["id"]]
    assert "secret" not in listed["results"][0]
    assert "secret" not in api.get(f"/webhooks/{body['id']}").json()

    other = WebhookEndpoint.objects.create(owner=other_user, url="https://example.com/h", secret="whsec_x")
    assert api.get(f"/webhooks/{other.pk}").status_code == 404
    resp = api.delete(f"/webhooks/{other.pk}")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert WebhookEndpoint.objects.filter(pk=other.pk).exists()
    assert api.delete(f"/webhooks/{body['id']}").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=body["id"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/h",  # loopback, not allowlisted
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/h",
        "http://[::ffff:127.0.0.1]/h",
        "ftp://example.com/h",
        "http://user:pw@example.com/h",
        "http://exa\tmple.com/h",
    ],
)
def test_unsafe_urls_are_refused_and_nothing_is_created(api, url):
    from jobs.models import WebhookEndpoint

    resp = api.post("/webhooks", {"url": url}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsafe_url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_unknown_event_is_400_and_anonymous_is_401(api, anon_api, settings):
    from jobs.models import WebhookEndpoint

    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    resp = api.post("/webhooks", {"url": "http://127.0.0.1/h", "events": ["job.exploded"]}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid"
    assert anon_api.get("/webhooks").status_code == 401
    assert anon_api.post("/webhooks", {"url": "http://127.0.0.1/h"}, format="json").status_code == 401
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_only_wanted_events_of_active_endpoints_are_recorded(user):
    from jobs.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(owner=user, url="https://a.example/h", secret="s", events=["job.failed"])
    WebhookEndpoint.objects.create(owner=user, url="https://b.example/h", secret="s", active=False)
    stages = WebhookEndpoint.objects.create(owner=user, url="https://c.example/h", secret="s", events=["job.stage"])
    job = _finished_job(user)  # done: nobody active wants job.done
    assert not WebhookDelivery.objects.filter(job=job).exists()
    from jobs.services import job_create, job_set_stage

    job_set_stage(job=job_create(owner=user, kind="clip_pipeline"), stage="probing")
    (row,) = WebhookDelivery.objects.all()
    assert (row.endpoint_id, row.event, row.outcome, row.payload["data"]["job"]["stage"]) == (
        stages.pk,
        "job.stage",
        "pending",
        "probing",
    )


def test_signature_is_hmac_sha256_over_timestamp_dot_body_and_old_ones_are_refused():
    import hashlib
    import hmac

    from jobs.webhooks import sign, verify

    body = b'{"a":1}'
    header = sign(secret="whsec_k", body=body, timestamp=1_700_000_000)
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify(secret="whsec_k", body=body, header=header, now=1_700_000_100)
    assert not verify(secret="whsec_k", body=body, header=header, now=1_700_000_000 + 301)  # a replay
    assert not verify(secret="other", body=body, header=header, now=1_700_000_000)
    assert not verify(secret="whsec_k", body=body, header="v1=abc", now=1_700_000_000)


@pytest.mark.django_db(transaction=True)
def test_pending_attempts_that_lost_their_queue_entry_are_enqueued_again(user, redis_conn):
    from django.utils import timezone

    from jobs.dispatch import get_queue
    from jobs.models import WebhookDelivery, WebhookEndpoint
    from jobs.webhooks import webhook_deliveries_requeue

    endpoint = WebhookEndpoint.objects.create(owner=user, url="https://a.example/h", secret="s")
    job = _finished_job(user)
    (row,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    # Given the attempt is still pending in PostgreSQL long after it was due, and Redis lost it
    redis_conn.flushdb()
    WebhookDelivery.objects.filter(pk=row.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    fresh = WebhookDelivery.objects.create(
        endpoint=endpoint, owner=user, url=endpoint.url, job=job, event="job.done", due_at=timezone.now()
    )

    # When the scheduler's requeue runs
    assert webhook_deliveries_requeue() == 1

    # Then only the overdue attempt is back on the default queue
    assert get_queue("default").job_ids == [f"webhook-{row.pk}"]
    assert fresh.pk != row.pk
