"""The process-side Prometheus metrics every layer may record (like logging).

Why here, in the infrastructure package: jobs, music, video, rendering and
learning all record into these, and the layering lets them import only
``fala_clip``.  What is read at scrape time (queues, workers, processes,
disks) lives in the ``metrics`` app, which sits above every app.

Multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set in the process
environment *before* ``prometheus_client`` is imported (``scripts/serve.sh``
and the container entry set it), every process — gunicorn workers, RQ worker
parents and their forked work-horses — writes its values to mmap files in that
directory and ``/metrics`` (``metrics.apis.metrics_view``) sums them.  Gauges
therefore declare how processes combine (``multiprocess_mode``); counters and
histograms of dead processes are folded into one archive file by
``fala_clip.promdir.fold_process`` so the directory stays bounded.

Labels are bounded: job kinds, stages, outcomes, queues, models, never a user
or track id (those totals live in the database: ``llm_usage``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Job durations run from seconds (feedback) to tens of minutes (a long source).
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600, float("inf"))
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, float("inf"))
LLM_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# OpenTelemetry GenAI's advisory buckets for gen_ai.client.token.usage.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

# --- jobs -------------------------------------------------------------------------------
JOBS = Counter(
    "fala_jobs",
    "Jobs that reached a terminal state, by kind and outcome (done / failed).",
    ["kind", "outcome"],
)
JOB_DURATION = Histogram(
    "fala_job_duration_seconds",
    "Seconds from a job's creation (queued) to its terminal state, by kind and outcome.",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)
JOB_STAGE_DURATION = Histogram(
    "fala_job_stage_duration_seconds",
    "Wall seconds of one pipeline stage (download, decode, shots, faces, embeddings, "
    "transcription, rhythm, suggesting, render_<template>, delivery, ...).",
    ["kind", "stage"],
    buckets=STAGE_BUCKETS,
)
JOB_RETRIES = Counter("fala_job_retries", "Jobs put back on their queue for another attempt.", ["kind", "reason"])
WORKER_LOST = Counter(
    "fala_worker_lost",
    "Jobs whose worker died under them (work-horse killed, or heartbeat gone stale).",
    ["kind", "detected_by"],
)
JOB_TRANSITIONS = Counter("fala_job_transitions", "Job state transitions, by kind and target state.", ["kind", "to"])
HEAVY_WORKER_REFUSED = Counter(
    "fala_heavy_worker_refused",
    "Heavy workers refused at start because the host's heavy slots were taken.",
)

# --- feedback and learning ----------------------------------------------------------------
FEEDBACK = Counter(
    "fala_feedback",
    "Artist feedback by stage: received, interpreted, applied, not_understood, failed.",
    ["kind", "event"],
)
LEARNING_VERSIONS = Counter(
    "fala_learning_versions", "Learning center versions created, by scope and source.", ["scope", "source"]
)
LEARNING_ROLLBACKS = Counter("fala_learning_rollbacks", "Learning center rollbacks, by scope.", ["scope"])

# --- LLM (OpenTelemetry GenAI semantic conventions, Prometheus spelling) ------------------
GENAI_TOKEN_USAGE = Histogram(
    "gen_ai_client_token_usage",
    "Tokens used per LLM request (gen_ai.client.token.usage), by token type.",
    ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"],
    buckets=TOKEN_BUCKETS,
)
GENAI_DURATION = Histogram(
    "gen_ai_client_operation_duration_seconds",
    "Duration of LLM requests (gen_ai.client.operation.duration), errors included.",
    ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"],
    buckets=LLM_DURATION_BUCKETS,
)
LLM_COST = Counter("fala_llm_cost_usd", "LLM spend in USD, from the versioned price table, by model.", ["model"])
LLM_REQUESTS = Counter(
    "fala_llm_requests",
    "LLM requests by model and status (ok / error / timeout / invalid_output).",
    ["model", "status"],
)
LLM_FALLBACKS = Counter(
    "fala_llm_fallbacks",
    "Feedback interpreted by the local interpreter instead of the LLM, by reason "
    "(error, timeout, invalid_output, budget_exceeded, ...).",
    ["reason"],
)
LLM_BUDGET_EXCEEDED = Counter(
    "fala_llm_budget_exceeded",
    "LLM calls skipped because the artist's monthly LLM budget was spent.",
)

# --- rendering ---------------------------------------------------------------------------
RENDERS = Counter("fala_renders", "Rendered variants by template and outcome.", ["template", "outcome"])
# Gauge written by the process doing the work; livesum adds the live processes.
JOBS_IN_PROCESS = Gauge(
    "fala_jobs_in_process",
    "Jobs being run right now by live worker processes, by kind.",
    ["kind"],
    multiprocess_mode="livesum",
)


def outcome_of(status: str) -> str:
    """The ``outcome`` label of a terminal status."""
    return "done" if status == "done" else "failed"
