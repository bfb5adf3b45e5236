"""Account pages: sign-up, profile, teams, API keys, usage."""

urlpatterns: list = []
