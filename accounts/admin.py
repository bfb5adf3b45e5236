from django.contrib import admin

from accounts.models import ApiKey, Membership, Profile, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "images_per_day", "concurrent_jobs", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "current_team", "images_per_day", "concurrent_jobs"]
    search_fields = ["user__username"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    exclude = ["hashed_key"]
    readonly_fields = ["public_id", "prefix", "created_at", "last_used_at"]
