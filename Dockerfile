# fala-clip image: web, workers and scheduler share it (the command differs).
# Not built in this project's CI (no Docker engine there); kept deliberately plain.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=fala_clip.settings.production \
    FALA_VAR_DIR=/var/lib/fala-clip

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
# torch 2.13.0 is the CPU build; point pip at the PyTorch CPU index (or a local wheel) when building.
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
COPY . .
RUN useradd --system --home /var/lib/fala-clip fala && mkdir -p /var/lib/fala-clip && chown fala /var/lib/fala-clip
USER fala

EXPOSE 8000
# web:       gunicorn fala_clip.wsgi --bind 0.0.0.0:8000 --workers 2 --timeout 300
# heavy:     python manage.py worker heavy      (one per host)
# default:   python manage.py worker default
# scheduler: python manage.py scheduler
CMD ["gunicorn", "fala_clip.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "300"]
