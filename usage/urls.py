"""Usage pages, included at /accounts/ beside the account pages they belong with."""

from django.urls import path

from usage import views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("usage/export.csv", views.usage_export, name="usage-export"),
    path("teams/<uuid:public_id>/usage/", views.team_usage, name="team-usage"),
    path(
        "teams/<uuid:public_id>/usage/export.csv", views.team_usage_export, name="team-usage-export"
    ),
]
