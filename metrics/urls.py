from django.urls import path

from metrics.apis import metrics_view
from metrics.apis_usage import UsageApi, UsageReportApi

urlpatterns = [
    path("metrics", metrics_view, name="prometheus-django-metrics"),
    path("usage", UsageApi.as_view(), name="usage"),
    path("usage/report", UsageReportApi.as_view(), name="usage-report"),
]
