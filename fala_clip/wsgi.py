"""WSGI entry point (gunicorn fala_clip.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fala_clip.settings.base")
application = get_wsgi_application()
