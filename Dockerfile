# fala-clip image: web, workers and scheduler share it (the command differs).
# Not built in this project's CI (no Docker engine there); kept deliberately plain.
FROM python:3.11-slim

# NUMBA_CACHE_DIR / MODEL_CACHE_DIR: caches filled at build time (scripts/warm.py below) outside the
# root-owned site-packages, which the runtime user could not write (numba then ignores a cache
# there).  NUMBA_CPU_NAME=generic: the cached kernels hold no host-specific CPU features, so they
# stay valid on a host whose CPU differs from the build machine's.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=fala_clip.settings.production \
    FALA_VAR_DIR=/var/lib/fala-clip \
    STATIC_ROOT=/app/staticfiles \
    MODEL_CACHE_DIR=/opt/fala-clip/models \
    NUMBA_CACHE_DIR=/opt/fala-clip/numba \
    NUMBA_CPU_NAME=generic

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
# torch 2.13.0 is the CPU build; point pip at the PyTorch CPU index (or a local wheel) when building.
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
COPY . .
# Hashed, compressed static files (admin CSS, Swagger UI / ReDoc from
# drf-spectacular-sidecar) baked into the image; WhiteNoise serves them from
# gunicorn.  The production settings need their variables to load: build-only
# placeholders here, nothing connects to them.
RUN SECRET_KEY=build-only-collectstatic ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput -v 0
RUN useradd --system --home /var/lib/fala-clip fala && mkdir -p /var/lib/fala-clip && chown fala /var/lib/fala-clip
# Warm the caches the first job would fill (librosa's numba kernels, the whisper base join, the
# learning prototypes, our code's bytecode: PYTHONDONTWRITEBYTECODE stops Python caching it at
# run time); the base settings need no database.  fala owns them and may add entries.
RUN DJANGO_SETTINGS_MODULE=fala_clip.settings.base python scripts/warm.py \
 && chown -R fala /opt/fala-clip
USER fala

EXPOSE 8000
# All processes of a host share PROMETHEUS_MULTIPROC_DIR (a volume wiped before the first starts).
# web:       gunicorn fala_clip.wsgi -c fala_clip/gunicorn_conf.py --bind 0.0.0.0:8000 --workers 2 --timeout 300
# heavy:     python manage.py worker heavy      (one per host)
# default:   python manage.py worker default
# scheduler: python manage.py scheduler
CMD ["gunicorn", "fala_clip.wsgi", "-c", "fala_clip/gunicorn_conf.py", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "300"]
