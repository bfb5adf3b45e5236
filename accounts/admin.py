"""Admin: users with their profile (quota overrides), teams, memberships, invites, API keys.

Secrets never show here: keys appear by name and prefix, invites without their token.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count
from django.utils import timezone

from accounts.keys import api_key_revoke
from accounts.models import ApiKey, Membership, Profile, Team, TeamInvite

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    fk_name = "user"
    can_delete = False
    fields = [
        "current_team",
        "show_sensitive",
        "images_per_day",
        "concurrent_jobs",
        "legal_hold_since",
        "legal_hold_note",
    ]
    autocomplete_fields = ["current_team"]
    verbose_name_plural = "Profile and quota overrides (empty: team override, else default)"


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["team"]


class UserApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class StudioUserAdmin(UserAdmin):
    inlines = [ProfileInline, UserMembershipInline, UserApiKeyInline]
    list_display = [
        "username",
        "email",
        "is_active",
        "is_staff",
        "last_login",
    ]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TeamInviteInline(admin.TabularInline):
    model = TeamInvite
    extra = 0
    fields = ["role", "single_use", "use_count", "created_by", "expires_at", "revoked_at"]
    readonly_fields = ["role", "single_use", "use_count", "created_by", "expires_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # invites are made on the team page, where the link is shown


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "member_count",
        "images_per_day",
        "concurrent_jobs",
        "storage_quota_bytes",
        "legal_hold_since",
        "created_at",
    ]
    list_editable = ["images_per_day", "concurrent_jobs"]
    search_fields = ["name"]
    readonly_fields = ["public_id", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "public_id", "created_at"]}),
        (
            "Quota overrides for every member (empty: the default)",
            {
                "fields": ["images_per_day", "concurrent_jobs"],
                "description": (
                    f"Defaults: {settings.QUOTA_IMAGES_PER_DAY} images per day, "
                    f"{settings.QUOTA_CONCURRENT_JOBS} concurrent jobs. "
                    "A member's own override wins over the team's."
                ),
            },
        ),
        (
            "Retention and storage (empty: the site default; 0: forever / unlimited)",
            {
                "fields": ["retention_image_days", "storage_quota_bytes"],
                "description": (
                    f"Site defaults: images kept {settings.RETENTION_IMAGE_DAYS or 'forever'} "
                    f"days, storage {settings.STORAGE_QUOTA_BYTES or 'unlimited'} bytes."
                ),
            },
        ),
        (
            "Legal hold",
            {
                "fields": ["legal_hold_since", "legal_hold_note"],
                "description": (
                    "Set a date to stop all purging of the team's images, jobs and "
                    "collections (retention and the trash); clear it to release the hold."
                ),
            },
        ),
    ]
    inlines = [MembershipInline, TeamInviteInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return obj._members


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "team__name"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """Quota overrides per user (usage/admin.py adds today's usage columns)."""

    list_display = [
        "user",
        "current_team",
        "images_per_day",
        "concurrent_jobs",
        "legal_hold_since",
    ]
    list_editable = ["images_per_day", "concurrent_jobs"]
    list_select_related = ["user", "current_team"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user", "current_team"]


@admin.register(TeamInvite)
class TeamInviteAdmin(admin.ModelAdmin):
    list_display = ["team", "role", "single_use", "use_count", "expires_at", "revoked_at"]
    list_filter = ["role", "single_use"]
    list_select_related = ["team"]
    search_fields = ["team__name"]
    exclude = ["token"]
    readonly_fields = ["public_id", "team", "created_by", "created_at", "use_count"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected invites")
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    exclude = ["hashed_key"]
    readonly_fields = ["public_id", "user", "prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are made on the profile page or with `manage.py create_api_key`

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key)
