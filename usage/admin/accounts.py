"""The accounts admins, extended: today's usage beside the quota overrides on the user and
profile lists, and each user's, team's and API key's usage limits inline."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model

from accounts.admin import ApiKeyAdmin, ProfileAdmin, StudioUserAdmin, TeamAdmin
from accounts.models import ApiKey, Profile, Team
from usage.admin.limits import LimitForm
from usage.models import Limit
from usage.quotas import quota_annotations

User = get_user_model()


class UsageColumns:
    """Adds "Images today" and "Active jobs" to a list of users or of rows with a user."""

    user_ref = "pk"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**quota_annotations(user_ref=self.user_ref))

    @admin.display(description="Images today", ordering="images_today")
    def images_today(self, obj):
        return obj.images_today

    @admin.display(description="Active jobs", ordering="active_jobs")
    def active_jobs(self, obj):
        return obj.active_jobs


class LimitInline(admin.StackedInline):
    model = Limit
    form = LimitForm
    can_delete = True
    extra = 0
    max_num = 1
    readonly_fields = ["alert_webhook_secret"]


class UserLimitInline(LimitInline):
    fk_name = "user"
    verbose_name_plural = "Money budget (images per day and concurrent jobs: the profile above)"
    fields = [
        "budget",
        "budget_period",
        "soft_threshold_percent",
        "alert_webhook_url",
        "alert_webhook_secret",
    ]


class TeamLimitInline(LimitInline):
    fk_name = "team"
    verbose_name_plural = "Limits of the whole team (all members' work together)"
    fields = [
        "images_per_day",
        "concurrent_jobs",
        "budget",
        "budget_period",
        "soft_threshold_percent",
        "alert_webhook_url",
        "alert_webhook_secret",
    ]


class ApiKeyLimitInline(TeamLimitInline):
    fk_name = "api_key"
    verbose_name_plural = "Limits of this key (all work through it)"


class UsageUserAdmin(UsageColumns, StudioUserAdmin):
    list_display = [*StudioUserAdmin.list_display[:-1], "images_today", "active_jobs", "last_login"]
    inlines = [*StudioUserAdmin.inlines, UserLimitInline]


class UsageProfileAdmin(UsageColumns, ProfileAdmin):
    user_ref = "user_id"
    list_display = [*ProfileAdmin.list_display, "images_today", "active_jobs"]


class UsageTeamAdmin(TeamAdmin):
    inlines = [*TeamAdmin.inlines, TeamLimitInline]
    fieldsets = [
        TeamAdmin.fieldsets[0],
        (
            "Per-member quota defaults (each member's own work; empty: the site default)",
            {
                "fields": ["images_per_day", "concurrent_jobs"],
                "description": (
                    f"Site defaults: {settings.QUOTA_IMAGES_PER_DAY} images per day, "
                    f"{settings.QUOTA_CONCURRENT_JOBS} concurrent jobs. A member's own override "
                    "wins over these. Limits of the whole team are set below."
                ),
            },
        ),
    ]


class UsageApiKeyAdmin(ApiKeyAdmin):
    inlines = [*ApiKeyAdmin.inlines, ApiKeyLimitInline]


for model, model_admin in (
    (User, UsageUserAdmin),
    (Profile, UsageProfileAdmin),
    (Team, UsageTeamAdmin),
    (ApiKey, UsageApiKeyAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
