"""GET /jobs/{id}/events: a real server streams a job's events while the test moves the job.

The live server (a threaded WSGI server, in this process) answers the stream; the test reads it
over a plain socket, line by line, and drives the job with the jobs services meanwhile, so the
events arrive as they are written — not replayed from a finished job.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest

from tests.procwatch import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class Stream:
    """An SSE client over http.client: frames are parsed in a thread as they arrive."""

    def __init__(self, base_url: str, path: str, token: str | None, headers: dict[str, str] | None = None):
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        hdrs = {"Accept": "text/event-stream", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Token {token}"
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.events: list[dict[str, str]] = []
        self.comments: list[str] = []
        self.retry: str | None = None
        self.ended = threading.Event()
        if self.resp.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        frame: dict[str, str] = {}
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if not line:
                    if frame:
                        self.events.append(frame)
                    frame = {}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    key, _, value = line.partition(": ")
                    if key == "retry":
                        self.retry = value
                    else:
                        frame[key] = value
        finally:
            self.ended.set()

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def streams():
    opened: list[Stream] = []

    def _open(*args, **kwargs) -> Stream:
        s = Stream(*args, **kwargs)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def sse_settings(settings):
    settings.SSE_POLL_INTERVAL_S = 0.05
    settings.SSE_HEARTBEAT_S = 0.2
    settings.SSE_MAX_STREAM_S = 30.0
    return settings


def _job(owner):
    from jobs.services import job_create

    return job_create(owner=owner, kind="clip_pipeline", params={})


def test_stream_follows_a_job_to_done_and_resumes_after_last_event_id(live_server, make_artist, sse_settings, streams):
    from prometheus_client import REGISTRY

    from jobs.models import JobEvent
    from jobs.services import job_set_progress, job_set_result, job_set_stage, job_transition

    # Given alice's queued job and a client streaming its events
    streamed_before = REGISTRY.get_sample_value("django_http_responses_streaming_total") or 0
    alice, token = make_artist("alice")
    job = _job(alice)
    stream = streams(live_server.url, f"/jobs/{job.pk}/events", token)
    assert stream.resp.status == 200
    assert stream.resp.getheader("Content-Type") == "text/event-stream"
    assert stream.resp.getheader("Cache-Control") == "no-cache"
    assert stream.resp.getheader("X-Request-ID")  # the request-id middleware still applies
    assert wait_until(lambda: stream.names() == ["status"], timeout=20), stream.events  # the "created" event

    # When the job moves through its states while the client listens
    job = job_transition(job=job, to="analyzing", stage="probing")
    job_set_stage(job=job, stage="transcribing")
    assert wait_until(lambda: len(stream.events) == 3, timeout=20), stream.events
    job_set_progress(job=job, log_event=True, completed_variants=1, total_variants=3, percent=33)
    job = job_transition(job=job, to="rendering", stage="rendering_variant")
    job_set_result(job=job, renders_url=f"/videos/{job.pk}/renders")
    assert not stream.ended.is_set()
    job = job_transition(job=job, to="done", stage="delivery")

    # Then every event arrives once, in order, ids = the job's event ids, and the stream ends
    assert stream.ended.wait(20)
    rows = list(JobEvent.objects.filter(job=job).order_by("id"))
    assert [int(e["id"]) for e in stream.events] == [r.id for r in rows]
    assert stream.names() == ["status", "status", "stage", "progress", "status", "done"]
    data = [json.loads(e["data"]) for e in stream.events]
    assert [d["status"] for d in data] == ["queued", "analyzing", "analyzing", "analyzing", "rendering", "done"]
    assert [d["stage"] for d in data] == [
        "",
        "probing",
        "transcribing",
        "transcribing",
        "rendering_variant",
        "delivery",
    ]
    assert data[3]["progress"] == {"completed_variants": 1, "total_variants": 3, "percent": 33}
    assert data[-1]["links"] == {"self": f"/jobs/{job.pk}", "renders": f"/videos/{job.pk}/renders"}
    assert data[-1]["progress"] == {"completed_variants": 1, "total_variants": 3, "percent": 33}
    assert stream.retry == str(sse_settings.SSE_RETRY_MS)
    # (django-prometheus counted it as a streaming response and did not read its body)
    assert REGISTRY.get_sample_value("django_http_responses_streaming_total") == streamed_before + 1

    # And a client that reconnects after the third event gets the rest, then the stream ends
    resumed = streams(live_server.url, f"/jobs/{job.pk}/events", token, {"Last-Event-ID": stream.events[2]["id"]})
    assert resumed.ended.wait(20)
    assert [int(e["id"]) for e in resumed.events] == [r.id for r in rows[3:]]
    assert [json.loads(e["data"])["status"] for e in resumed.events] == ["analyzing", "rendering", "done"]

    # And one after the last event gets nothing more: the job has ended, the stream closes at once
    after_done = streams(live_server.url, f"/jobs/{job.pk}/events", token, {"Last-Event-ID": str(rows[-1].id)})
    assert after_done.ended.wait(20)
    assert after_done.events == []


def test_stream_of_a_failed_job_ends_with_the_error(live_server, make_artist, sse_settings, streams):
    from jobs.services import job_fail, job_transition

    alice, token = make_artist("alice")
    job = _job(alice)
    stream = streams(live_server.url, f"/jobs/{job.pk}/events", token)
    job = job_transition(job=job, to="analyzing")
    job_fail(job=job, code="bad_media", message="The video has no frames.")

    assert stream.ended.wait(20)
    assert stream.names() == ["status", "status", "failed"]
    last = json.loads(stream.events[-1]["data"])
    assert last["status"] == "failed"
    assert last["error"] == {"code": "bad_media", "message": "The video has no frames."}


def test_idle_stream_sends_heartbeats_and_closes_at_its_time_cap(live_server, make_artist, sse_settings, streams):
    # Given a queued job that never moves and a short stream cap
    sse_settings.SSE_MAX_STREAM_S = 1.0
    alice, token = make_artist("alice")
    job = _job(alice)

    # When a client streams it
    stream = streams(live_server.url, f"/jobs/{job.pk}/events", token)

    # Then it gets the one event, heartbeats, and the server closes the stream with a reconnect hint
    assert stream.ended.wait(20)
    assert stream.names() == ["status"]
    assert "heartbeat" in stream.comments
    assert stream.comments[-1].startswith("stream closed after 1 s")
    assert stream.retry == str(sse_settings.SSE_RETRY_MS)


def test_another_artists_job_is_404_and_anonymous_is_401_in_json(live_server, make_artist, sse_settings, streams):
    alice, _ = make_artist("alice")
    _, bob_token = make_artist("bob")
    job = _job(alice)

    for token, status, code in ((bob_token, 404, "not_found"), (None, 401, "not_authenticated")):
        resp = streams(live_server.url, f"/jobs/{job.pk}/events", token).resp
        assert resp.status == status
        assert resp.getheader("Content-Type") == "application/json"
        assert json.loads(resp.read())["error"]["code"] == code


@pytest.mark.parametrize(
    "value,expected", [("42", 42), (" 7 ", 7), ("", 0), (None, 0), ("-3", 0), ("x", 0), ("1" * 30, 0)]
)
def test_last_event_id_parsing(value, expected):
    from jobs.events import parse_last_event_id

    assert parse_last_event_id(value) == expected
