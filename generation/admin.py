"""Admin: jobs, and images with their moderation (preview, filters, bulk decisions, reports,
audit log), the prompt blocklist, reports and the decision log."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.html import format_html

from generation.models import (
    BlockedTerm,
    EditInput,
    Image,
    Job,
    ModerationDecision,
    Preset,
    PresetVersion,
    Report,
    TeamPromptSettings,
    Worker,
)
from generation.moderation import images_moderate
from generation.selectors import consumers_alive, open_report_count, queue_overview


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ["public_id", "index", "seed", "width", "height", "moderation_state", "visibility"]
    readonly_fields = fields
    can_delete = False


class EditInputInline(admin.TabularInline):
    """An edit's stored sources and mask (read-only: they are what the job ran on)."""

    model = EditInput
    extra = 0
    fields = ["role", "position", "source_image", "width", "height", "byte_size", "sha256"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "user", "status", "backend", "n", "attempts", "created_at"]
    list_filter = ["status", "backend", "source", "enhancement"]
    search_fields = ["public_id", "user__username", "end_user"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    raw_id_fields = ["preset", "parent_image"]
    inlines = [ImageInline, EditInputInline]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Queue consumers as they report themselves, and above them each queue's depth and who
    serves it (a queue with jobs and no live consumer is what to fix first)."""

    list_display = [
        "name",
        "queue",
        "backends",
        "device",
        "state",
        "alive",
        "last_seen_at",
        "short_note",
    ]
    list_filter = ["queue", "state"]
    readonly_fields = [field.name for field in Worker._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        alive = consumers_alive().filter(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(is_alive=Exists(alive))

    @admin.display(description="note")
    def short_note(self, worker: Worker) -> str:
        return worker.note if len(worker.note) <= 90 else worker.note[:89] + "…"

    @admin.display(boolean=True, description="alive", ordering="is_alive")
    def alive(self, worker: Worker) -> bool:
        return worker.is_alive

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "queues": queue_overview()}
        return super().changelist_view(request, extra_context=extra_context)


# --- Presets and team prompt settings (staff manage any; people use /presets/) --------------


class PresetVersionInline(admin.TabularInline):
    model = PresetVersion
    extra = 0
    fields = ["number", "size", "num_inference_steps", "guidance_scale", "acceleration"]
    fields += ["prompt_template", "enhance", "created_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "team", "status", "use_count", "last_used_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "user__username", "team__name", "public_id"]
    readonly_fields = ["public_id", "current", "use_count", "last_used_at", "created_at"]
    raw_id_fields = ["user", "team", "approved_by"]
    inlines = [PresetVersionInline]


@admin.register(TeamPromptSettings)
class TeamPromptSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "updated_by", "updated_at"]
    search_fields = ["team__name"]
    raw_id_fields = ["team", "updated_by"]


# --- Images and moderation -----------------------------------------------------------------


class ScoreRangeFilter(admin.SimpleListFilter):
    title = "safety score"
    parameter_name = "score"
    RANGES = {
        "low": ("Below 0.2 (very likely safe)", Q(safety_score__lt=0.2)),
        "mid": ("0.2 – 0.5", Q(safety_score__gte=0.2, safety_score__lt=0.5)),
        "high": ("0.5 – 0.8", Q(safety_score__gte=0.5, safety_score__lt=0.8)),
        "top": ("0.8 and above (very likely NSFW)", Q(safety_score__gte=0.8)),
        "none": ("No score", Q(safety_score__isnull=True)),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.RANGES.items()]

    def queryset(self, request, queryset):
        if self.value() in self.RANGES:
            return queryset.filter(self.RANGES[self.value()][1])
        return queryset


class ModerationActionForm(ActionForm):
    note = forms.CharField(
        required=False,
        max_length=2000,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "Note for the audit log (optional)"}),
    )


class ReportInline(admin.TabularInline):
    model = Report
    extra = 0
    fields = ["created_at", "reason", "note", "reporter", "resolved", "resolved_at"]
    readonly_fields = fields
    can_delete = False
    ordering = ["resolved", "-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


class DecisionInline(admin.TabularInline):
    model = ModerationDecision
    verbose_name = "moderation decision"
    verbose_name_plural = "audit log"
    extra = 0
    fields = ["at", "actor", "via", "from_state", "to_state", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _preview(image: Image, css: str) -> str:
    url = reverse("image-thumbnail", args=[image.public_id])
    held = "" if image.is_showable else " held"
    return format_html(
        '<a href="{}" class="mod-preview{}" title="Open the image page">'
        '<img src="{}" alt="Preview of image {}" class="{}" loading="lazy"></a>',
        reverse("image-detail", args=[image.public_id]),
        held,
        url,
        image.public_id,
        css,
    )


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "preview",
        "short_id",
        "user",
        "team",
        "moderation_state",
        "score",
        "open_reports",
        "created_at",
    ]
    list_display_links = ["short_id"]
    list_filter = [
        "moderation_state",
        ScoreRangeFilter,
        "provider_nsfw",
        ("user", admin.RelatedOnlyFieldListFilter),
        ("team", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
        "visibility",
    ]
    list_select_related = ["user", "team"]
    list_per_page = 50
    search_fields = ["public_id", "user__username", "job__prompt"]
    action_form = ModerationActionForm
    actions = ["approve", "reject", "reset_to_clear"]
    inlines = [ReportInline, DecisionInline]
    fieldsets = [
        (None, {"fields": ["large_preview", "public_id", "job", "index", "user", "team"]}),
        (
            "Moderation",
            {
                "fields": [
                    "moderation_state",
                    "safety_score",
                    "provider_nsfw",
                    "safety_note",
                    "review_requested_at",
                ],
                "description": "Change the state with the actions of the image list, so every "
                "decision lands in the audit log.",
            },
        ),
        (
            "Image",
            {
                "fields": [
                    "visibility",
                    "seed",
                    "width",
                    "height",
                    "byte_size",
                    "file",
                    "thumbnail",
                    "sha256",
                    "pixel_sha256",
                    "revised_prompt",
                    "created_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "large_preview",
        "public_id",
        "job",
        "index",
        "user",
        "team",
        "moderation_state",
        "safety_score",
        "provider_nsfw",
        "safety_note",
        "review_requested_at",
        "seed",
        "width",
        "height",
        "byte_size",
        "file",
        "thumbnail",
        "sha256",
        "pixel_sha256",
        "revised_prompt",
        "created_at",
    ]

    class Media:
        css = {"all": ["css/moderation-admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(open_report_count=open_report_count())

    def has_add_permission(self, request):
        return False  # images come from jobs

    @admin.display(description="Preview")
    def preview(self, image: Image) -> str:
        return _preview(image, "mod-thumb")

    @admin.display(description="Preview")
    def large_preview(self, image: Image) -> str:
        return _preview(image, "mod-thumb mod-thumb-large")

    @admin.display(description="Image", ordering="created_at")
    def short_id(self, image: Image) -> str:
        return str(image.public_id)[:8]

    @admin.display(description="Safety score", ordering="safety_score")
    def score(self, image: Image) -> str:
        score = "—" if image.safety_score is None else f"{image.safety_score:.2f}"
        return f"{score} · provider flag" if image.provider_nsfw else score

    @admin.display(description="Open reports", ordering="open_report_count")
    def open_reports(self, image: Image) -> int:
        return image.open_report_count

    def _decide(self, request, queryset, to_state: str, verb: str) -> None:
        changed = images_moderate(
            images=queryset,
            actor=request.user,
            to_state=to_state,
            note=request.POST.get("note", ""),
            via=ModerationDecision.Via.ADMIN,
        )
        unchanged = queryset.count() - changed
        self.message_user(
            request,
            f"{verb} {changed} image{'s' if changed != 1 else ''}."
            + (f" {unchanged} already were." if unchanged else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Approve (visible again; settles reports)")
    def approve(self, request, queryset):
        self._decide(request, queryset, Image.Moderation.APPROVED, "Approved")

    @admin.action(description="Reject (staff only from now on; share links stop)")
    def reject(self, request, queryset):
        self._decide(request, queryset, Image.Moderation.REJECTED, "Rejected")

    @admin.action(description="Reset to clear (as if never flagged; settles reports)")
    def reset_to_clear(self, request, queryset):
        self._decide(request, queryset, Image.Moderation.CLEAR, "Reset to clear")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "image_link", "reason", "reporter", "resolved"]
    list_filter = ["resolved", "reason", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["image", "reporter"]
    search_fields = ["image__public_id", "reporter__username", "note"]
    fields = ["image", "reporter", "reason", "note", "created_at", "resolved", "resolved_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # settled by the decisions on the image

    @admin.display(description="Image")
    def image_link(self, report: Report) -> str:
        url = reverse("admin:generation_image_change", args=[report.image_id])
        return format_html('<a href="{}">{}</a>', url, str(report.image.public_id)[:8])


@admin.register(ModerationDecision)
class ModerationDecisionAdmin(admin.ModelAdmin):
    """The audit log: read-only."""

    list_display = ["at", "image_public_id", "actor", "via", "from_state", "to_state", "note"]
    list_filter = ["via", "to_state", ("at", admin.DateFieldListFilter)]
    list_select_related = ["actor"]
    search_fields = ["image_public_id", "actor__username", "note"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BlockedTerm)
class BlockedTermAdmin(admin.ModelAdmin):
    list_display = ["term", "kind", "active", "note", "created_by", "updated_at"]
    list_editable = ["active"]
    list_filter = ["active", "kind"]
    list_select_related = ["created_by"]
    search_fields = ["term", "note"]
    fields = ["term", "kind", "active", "note"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
