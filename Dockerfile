# fala-clip image: web, workers and scheduler share it (the command differs).
# Not built in this project's CI (no Docker engine there); kept deliberately plain.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=fala_clip.settings.production \
    FALA_VAR_DIR=/var/lib/fala-clip \
    STATIC_ROOT=/app/staticfiles

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 \
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
USER fala

EXPOSE 8000
# web:       gunicorn fala_clip.wsgi --bind 0.0.0.0:8000 --workers 2 --timeout 300
# heavy:     python manage.py worker heavy      (one per host)
# default:   python manage.py worker default
# scheduler: python manage.py scheduler
CMD ["gunicorn", "fala_clip.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "300"]
