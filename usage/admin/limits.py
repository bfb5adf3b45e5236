"""Admin of prices, limits, holds and budget alerts."""

from django import forms
from django.contrib import admin

from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from usage.models import BudgetAlert, Limit, Price, Reservation


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = [
        "backend",
        "model",
        "per_image",
        "per_megapixel",
        "per_step",
        "note",
        "updated_at",
    ]
    list_editable = ["per_image", "per_megapixel", "per_step"]
    list_display_links = ["backend", "model"]
    search_fields = ["backend", "model"]


class LimitForm(forms.ModelForm):
    alert_webhook_url = forms.URLField(
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text=Limit._meta.get_field("alert_webhook_url").help_text,
    )

    class Meta:
        model = Limit
        fields = [
            "user",
            "team",
            "api_key",
            "images_per_day",
            "concurrent_jobs",
            "budget",
            "budget_period",
            "soft_threshold_percent",
            "alert_webhook_url",
        ]

    def clean_alert_webhook_url(self) -> str:
        url = self.cleaned_data.get("alert_webhook_url") or ""
        if not url:
            return ""
        try:
            return webhook_url_check(url)
        except WebhookUrlRejected as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Limit)
class LimitAdmin(admin.ModelAdmin):
    form = LimitForm
    list_display = [
        "__str__",
        "images_per_day",
        "concurrent_jobs",
        "budget",
        "budget_period",
        "soft_threshold_percent",
        "updated_at",
    ]
    list_filter = ["budget_period"]
    list_select_related = ["user", "team", "api_key"]
    search_fields = ["user__username", "team__name", "api_key__name", "api_key__prefix"]
    autocomplete_fields = ["user", "team"]
    raw_id_fields = ["api_key"]
    readonly_fields = ["alert_webhook_secret", "updated_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = [
        "job_ref",
        "kind",
        "user",
        "team",
        "api_key",
        "images",
        "images_started",
        "opened_at",
        "closed_at",
        "outcome",
    ]
    list_filter = ["kind", "outcome", "estimated"]
    list_select_related = ["user", "team", "api_key"]
    search_fields = ["job_ref", "user__username", "team__name"]
    date_hierarchy = "opened_at"


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = [
        "limit",
        "level",
        "period_start",
        "spent_micros",
        "budget_micros",
        "created_at",
        "emailed_at",
        "webhook_status",
    ]
    list_filter = ["level"]
    list_select_related = ["limit__user", "limit__team", "limit__api_key"]
