"""Account pages: sign-up, login lockout, profile and API keys, teams and invites.

The usage pages under /accounts/ are usage/views.py."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.access import member_read, membership_read
from accounts.forms import (
    ApiKeyForm,
    InviteForm,
    PreferencesForm,
    RoleForm,
    SignupForm,
    TeamForm,
)
from accounts.keys import api_key_create, api_key_revoke
from accounts.models import ApiKey, Membership, TeamInvite
from core.http import safe_next

logger = logging.getLogger(__name__)
Role = Membership.Role


# --- Sign-up and login --------------------------------------------------------------------


class StudioLoginView(LoginView):
    """Django's login view, telling the page whether to offer sign-up."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs, signup_open=settings.ACCOUNTS_SIGNUP == "open")


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout answer: a page, status 429 and Retry-After (the cool-off)."""
    cooloff = settings.AXES_COOLOFF_TIME
    response = render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": int(cooloff.total_seconds() // 60)},
        status=429,
    )
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response


@never_cache
def signup(request):
    if request.user.is_authenticated:
        return redirect("generate")
    token = request.POST.get("invite") or request.GET.get("invite") or ""
    invite = selectors.invite_get_by_token(token=token) if token else None
    mode = settings.ACCOUNTS_SIGNUP
    if mode == "closed" or (mode == "invite" and invite is None):
        context = {"mode": mode, "bad_invite": bool(token) and invite is None}
        return render(request, "registration/signup_closed.html", context, status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                invite=invite,
            )
        except (services.TeamRuleError, services.SignupClosed) as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if invite is not None:
                messages.success(request, f"Welcome! You joined {invite.team.name}.")
                return redirect("team-detail", public_id=invite.team.public_id)
            messages.success(request, "Welcome! Your account is ready.")
            return redirect("generate")
    return render(
        request, "registration/signup.html", {"form": form, "invite": invite, "token": token}
    )


# --- Profile and API keys -----------------------------------------------------------------


def _render_profile(request, *, key_form=None, new_secret=None, new_key=None, status=200):
    profile = services.profile_for(request.user)
    context = {
        "profile": profile,
        "keys": selectors.api_keys_for_user(user=request.user),
        "key_form": key_form or ApiKeyForm(),
        "prefs_form": PreferencesForm(initial={"show_sensitive": profile.show_sensitive}),
        "new_secret": new_secret,
        "new_key": new_key,
    }
    return render(request, "accounts/profile.html", context, status=status)


# Post/redirect/get for a new key: the secret rides to the next page in a signed cookie that
# only the profile page reads, once, and deletes. It is never written to the database (not
# even the session), and a refresh shows the list instead of making a second key.
NEW_KEY_COOKIE = "qis_new_key"
NEW_KEY_SALT = "accounts.views.new-key"
NEW_KEY_MAX_AGE = 120


@never_cache
@login_required
def profile(request):
    new_key = new_secret = None
    carried = request.get_signed_cookie(
        NEW_KEY_COOKIE, default="", salt=NEW_KEY_SALT, max_age=NEW_KEY_MAX_AGE
    )
    key_id, _, secret = carried.partition(":")
    if secret:
        new_key = selectors.api_keys_for_user(user=request.user).filter(public_id=key_id).first()
        new_secret = secret if new_key is not None else None
    response = _render_profile(request, new_secret=new_secret, new_key=new_key)
    if carried:
        response.delete_cookie(NEW_KEY_COOKIE, path=reverse("profile"))
    return response


@login_required
@require_POST
def preferences_update(request):
    form = PreferencesForm(request.POST)
    if form.is_valid():
        services.profile_update(
            user=request.user, show_sensitive=form.cleaned_data["show_sensitive"]
        )
        messages.success(request, "Preferences saved.")
    return redirect("profile")


@never_cache  # the response carries the new secret: no cache may keep it
@login_required
@require_POST
def api_key_new(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render_profile(request, key_form=form, status=400)
    key, secret = api_key_create(user=request.user, name=form.cleaned_data["name"])
    logger.info("api key created user=%s prefix=%s", request.user.pk, key.prefix)
    response = redirect("profile")
    response.set_signed_cookie(
        NEW_KEY_COOKIE,
        f"{key.public_id}:{secret}",
        salt=NEW_KEY_SALT,
        max_age=NEW_KEY_MAX_AGE,
        path=reverse("profile"),
        secure=request.is_secure(),
        httponly=True,
        samesite="Strict",
    )
    return response


@login_required
@require_POST
def api_key_revoke_view(request, public_id):
    try:
        key = selectors.api_key_get_for_user(user=request.user, public_id=public_id)
    except ApiKey.DoesNotExist:
        raise Http404("No such key.") from None
    api_key_revoke(key=key)
    logger.info("api key revoked user=%s prefix=%s", request.user.pk, key.prefix)
    messages.success(request, f"Key “{key.name}” ({key.prefix}…) revoked; it no longer works.")
    return redirect("profile")


# --- Teams --------------------------------------------------------------------------------


@login_required
def team_list(request):
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Team “{team.name}” created; it is now your current team.")
        return redirect("team-detail", public_id=team.public_id)
    return render(
        request,
        "accounts/team_list.html",
        {
            "memberships": selectors.memberships_for_user(user=request.user),
            "profile": services.profile_for(request.user),
            "form": form,
        },
    )


@login_required
def team_detail(request, public_id):
    me = membership_read(request, public_id)
    team = me.team
    is_manager = me.role in services.MANAGER_ROLES
    invites = []
    if is_manager:
        invites = list(selectors.team_invites_open(membership=me))
        for invite in invites:
            invite.url = request.build_absolute_uri(reverse("invite-accept", args=[invite.token]))
    return render(
        request,
        "accounts/team_detail.html",
        {
            "me": me,
            "team": team,
            "members": selectors.team_members(team=team),
            "is_manager": is_manager,
            "is_owner": me.role == Role.OWNER,
            "is_current": services.profile_for(request.user).current_team_id == team.pk,
            "invites": invites,
            "invite_form": InviteForm(can_invite_admins=me.role == Role.OWNER)
            if is_manager
            else None,
            "roles": Role.choices,
        },
    )


def _team_action(request, public_id, action) -> object:
    """Run a team rule as the requesting member; a broken rule becomes an error message."""
    me = membership_read(request, public_id)
    try:
        return action(me)
    except services.TeamRuleError as exc:
        messages.error(request, exc.message)
        return redirect("team-detail", public_id=me.team.public_id)


@login_required
@require_POST
def team_switch(request, public_id):
    def switch(me):
        services.team_switch(user=request.user, team=me.team)
        messages.success(request, f"Current team: {me.team.name}. New images go there.")
        return redirect(safe_next(request, reverse("team-detail", args=[me.team.public_id])))

    return _team_action(request, public_id, switch)


@login_required
@require_POST
def team_invite_new(request, public_id):
    def create(me):
        form = InviteForm(request.POST, can_invite_admins=me.role == Role.OWNER)
        if not form.is_valid():
            raise services.TeamRuleError(" ".join(m for e in form.errors.values() for m in e))
        services.invite_create(
            by=me,
            role=form.cleaned_data["role"],
            single_use=form.cleaned_data["single_use"],
            days=form.cleaned_data["days"],
        )
        messages.success(request, "Invite link created: copy it from the list below.")
        return redirect("team-detail", public_id=me.team.public_id)

    return _team_action(request, public_id, create)


@login_required
@require_POST
def team_invite_revoke(request, public_id, invite_id):
    def revoke(me):
        try:
            invite = selectors.team_invite_get(membership=me, public_id=invite_id)
        except TeamInvite.DoesNotExist:
            raise Http404("No such invite.") from None
        services.invite_revoke(by=me, invite=invite)
        messages.success(request, "Invite link revoked.")
        return redirect("team-detail", public_id=me.team.public_id)

    return _team_action(request, public_id, revoke)


@login_required
@require_POST
def team_member_role(request, public_id, username):
    def change(me):
        member = member_read(me, username)
        form = RoleForm(request.POST)
        if not form.is_valid():
            raise services.TeamRuleError("Choose a role.")
        services.membership_set_role(by=me, membership=member, role=form.cleaned_data["role"])
        messages.success(request, f"{username} is now {member.get_role_display().lower()}.")
        return redirect("team-detail", public_id=me.team.public_id)

    return _team_action(request, public_id, change)


@login_required
@require_POST
def team_member_remove(request, public_id, username):
    def remove(me):
        member = member_read(me, username)
        leaving = member.user_id == me.user_id
        services.membership_remove(by=me, membership=member)
        if leaving:
            messages.success(request, f"You left {me.team.name}.")
            return redirect("team-list")
        messages.success(request, f"{username} was removed from {me.team.name}.")
        return redirect("team-detail", public_id=me.team.public_id)

    return _team_action(request, public_id, remove)


@never_cache
def invite_accept(request, token):
    invite = selectors.invite_get_by_token(token=token)
    if invite is None:
        return render(request, "accounts/invite_invalid.html", status=404)
    if not request.user.is_authenticated:
        return render(
            request,
            "accounts/invite.html",
            {"invite": invite, "signup_allowed": settings.ACCOUNTS_SIGNUP != "closed"},
        )
    if request.method == "POST":
        try:
            services.invite_accept(invite=invite, user=request.user)
        except services.TeamRuleError as exc:
            messages.error(request, exc.message)
            return redirect("team-list")
        services.team_switch(user=request.user, team=invite.team)
        messages.success(request, f"You joined {invite.team.name}; it is now your current team.")
        return redirect("team-detail", public_id=invite.team.public_id)
    already = Membership.objects.filter(team=invite.team, user=request.user).exists()
    return render(request, "accounts/invite.html", {"invite": invite, "already": already})
