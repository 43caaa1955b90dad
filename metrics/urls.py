from django.urls import path

from metrics.apis import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]
