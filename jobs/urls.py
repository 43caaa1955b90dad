from django.urls import path

from jobs.apis import JobDetailApi, JobListApi

urlpatterns = [
    path("jobs", JobListApi.as_view(), name="job-list"),
    path("jobs/<uuid:job_id>", JobDetailApi.as_view(), name="job-detail"),
]
