"""Usage pages, included at /accounts/ beside the account pages they belong with."""

from django.urls import path

from usage import views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("teams/<uuid:public_id>/usage/", views.team_usage, name="team-usage"),
]
