"""Forms for the account pages: sign-up, preferences, API keys, teams, invites, roles."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Membership


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        help_text="Used only to reset your password.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class PreferencesForm(forms.Form):
    show_sensitive = forms.BooleanField(
        required=False,
        label="Show my flagged images unblurred",
        help_text="Images the safety checker flags stay hidden from others either way.",
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        initial="default",
        help_text="What the key is for, e.g. “CI pipeline”.",
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the team a name.")
        return name


class InviteForm(forms.Form):
    role = forms.ChoiceField(
        choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
        initial=Membership.Role.MEMBER,
    )
    single_use = forms.BooleanField(
        required=False, initial=True, label="One person only (the link works once)"
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=90,
        initial=settings.ACCOUNTS_INVITE_DAYS,
        label="Valid for (days)",
    )

    def __init__(self, *args, can_invite_admins: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_invite_admins:
            self.fields["role"].choices = [(Membership.Role.MEMBER, "Member")]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
