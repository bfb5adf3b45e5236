from django.urls import path

from generation import preset_views
from generation.views import create, edits, files, health, jobs, moderation

urlpatterns = [
    path("", create.generate, name="generate"),
    path("edit/", edits.edit, name="edit"),
    path("edits/inputs/<uuid:public_id>/", edits.edit_input_file, name="edit-input"),
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
    # Prompts: the enhance preview, presets, a team's system prompts.
    path("prompts/enhance/", preset_views.prompt_enhance_preview, name="prompt-enhance"),
    path("presets/", preset_views.preset_list, name="preset-list"),
    path("presets/<uuid:public_id>/", preset_views.preset_detail, name="preset-detail"),
    path("presets/<uuid:public_id>/approve/", preset_views.preset_approve, name="preset-approve"),
    path("presets/<uuid:public_id>/delete/", preset_views.preset_delete, name="preset-delete"),
    path(
        "images/<uuid:public_id>/save-preset/",
        preset_views.image_save_preset,
        name="image-save-preset",
    ),
    path(
        "accounts/teams/<uuid:public_id>/prompts/",
        preset_views.team_prompts,
        name="team-prompts",
    ),
]
