from django.urls import path

from generation import edit_views, preset_views, views

urlpatterns = [
    path("", views.generate, name="generate"),
    path("edit/", edit_views.edit, name="edit"),
    path("edits/inputs/<uuid:public_id>/", edit_views.edit_input_file, name="edit-input"),
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
