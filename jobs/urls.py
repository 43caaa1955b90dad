from django.urls import path

from jobs.apis import JobDetailApi, JobEventsApi, JobListApi, WebhookDetailApi, WebhookListCreateApi

urlpatterns = [
    path("jobs", JobListApi.as_view(), name="job-list"),
    path("jobs/<uuid:job_id>", JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/events", JobEventsApi.as_view(), name="job-events"),
    path("webhooks", WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>", WebhookDetailApi.as_view(), name="webhook-detail"),
]
