"""Account pages: sign-up, profile, teams, API keys.

Included at /accounts/ before django.contrib.auth.urls, so `login/` here wins over Django's.
"""

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.StudioLoginView.as_view(), name="login"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("profile/preferences/", views.preferences_update, name="preferences-update"),
    path("keys/new/", views.api_key_new, name="api-key-new"),
    path("keys/<uuid:public_id>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/<uuid:public_id>/", views.team_detail, name="team-detail"),
    path("teams/<uuid:public_id>/switch/", views.team_switch, name="team-switch"),
    path("teams/<uuid:public_id>/invites/", views.team_invite_new, name="team-invite-new"),
    path(
        "teams/<uuid:public_id>/invites/<uuid:invite_id>/revoke/",
        views.team_invite_revoke,
        name="team-invite-revoke",
    ),
    path(
        "teams/<uuid:public_id>/members/<str:username>/role/",
        views.team_member_role,
        name="team-member-role",
    ),
    path(
        "teams/<uuid:public_id>/members/<str:username>/remove/",
        views.team_member_remove,
        name="team-member-remove",
    ),
    path("invites/<str:token>/", views.invite_accept, name="invite-accept"),
]
