from django.urls import path

from generation import views

urlpatterns = [
    path("", views.generate, name="generate"),
    path("jobs/<uuid:public_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:public_id>/status/", views.job_status, name="job-status"),
    path("jobs/<uuid:public_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("images/<uuid:public_id>/file/", views.image_file, name="image-file"),
    path("images/<uuid:public_id>/thumbnail/", views.image_thumbnail, name="image-thumbnail"),
    path("moderation/", views.moderation_queue, name="moderation-queue"),
    path(
        "moderation/images/<uuid:public_id>/",
        views.moderation_decide,
        name="moderation-decide",
    ),
    path("healthz", views.healthz, name="healthz"),
]
