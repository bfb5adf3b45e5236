"""Admin: today's usage beside the quota overrides on the user and profile lists."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.admin import ProfileAdmin, StudioUserAdmin
from accounts.models import Profile
from usage.quotas import jobs_active, jobs_counted_today
from usage.sources import usage_source

User = get_user_model()


def _usage_annotations(user_ref: str) -> dict:
    """Images today and active jobs per user as subqueries (no query per row), counted by the
    same rule as the quota."""
    jobs = usage_source().jobs().filter(user_id=OuterRef(user_ref)).order_by().values("user_id")
    images_today = jobs_counted_today(jobs).annotate(total=Sum("n")).values("total")
    active = jobs_active(jobs).annotate(total=Count("id")).values("total")
    return {
        "images_today": Coalesce(Subquery(images_today, output_field=IntegerField()), Value(0)),
        "active_jobs": Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
    }


class UsageColumns:
    """Adds "Images today" and "Active jobs" to a list of users or of rows with a user."""

    user_ref = "pk"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**_usage_annotations(self.user_ref))

    @admin.display(description="Images today", ordering="images_today")
    def images_today(self, obj):
        return obj.images_today

    @admin.display(description="Active jobs", ordering="active_jobs")
    def active_jobs(self, obj):
        return obj.active_jobs


class UsageUserAdmin(UsageColumns, StudioUserAdmin):
    list_display = [*StudioUserAdmin.list_display[:-1], "images_today", "active_jobs", "last_login"]


class UsageProfileAdmin(UsageColumns, ProfileAdmin):
    user_ref = "user_id"
    list_display = [*ProfileAdmin.list_display, "images_today", "active_jobs"]


for model, model_admin in ((User, UsageUserAdmin), (Profile, UsageProfileAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
