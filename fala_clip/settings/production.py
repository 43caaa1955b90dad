"""Production settings: secrets are required, security headers on.

``DJANGO_SETTINGS_MODULE=fala_clip.settings.production python manage.py check --deploy``
passes with the variables listed in the README set.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # no default: refuse to start without it
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
REDIS_URL = env.str("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
for _q in ("heavy", "default"):
    RQ_QUEUES[_q]["URL"] = REDIS_URL  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /metrics: the bearer token or an allowed address (default loopback), never anonymous.
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# /api/schema/, /api/docs/, /api/redoc/: an authenticated user or the API_DOCS_TOKEN, never anonymous.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
