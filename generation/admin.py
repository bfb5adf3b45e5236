from django.contrib import admin

from generation.models import Image, Job


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ["public_id", "index", "seed", "width", "height", "moderation_state", "visibility"]
    readonly_fields = fields
    can_delete = False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "user", "status", "backend", "n", "attempts", "created_at"]
    list_filter = ["status", "backend", "source"]
    search_fields = ["public_id", "user__username"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [ImageInline]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "user",
        "seed",
        "width",
        "height",
        "moderation_state",
        "created_at",
    ]
    list_filter = ["moderation_state", "visibility"]
    readonly_fields = ["public_id", "created_at", "sha256", "pixel_sha256"]
