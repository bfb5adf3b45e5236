from django.urls import path

from generation.views import create, files, health, jobs, moderation

urlpatterns = [
    path("", create.generate, name="generate"),
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/live/", create.feed_live, name="job-live"),
    path("jobs/<uuid:public_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<uuid:public_id>/status/", jobs.job_status, name="job-status"),
    path("jobs/<uuid:public_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("jobs/<uuid:public_id>/retry/", jobs.job_retry, name="job-retry"),
    path("jobs/<uuid:public_id>/edit/", jobs.job_edit, name="job-edit"),
    path("jobs/<uuid:public_id>/preview/<int:index>/", files.job_preview, name="job-preview"),
    path("images/<uuid:public_id>/file/", files.image_file, name="image-file"),
    path("images/<uuid:public_id>/thumbnail/", files.image_thumbnail, name="image-thumbnail"),
    path("moderation/", moderation.moderation_queue, name="moderation-queue"),
    path(
        "moderation/images/<uuid:public_id>/",
        moderation.moderation_decide,
        name="moderation-decide",
    ),
    path("healthz", health.healthz, name="healthz"),
]
