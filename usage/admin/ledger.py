"""The ledger in the admin: append-only. Rows are never edited or deleted; a correction is a
new row with an amount and a reason. Staff see totals by backend and model, or by team, for any
period."""

import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.models import Team
from usage import ledger, selectors
from usage.models import LedgerEntry, amount
from usage.prices import money


class CorrectionForm(forms.ModelForm):
    """What staff fill in to correct the ledger: the entry (or user or team), amount, reason."""

    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=6,
        help_text="Positive adds cost, negative credits it back (e.g. -0.04 for a refund).",
    )
    corrects = forms.ModelChoiceField(
        queryset=LedgerEntry.objects.all(),
        required=False,
        widget=forms.TextInput,
        help_text="The id (number) of the entry this corrects; its user, team and job are used.",
    )
    user = forms.ModelChoiceField(queryset=get_user_model().objects.all(), required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)

    class Meta:
        model = LedgerEntry
        fields = ["corrects", "user", "team", "reason"]

    def clean(self):
        data = super().clean()
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "A correction needs a reason.")
        if not (data.get("corrects") or data.get("user") or data.get("team")):
            raise forms.ValidationError("Name the entry, the user or the team this corrects.")
        return data


class TotalsForm(forms.Form):
    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Included.")
    by = forms.ChoiceField(
        choices=[
            ("backend,model", "Backend and model"),
            ("team", "Team"),
            ("team,backend,model", "Team, backend and model"),
        ],
        initial="backend,model",
    )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "status",
        "user",
        "team",
        "api_key",
        "job",
        "backend",
        "model",
        "size",
        "steps",
        "cost_display",
        "estimated",
    ]
    list_filter = ["kind", "status", "estimated", "backend", "model"]
    list_select_related = ["user", "team", "api_key"]
    search_fields = ["=job_ref", "=public_id", "user__username", "team__name", "reason"]
    date_hierarchy = "started_at"
    show_full_result_count = False  # the ledger grows without bound: no COUNT(*) per page
    change_list_template = "admin/usage/ledgerentry/change_list.html"

    @admin.display(description="Job")
    def job(self, obj):
        return str(obj.job_ref)[:8] if obj.job_ref else "—"

    @admin.display(description="Size")
    def size(self, obj):
        return f"{obj.width}×{obj.height}" if obj.width else "—"

    @admin.display(description="Cost", ordering="cost_micros")
    def cost_display(self, obj):
        return money(amount(obj.cost_micros))

    # Append-only: nothing is changed or deleted; "add" records a correction.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["corrects", "user", "team", "amount", "reason"]
        return [
            "public_id",
            "kind",
            "status",
            "error_code",
            "user",
            "team",
            "api_key",
            "job_ref",
            "attempt",
            "index",
            "backend",
            "model",
            "width",
            "height",
            "steps",
            "counted",
            "cost_micros",
            "estimated",
            "storage_bytes",
            "reason",
            "corrects",
            "created_by",
            "started_at",
            "settled_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CorrectionForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied("Ledger entries are never changed; add a correction.")
        data = form.cleaned_data
        entry = ledger.correction_record(
            by=request.user,
            amount=data["amount"],
            reason=data["reason"],
            entry=data.get("corrects"),
            user=data.get("user"),
            team=data.get("team"),
        )
        obj.pk = entry.pk
        obj.refresh_from_db()

    def get_urls(self):
        totals = path(
            "totals/",
            self.admin_site.admin_view(self.totals_view),
            name="usage_ledgerentry_totals",
        )
        return [totals, *super().get_urls()]

    def totals_view(self, request):
        """Totals of any period (UTC days, both ends included)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.now().date()
        form = TotalsForm(
            request.GET or {"since": today.replace(day=1), "until": today, "by": "backend,model"}
        )
        rows, since, until, by = [], None, None, ()
        if form.is_valid():
            since = dt.datetime.combine(form.cleaned_data["since"], dt.time.min, tzinfo=dt.UTC)
            until = dt.datetime.combine(
                form.cleaned_data["until"] + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC
            )
            by = tuple(form.cleaned_data["by"].split(","))
            rows = selectors.ledger_totals(since=since, until=until, by=by)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Ledger totals",
            "form": form,
            "rows": rows,
            "by": by,
            "total_micros": sum(row.cost_micros for row in rows),
            "total_units": sum(row.units for row in rows),
            "total_images": sum(row.images for row in rows),
        }
        return TemplateResponse(request, "admin/usage/totals.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "totals_url": reverse("admin:usage_ledgerentry_totals"),
        }
        return super().changelist_view(request, extra_context)
