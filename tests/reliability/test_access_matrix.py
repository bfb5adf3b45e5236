"""Access matrix: every route × owner / teammate / outsider / anonymous / staff.

The routes come from the URL resolver and from /v1/openapi.json, so a new route without an
entry here fails `test_every_route_has_a_matrix_entry`. Each entry names the method, the URL
(for the owner's own objects: a private image, its job, a private collection, share links, an
API key, a team invite) and the status each role gets; an entry may first put the owner's
things in a state (the trash) for its route to act on. Pages act as a signed-in browser; /v1
acts with each role's API key (anonymous: none). Each role acts on the world as it was built
(its changes are rolled back before the next role acts). After every request by someone other
than the owner, the owner's things must be exactly as they were: nobody else can change them,
nor move them to the trash or out of it.

Statuses: "login" is a redirect to the login page. Somebody else's object is a 404, never a
403 (the one place deciding is generation.selectors); staff see everything but change only
what the services let them (a 403 or a message, never the owner's data).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.keys import api_key_create
from accounts.models import ApiKey, Membership, Profile, TeamInvite
from accounts.services import invite_create
from gallery import services as gallery_services
from gallery.models import Collection, CollectionItem, Favorite, ShareLink
from generation.edits.signed import edit_input_signed_url
from generation.models import Image, Job, Preset, TeamPromptSettings
from generation.presets.services import preset_create
from generation.retention import jobs_trash
from generation.signed_urls import image_signed_path
from tests.edits.helpers import make_edit
from tests.factories import make_job_row, make_team, make_user
from tests.reliability import ledger

SUITE = "access_matrix"
ROLES = ("anonymous", "outsider", "teammate", "staff", "owner")  # the owner acts last
LOGIN = "login"

pytestmark = pytest.mark.django_db


# --- The world every entry is checked against -------------------------------------------------


@dataclass
class World:
    users: dict
    team: object
    job: Job
    image: Image
    image2: Image
    collection: Collection
    share: ShareLink
    collection_share: ShareLink
    key: ApiKey
    secrets: dict
    invite: TeamInvite
    signed: str = ""
    extra: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def _world(module_rows) -> World:
    """Built once for the module; the requests only read it or change it inside their test's
    rolled-back transaction. Rows made directly (make_job_row): the pipeline has its own tests."""
    with module_rows(), override_settings(GENERATION_MIN_SIDE=16):  # tiny images
        team = make_team("Studio")
        users = {
            "owner": make_user("owner", team=team, role="owner"),
            "teammate": make_user("teammate", team=team, role="member"),
            "outsider": make_user("outsider", team=make_team("Elsewhere"), role="owner"),
            "staff": make_user("staff", is_staff=True, is_superuser=True),
        }
        owner = users["owner"]
        job = make_job_row(owner, n=2, size="64x48", prompt="the owner's private lighthouse")
        image, image2 = job.images.order_by("index")
        collection = gallery_services.collection_create(user=owner, name="Private set")
        gallery_services.collection_add_images(
            user=owner, collection=collection, image_ids=[image.public_id, image2.public_id]
        )
        secrets = {}
        for role, user in users.items():
            key, secrets[role] = api_key_create(user=user, name=f"{role} key")
            if role == "owner":
                owner_key = key
        owner_membership = Membership.objects.get(team=team, user=owner)
        return World(
            users=users,
            team=team,
            job=job,
            image=image,
            image2=image2,
            collection=collection,
            share=gallery_services.share_create(user=owner, image=image),
            collection_share=gallery_services.share_create(user=owner, collection=collection),
            key=owner_key,
            secrets=secrets,
            invite=invite_create(by=owner_membership),
            signed=image_signed_path(image, "file"),
            extra={
                "preset": preset_create(user=owner, name="Owner's own", values={"size": "square"})
            },
        )


@pytest.fixture
def world(_world, settings) -> World:
    """The module's world as it was built: each test gets its own copy of the objects (the
    rows themselves come back with every test's rollback)."""
    settings.GENERATION_MIN_SIDE = 16  # the world's tiny images can be reseeded
    settings.API_SYNC_WAIT_SECONDS = 0  # the sync endpoint answers 504 at once in tests
    world = copy.deepcopy(_world)
    # An edit upload of the owner's, queued (its signed URL is live); made per test, inside
    # the test's transaction, so the job is never picked up.
    upload = make_edit(world.users["owner"], run=False).edit_inputs.get()
    world.extra.update(edit_input=upload, edit_signed=edit_input_signed_url(upload))
    return world


def fingerprint(w: World) -> tuple:
    """Everything of the owner's that nobody else may change."""
    owner = w.users["owner"]
    rows = (
        Image.objects.filter(user=owner).values_list(
            "public_id", "visibility", "moderation_state", "deleted_at"
        ),
        Job.objects.filter(user=owner).values_list("public_id", "status", "deleted_at"),
        Collection.objects.filter(user=owner).values_list(
            "public_id", "name", "visibility", "deleted_at"
        ),
        CollectionItem.objects.filter(collection__user=owner).values_list("image_id"),
        ShareLink.objects.filter(user=owner).values_list("public_id", "revoked_at"),
        ApiKey.objects.filter(user=owner).values_list("public_id", "revoked_at"),
        TeamInvite.objects.filter(team=w.team).values_list("public_id", "revoked_at"),
        Membership.objects.filter(team=w.team).values_list("user", "role"),
        Profile.objects.filter(user=owner).values_list("current_team", "show_sensitive"),
        Favorite.objects.filter(user=owner).values_list("image_id"),
        Preset.objects.filter(user=owner).values_list("public_id", "name", "status", "current"),
        TeamPromptSettings.objects.filter(team=w.team).values_list("system_prompt_en"),
        type(owner).objects.filter(pk=owner.pk).values_list("password", "is_active"),
    )
    return tuple(sorted(map(str, query)) for query in rows)


# --- Entries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[World], str]
    expect: dict
    data: Callable[[World], dict] | None = None
    changed_by: tuple = ("owner",)  # who may change the owner's things through this route
    setup: Callable[[World], None] | None = None  # the state the route acts on (the trash)


def roles(anonymous, outsider, teammate, staff, owner) -> dict:
    return dict(zip(ROLES, (anonymous, outsider, teammate, staff, owner), strict=True))


def everyone(status) -> dict:
    return roles(status, status, status, status, status)


def signed_in(status) -> dict:
    return roles(LOGIN, status, status, status, status)


def url(name: str, *args: Callable[[World], object]) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[arg(w) for arg in args])


def image_id(w):
    return w.image.public_id


def job_id(w):
    return w.job.public_id


def collection_id(w):
    return w.collection.public_id


def team_id(w):
    return w.team.public_id


def trashed(w) -> None:
    """The owner's job (with both its images) and collection in the owner's trash."""
    owner = w.users["owner"]
    jobs_trash(user=owner, job_ids=[w.job.public_id])
    gallery_services.collection_delete(user=owner, collection=w.collection)


def trash_form(kind: str) -> Callable[[World], dict]:
    """The Trash page's form, naming the owner's trashed objects of one kind."""
    objects = {
        "images": lambda w: [w.image, w.image2],
        "jobs": lambda w: [w.job],
        "collections": lambda w: [w.collection],
    }[kind]
    return lambda w: {"kind": kind, "ids": [str(o.public_id) for o in objects(w)]}


def preset_id(w):
    return w.extra["preset"].public_id


# Somebody else's object: 404 for outsiders and teammates (the image is private), the owner
# and staff see it.
OWNED_PAGE = roles(LOGIN, 404, 404, 200, 200)
OWNED_ACTION = roles(LOGIN, 404, 404, 302, 302)
OWNER_ONLY_ACTION = roles(LOGIN, 404, 404, 404, 302)

PAGES: dict[str, Route] = {
    # generation
    "generate": Route("GET", url("generate"), signed_in(200)),
    "job-detail": Route("GET", url("job-detail", job_id), OWNED_PAGE),
    "job-status": Route("GET", url("job-status", job_id), OWNED_PAGE),
    "job-cancel": Route("POST", url("job-cancel", job_id), OWNED_ACTION),
    "job-list": Route("GET", url("job-list"), signed_in(200)),  # each sees only their own
    "job-live": Route(
        "GET", lambda w: reverse("job-live") + f"?job={w.job.public_id}:", signed_in(200)
    ),
    # Staff are shown the job but a retry would spend the owner's quota: a message, no change.
    "job-retry": Route("POST", url("job-retry", job_id), OWNED_ACTION),
    "job-edit": Route("POST", url("job-edit", job_id), OWNED_ACTION),
    # Previews exist only while the job runs: the finished job's are a 404 even to its owner.
    "job-preview": Route("GET", url("job-preview", job_id, lambda w: 0), everyone(404)),
    "job-delete": Route(
        "POST",
        url("job-delete", job_id),
        OWNED_ACTION,  # staff: "only the owner can delete"
    ),
    "image-file": Route("GET", url("image-file", image_id), roles(404, 404, 404, 200, 200)),
    "image-thumbnail": Route(
        "GET", url("image-thumbnail", image_id), roles(404, 404, 404, 200, 200)
    ),
    "healthz": Route("GET", url("healthz"), everyone(200)),
    # editing: only images you may see; an upload is its edit owner's (and staff's)
    "edit": Route("GET", lambda w: f"{reverse('edit')}?image={w.image.public_id}", OWNED_PAGE),
    "edit-input": Route(
        "GET", url("edit-input", lambda w: w.extra["edit_input"].public_id), OWNED_PAGE
    ),
    # Prometheus text: staff sessions (or METRICS_TOKEN, tests/config/test_metrics.py) only.
    "metrics": Route("GET", url("metrics"), roles(401, 401, 401, 200, 401)),
    # gallery
    "gallery": Route("GET", url("gallery"), everyone(200)),
    "gallery-bulk": Route(
        "POST",
        url("gallery-bulk"),
        signed_in(302),  # the selection is filtered to what each user may change
        data=lambda w: {"images": [str(w.image.public_id)], "action": "delete"},
    ),
    "compare": Route(
        "GET",
        lambda w: f"{reverse('compare')}?ids={w.image.public_id},{w.image2.public_id}",
        roles(404, 302, 302, 200, 200),  # fewer than two visible images: nothing to compare
    ),
    "image-detail": Route("GET", url("image-detail", image_id), roles(404, 404, 404, 200, 200)),
    "image-favorite": Route("POST", url("image-favorite", image_id), OWNED_ACTION),
    "image-use-settings": Route("POST", url("image-use-settings", image_id), OWNED_ACTION),
    "image-reseed": Route("POST", url("image-reseed", image_id), OWNED_ACTION),
    "image-visibility": Route(
        "POST",
        url("image-visibility", image_id),
        OWNED_ACTION,  # staff get "only the owner can change this image"
        data=lambda w: {"visibility": "public"},
    ),
    "image-delete": Route("POST", url("image-delete", image_id), OWNED_ACTION),
    "image-collect": Route(
        "POST",
        url("image-collect", image_id),
        OWNED_ACTION,  # staff: "choose one of your collections"
        data=lambda w: {"collection": str(w.collection.public_id), "remove": "1"},
    ),
    "image-share": Route("POST", url("image-share", image_id), OWNED_ACTION),
    "image-provenance": Route(
        "GET", url("image-provenance", image_id), roles(404, 404, 404, 200, 200)
    ),
    "image-report": Route(
        "POST",
        url("image-report", image_id),
        roles(404, 404, 404, 302, 302),  # the owner is told "you cannot report your own image"
        data=lambda w: {"reason": "other", "note": "matrix"},
    ),
    # The trash is its owner's alone: everybody else's restore, delete and empty act on
    # their own (empty) trash and leave the owner's as it is.
    "trash": Route("GET", url("trash"), signed_in(200), setup=trashed),
    **{
        f"trash-{action}" + ("" if kind == "images" else f" {kind}"): Route(
            "POST", url(f"trash-{action}"), signed_in(302), data=trash_form(kind), setup=trashed
        )
        for action in ("restore", "delete")
        for kind in ("images", "jobs", "collections")
    },
    "trash-empty": Route("POST", url("trash-empty"), signed_in(302), setup=trashed),
    "trash-thumbnail": Route(
        "GET", url("trash-thumbnail", image_id), roles(LOGIN, 404, 404, 404, 200), setup=trashed
    ),
    "collections": Route("GET", url("collections"), signed_in(200)),
    "collection-detail": Route(
        "GET", url("collection-detail", collection_id), roles(404, 404, 404, 200, 200)
    ),
    "collection-edit": Route(
        "POST",
        url("collection-edit", collection_id),
        OWNER_ONLY_ACTION,
        data=lambda w: {"name": "Renamed", "visibility": "public"},
    ),
    "collection-delete": Route("POST", url("collection-delete", collection_id), OWNER_ONLY_ACTION),
    "collection-cover": Route(
        "POST",
        url("collection-cover", collection_id),
        OWNER_ONLY_ACTION,
        data=lambda w: {"image": str(w.image2.public_id)},
    ),
    "collection-share": Route("POST", url("collection-share", collection_id), OWNER_ONLY_ACTION),
    "share-revoke": Route(
        "POST", url("share-revoke", lambda w: w.share.public_id), OWNER_ONLY_ACTION
    ),
    # Share links are capabilities: whoever holds the token sees what it shares.
    "share": Route("GET", url("share", lambda w: w.share.token), everyone(200)),
    "share-embed": Route("GET", url("share-embed", lambda w: w.share.token), everyone(200)),
    "share-file": Route("GET", url("share-file", lambda w: w.share.token), everyone(200)),
    "share-thumbnail": Route("GET", url("share-thumbnail", lambda w: w.share.token), everyone(200)),
    "share-image-file": Route(
        "GET",
        url("share-image-file", lambda w: w.collection_share.token, image_id),
        everyone(200),
    ),
    "share-image-thumbnail": Route(
        "GET",
        url("share-image-thumbnail", lambda w: w.collection_share.token, image_id),
        everyone(200),
    ),
    "share-report": Route("GET", url("share-report", lambda w: w.share.token), everyone(200)),
    # moderation: staff only, and a 404 for everybody else (the queue is nobody's business)
    "moderation-queue": Route("GET", url("moderation-queue"), roles(404, 404, 404, 200, 404)),
    "moderation-decide": Route(
        "POST",
        url("moderation-decide", image_id),
        roles(404, 404, 404, 302, 404),
        data=lambda w: {"decision": "approve"},
        changed_by=("staff",),
    ),
    # prompts: the enhance preview, presets (personal here: the owner's alone), team prompts
    "prompt-enhance": Route(
        "POST", url("prompt-enhance"), signed_in(200), data=lambda w: {"prompt": "matrix"}
    ),
    "preset-list": Route("GET", url("preset-list"), signed_in(200)),
    "preset-detail": Route(
        "GET", url("preset-detail", preset_id), roles(LOGIN, 404, 404, 404, 200)
    ),
    "preset-approve": Route(
        "POST", url("preset-approve", preset_id), roles(LOGIN, 404, 404, 404, 302)
    ),
    "preset-delete": Route("POST", url("preset-delete", preset_id), OWNER_ONLY_ACTION),
    "image-save-preset": Route(
        "POST",
        url("image-save-preset", image_id),
        roles(LOGIN, 404, 404, 302, 302),  # staff see the image; the preset is their own
        data=lambda w: {"name": "From the matrix"},
    ),
    "team-prompts": Route("GET", url("team-prompts", team_id), roles(LOGIN, 404, 200, 404, 200)),
    # accounts
    "login": Route("GET", url("login"), roles(200, 302, 302, 302, 302)),
    "signup": Route("GET", url("signup"), roles(200, 302, 302, 302, 302)),
    "profile": Route("GET", url("profile"), signed_in(200)),
    "preferences-update": Route(
        "POST", url("preferences-update"), signed_in(302), data=lambda w: {"show_sensitive": ""}
    ),
    "api-key-new": Route("POST", url("api-key-new"), signed_in(302), data=lambda w: {"name": "x"}),
    "api-key-revoke": Route(
        "POST", url("api-key-revoke", lambda w: w.key.public_id), OWNER_ONLY_ACTION
    ),
    "usage": Route("GET", url("usage"), signed_in(200)),
    "usage-export": Route("GET", url("usage-export"), signed_in(200)),  # each their own rows
    "team-list": Route("GET", url("team-list"), signed_in(200)),
    "team-detail": Route("GET", url("team-detail", team_id), roles(LOGIN, 404, 200, 404, 200)),
    "team-switch": Route("POST", url("team-switch", team_id), roles(LOGIN, 404, 302, 404, 302)),
    "team-usage": Route("GET", url("team-usage", team_id), roles(LOGIN, 404, 403, 404, 200)),
    "team-usage-export": Route(
        "GET", url("team-usage-export", team_id), roles(LOGIN, 404, 403, 404, 200)
    ),
    "team-invite-new": Route(
        "POST",
        url("team-invite-new", team_id),
        roles(LOGIN, 404, 302, 404, 302),  # a member gets "only owners and admins invite"
        data=lambda w: {"role": "member", "days": 7, "single_use": "on"},
    ),
    "team-invite-revoke": Route(
        "POST",
        url("team-invite-revoke", team_id, lambda w: w.invite.public_id),
        # A plain member sees no invites, so one is "no such invite" to them.
        roles(LOGIN, 404, 404, 404, 302),
    ),
    "team-member-role": Route(
        "POST",
        url("team-member-role", team_id, lambda w: "teammate"),
        roles(LOGIN, 404, 302, 404, 302),
        data=lambda w: {"role": "admin"},
    ),
    "team-member-remove": Route(
        "POST",
        url("team-member-remove", team_id, lambda w: "owner"),
        roles(LOGIN, 404, 302, 404, 302),  # nobody removes the last owner
    ),
    # An invite link is a capability too: it shows which team it joins.
    "invite-accept": Route("GET", url("invite-accept", lambda w: w.invite.token), everyone(200)),
    "logout": Route("POST", url("logout"), everyone(302)),
    "password_change": Route("GET", url("password_change"), signed_in(200)),
    "password_change_done": Route("GET", url("password_change_done"), signed_in(200)),
    "password_reset": Route("GET", url("password_reset"), everyone(200)),
    "password_reset_done": Route("GET", url("password_reset_done"), everyone(200)),
    "password_reset_confirm": Route(
        "GET", url("password_reset_confirm", lambda w: "MQ", lambda w: "bad-token"), everyone(200)
    ),
    "password_reset_complete": Route("GET", url("password_reset_complete"), everyone(200)),
}

API_READ = roles(401, 404, 404, 200, 200)

API: dict[tuple[str, str], Route] = {
    ("GET", "/v1/me"): Route("GET", lambda w: "/v1/me", roles(401, 200, 200, 200, 200)),
    ("POST", "/v1/images/generations"): Route(
        "POST",
        lambda w: "/v1/images/generations",
        roles(401, 504, 504, 504, 504),  # accepted, then the (zero) wait runs out in tests
        data=lambda w: {"prompt": "api matrix", "size": "square"},
    ),
    ("POST", "/v1/estimates"): Route(
        "POST",
        lambda w: "/v1/estimates",
        roles(401, 200, 200, 200, 200),  # a dry run about the caller's own limits
        data=lambda w: {"prompt": "api matrix", "size": "square"},
    ),
    ("POST", "/v1/jobs"): Route(
        "POST",
        lambda w: "/v1/jobs",
        roles(401, 202, 202, 202, 202),
        data=lambda w: {"prompt": "api matrix", "size": "square"},
    ),
    ("GET", "/v1/jobs"): Route("GET", lambda w: "/v1/jobs", roles(401, 200, 200, 200, 200)),
    ("GET", "/v1/jobs/{job_id}"): Route("GET", lambda w: f"/v1/jobs/{w.job.public_id}", API_READ),
    ("POST", "/v1/jobs/{job_id}/cancel"): Route(
        "POST", lambda w: f"/v1/jobs/{w.job.public_id}/cancel", roles(401, 404, 404, 409, 409)
    ),
    ("POST", "/v1/jobs/{job_id}/retry"): Route(
        "POST", lambda w: f"/v1/jobs/{w.job.public_id}/retry", roles(401, 404, 404, 409, 409)
    ),
    ("DELETE", "/v1/jobs/{job_id}"): Route(
        "DELETE", lambda w: f"/v1/jobs/{w.job.public_id}", roles(401, 404, 404, 403, 204)
    ),
    # For good: the owner's, or anyone's for staff (docs/retention.md; legal holds).
    ("DELETE", "/v1/jobs/{job_id}?permanent=true"): Route(
        "DELETE",
        lambda w: f"/v1/jobs/{w.job.public_id}?permanent=true",
        roles(401, 404, 404, 204, 204),
        changed_by=("staff", "owner"),
        setup=trashed,
    ),
    ("POST", "/v1/jobs/{job_id}/restore"): Route(
        "POST",
        lambda w: f"/v1/jobs/{w.job.public_id}/restore",
        roles(401, 404, 404, 404, 200),
        setup=trashed,
    ),
    ("GET", "/v1/webhooks/secret"): Route(
        "GET", lambda w: "/v1/webhooks/secret", roles(401, 200, 200, 200, 200)
    ),
    ("POST", "/v1/webhooks/secret/rotate"): Route(
        "POST", lambda w: "/v1/webhooks/secret/rotate", roles(401, 200, 200, 200, 200)
    ),
    ("GET", "/v1/images"): Route("GET", lambda w: "/v1/images", roles(401, 200, 200, 200, 200)),
    ("GET", "/v1/images/{image_id}"): Route(
        "GET", lambda w: f"/v1/images/{w.image.public_id}", API_READ
    ),
    ("DELETE", "/v1/images/{image_id}"): Route(
        "DELETE", lambda w: f"/v1/images/{w.image.public_id}", roles(401, 404, 404, 403, 204)
    ),
    ("DELETE", "/v1/images/{image_id}?permanent=true"): Route(
        "DELETE",
        lambda w: f"/v1/images/{w.image.public_id}?permanent=true",
        roles(401, 404, 404, 204, 204),
        changed_by=("staff", "owner"),
        setup=trashed,
    ),
    ("POST", "/v1/images/{image_id}/restore"): Route(
        "POST",
        lambda w: f"/v1/images/{w.image.public_id}/restore",
        roles(401, 404, 404, 404, 200),
        setup=trashed,
    ),
    ("GET", "/v1/images/{image_id}/provenance"): Route(
        "GET", lambda w: f"/v1/images/{w.image.public_id}/provenance", API_READ
    ),
    ("GET", "/v1/trash"): Route(
        "GET", lambda w: "/v1/trash", roles(401, 200, 200, 200, 200), setup=trashed
    ),
    ("PATCH", "/v1/images/{image_id}"): Route(
        "PATCH",
        lambda w: f"/v1/images/{w.image.public_id}",
        roles(401, 404, 404, 403, 200),
        data=lambda w: {"visibility": "public"},
    ),
    ("POST", "/v1/images/{image_id}/reseed"): Route(
        "POST", lambda w: f"/v1/images/{w.image.public_id}/reseed", roles(401, 404, 404, 202, 202)
    ),
    ("POST", "/v1/images/{image_id}/favorite"): Route(
        "POST", lambda w: f"/v1/images/{w.image.public_id}/favorite", API_READ
    ),
    ("POST", "/v1/images/{image_id}/share"): Route(
        "POST", lambda w: f"/v1/images/{w.image.public_id}/share", roles(401, 404, 404, 403, 201)
    ),
    ("POST", "/v1/images/{image_id}/report"): Route(
        "POST",
        lambda w: f"/v1/images/{w.image.public_id}/report",
        roles(401, 404, 404, 201, 403),  # nobody reports their own image
        data=lambda w: {"reason": "other"},
    ),
    ("GET", "/v1/collections"): Route(
        "GET", lambda w: "/v1/collections", roles(401, 200, 200, 200, 200)
    ),
    ("POST", "/v1/collections"): Route(
        "POST",
        lambda w: "/v1/collections",
        roles(401, 201, 201, 201, 201),  # only images the caller may see are added
        data=lambda w: {"name": "Mine", "image_ids": [str(w.image.public_id)]},
    ),
    ("DELETE", "/v1/collections/{collection_id}"): Route(
        "DELETE",
        lambda w: f"/v1/collections/{w.collection.public_id}",
        roles(401, 404, 404, 404, 204),  # as on the pages: a collection is its owner's to change
    ),
    ("DELETE", "/v1/collections/{collection_id}?permanent=true"): Route(
        "DELETE",
        lambda w: f"/v1/collections/{w.collection.public_id}?permanent=true",
        roles(401, 404, 404, 204, 204),
        changed_by=("staff", "owner"),
        setup=trashed,
    ),
    ("POST", "/v1/collections/{collection_id}/restore"): Route(
        "POST",
        lambda w: f"/v1/collections/{w.collection.public_id}/restore",
        roles(401, 404, 404, 404, 200),
        setup=trashed,
    ),
    ("DELETE", "/v1/shares/{share_id}"): Route(
        "DELETE", lambda w: f"/v1/shares/{w.share.public_id}", roles(401, 404, 404, 404, 204)
    ),
    # Multipart only (a JSON body is a 415); tests/edits/test_access.py: who may edit what.
    ("POST", "/v1/images/edits"): Route(
        "POST", lambda w: "/v1/images/edits", roles(401, 415, 415, 415, 415)
    ),
    ("POST", "/v1/prompts/enhance"): Route(
        "POST",
        lambda w: "/v1/prompts/enhance",
        roles(401, 200, 200, 200, 200),
        data=lambda w: {"prompt": "matrix"},
    ),
    ("GET", "/v1/presets"): Route("GET", lambda w: "/v1/presets", roles(401, 200, 200, 200, 200)),
    ("POST", "/v1/presets"): Route(
        "POST",
        lambda w: "/v1/presets",
        roles(401, 201, 201, 201, 201),  # each makes a personal one of their own
        data=lambda w: {"name": "Mine", "size": "square"},
    ),
    ("GET", "/v1/presets/{preset_id}"): Route(
        "GET", lambda w: f"/v1/presets/{preset_id(w)}", roles(401, 404, 404, 404, 200)
    ),
    ("PUT", "/v1/presets/{preset_id}"): Route(
        "PUT",
        lambda w: f"/v1/presets/{preset_id(w)}",
        roles(401, 404, 404, 404, 200),
        data=lambda w: {"name": "Renamed", "size": "auto"},
    ),
    ("POST", "/v1/presets/{preset_id}/approve"): Route(
        "POST",
        lambda w: f"/v1/presets/{preset_id(w)}/approve",
        roles(401, 404, 404, 404, 403),  # personal: nothing to approve
    ),
    ("DELETE", "/v1/presets/{preset_id}"): Route(
        "DELETE", lambda w: f"/v1/presets/{preset_id(w)}", roles(401, 404, 404, 404, 204)
    ),
    # Outside the schema: signed image URLs (capabilities), the docs, the schema, the root.
    ("GET", "/v1/edit-inputs/{token}"): Route(
        "GET", lambda w: urlsplit(w.extra["edit_signed"]).path, everyone(200)
    ),
    ("GET", "/v1/files/{token}"): Route("GET", lambda w: w.signed, everyone(200)),
    ("GET", "/v1/openapi.json"): Route("GET", lambda w: "/v1/openapi.json", everyone(200)),
    ("GET", "/v1/docs"): Route("GET", lambda w: "/v1/docs", everyone(200)),
    ("GET", "/v1/"): Route("GET", lambda w: "/v1/", everyone(404)),
}


# --- Running an entry -------------------------------------------------------------------------


def _page_client(w: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(w.users[role])
    return client


def _call(w: World, role: str, route: Route, *, api: bool):
    path = route.path(w)
    data = route.data(w) if route.data else {}
    if api:
        headers = {}
        if role != "anonymous":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {w.secrets[role]}"
        body = json.dumps(data) if route.method != "GET" else None
        if route.method == "GET":
            return Client().get(path, **headers)
        return Client().generic(
            route.method, path, body, content_type="application/json", **headers
        )
    client = _page_client(w, role)
    if route.method == "GET":
        return client.get(path)
    return client.post(path, data)


def _status(response) -> object:
    login = reverse("login")
    if response.status_code == 302 and response["Location"].startswith(login + "?next="):
        return LOGIN
    return response.status_code


def _check(w: World, route: Route, *, api: bool) -> None:
    if route.setup:
        route.setup(w)
    before = fingerprint(w)
    got = {}
    for role in ROLES:
        savepoint = transaction.savepoint()  # each role meets the world as it was built
        got[role] = _status(_call(w, role, route, api=api))
        if role not in route.changed_by:
            assert fingerprint(w) == before, f"{role} changed the owner's data"
        transaction.savepoint_rollback(savepoint)
    ledger.record(SUITE, requests=len(ROLES), routes=1)
    assert got == route.expect


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_access(name, world):
    _check(world, PAGES[name], api=False)


@pytest.mark.parametrize("key", sorted(API), ids=[f"{m} {p}" for m, p in sorted(API)])
def test_api_access(key, world):
    _check(world, API[key], api=True)


@pytest.mark.parametrize("name", sorted(n for n, r in PAGES.items() if r.method == "POST"))
def test_a_get_on_a_form_action_changes_nothing(name, world):
    """Actions only happen on POST: a GET (a link, a prefetch, a crawler) is refused."""
    before = fingerprint(world)
    for role in ROLES:
        response = _page_client(world, role).get(PAGES[name].path(world))
        assert _status(response) in (LOGIN, 405), (role, response.status_code)
    assert fingerprint(world) == before


# --- Visibility levels: who reads a private, team or public image -----------------------------

READS = {
    "page": lambda w, image: reverse("image-detail", args=[image.public_id]),
    "file": lambda w, image: reverse("image-file", args=[image.public_id]),
    "thumbnail": lambda w, image: reverse("image-thumbnail", args=[image.public_id]),
    "provenance": lambda w, image: reverse("image-provenance", args=[image.public_id]),
    "api": lambda w, image: f"/v1/images/{image.public_id}",
    "api-provenance": lambda w, image: f"/v1/images/{image.public_id}/provenance",
}
VISIBILITY = {
    "private": roles(404, 404, 404, 200, 200),
    "team": roles(404, 404, 200, 200, 200),
    "public": roles(200, 200, 200, 200, 200),
}


@pytest.mark.parametrize("visibility", sorted(VISIBILITY))
def test_who_reads_an_image_of_each_visibility(visibility, world):
    gallery_services.image_set_visibility(
        user=world.users["owner"], image=world.image, visibility=visibility
    )
    for read, path in READS.items():
        got = {}
        for role in ROLES:
            api = read.startswith("api")
            expect = VISIBILITY[visibility][role]
            if api and role == "anonymous":
                expect = 401  # the API needs a key even for public images
            route = Route("GET", lambda w, path=path: path(w, w.image), {})
            status = _status(_call(world, role, route, api=api))
            got[role] = (status, expect)
        ledger.record(SUITE, requests=len(ROLES))
        assert all(status == expect for status, expect in got.values()), (read, got)


# --- Every route is in the matrix ---------------------------------------------------------------


def _patterns(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name


def _api_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_route_has_a_matrix_entry(client):
    pages, api_paths = set(), set()
    for route, name in _patterns(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # test_admin_routes_are_staff_only walks those
        if route.startswith("v1/"):
            api_paths.add(_api_path(route))
        else:
            assert name, f"unnamed route {route!r}: name it and add it to PAGES"
            pages.add(name)
    assert pages - set(PAGES) == set(), "routes without an access-matrix entry"
    assert api_paths - {path for _, path in API} == set(), "/v1 routes without an entry"
    schema = client.get("/v1/openapi.json").json()
    operations = {
        (method.upper(), "/v1" + path if not path.startswith("/v1") else path)
        for path, methods in schema["paths"].items()
        for method in methods
    }
    assert operations - set(API) == set(), "/v1 operations without an access-matrix entry"
    ledger.record(SUITE, routes_known=len(pages) + len(operations))


# --- The admin: staff only ----------------------------------------------------------------------

_APP_LABEL = re.compile(r"\(\?P<app_label>([\w|]+)\)")


def _admin_urls():
    for route, name in _patterns(get_resolver().url_patterns):
        if not route.startswith("admin/"):
            continue
        path = route
        label = _APP_LABEL.search(path)
        if label:
            path = _APP_LABEL.sub(label.group(1).split("|")[0], path)
        path = re.sub(r"<int:\w+>", "1", path)
        path = re.sub(r"<(?:path:|str:)?\w+>", "999999", path)
        path = path.replace("^", "").replace("$", "").replace("(?P<url>.*)", "no-such-page/")
        yield name or route, "/" + path


def test_admin_routes_are_staff_only(world):
    """Every admin URL sends anyone but staff to the admin login; staff never get an error."""
    urls = list(_admin_urls())
    assert len(urls) > 30
    clients = {role: _page_client(world, role) for role in ROLES}
    for name, path in urls:
        for role, client in clients.items():
            response = client.get(path)
            if name == "admin:logout":
                # Staff log out with a POST; anyone else is sent to the admin index (login).
                expected = 405 if role == "staff" else 302
                assert response.status_code == expected, (role, response.status_code)
            elif name == "admin:login":
                assert response.status_code in (200, 302)
            elif role == "staff":
                # 302/404: there is no object 999999; 403 where the admin itself forbids an
                # action (axes' read-only logs, the autocomplete without its parameters).
                assert response.status_code in (200, 302, 403, 404), (path, response.status_code)
            else:
                assert response.status_code == 302, (role, path, response.status_code)
                assert response["Location"].startswith("/admin/login/"), (role, path)
    ledger.record(SUITE, requests=len(urls) * len(ROLES), routes=len(urls))


# --- Lists and searches never show somebody else's private things -------------------------------

LISTS = [
    "/",
    "/gallery/",
    "/gallery/?scope=public",
    "/gallery/?scope=team",
    "/gallery/?scope=favorites",
    "/gallery/?q=lighthouse",
    "/gallery/?scope=public&q=lighthouse&sort=oldest",
    "/collections/",
    "/accounts/usage/",
    "/accounts/teams/",
    "/v1/images",
    "/v1/images?scope=public",
    "/v1/images?scope=team",
    "/v1/images?scope=favorites",
    "/v1/images?q=lighthouse",
    "/v1/jobs",
    "/v1/jobs?status=succeeded",
    "/v1/collections",
    "/v1/me",
]


def test_lists_and_searches_never_show_another_users_private_things(world):
    w = world
    secrets = {
        str(w.image.public_id),
        str(w.image2.public_id),
        str(w.job.public_id),
        str(w.collection.public_id),
        w.job.prompt,
        "Private set",
        w.share.token,
        w.collection_share.token,
        w.invite.token,
    }
    checked = 0
    for role in ("anonymous", "outsider", "teammate"):
        client = _page_client(w, role)
        headers = {}
        if role != "anonymous":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {w.secrets[role]}"
        for path in [*LISTS, reverse("team-detail", args=[w.team.public_id])]:
            api = path.startswith("/v1/")
            response = (Client() if api else client).get(path, **(headers if api else {}))
            body = response.content.decode()
            checked += 1
            assert response.status_code in (200, 302, 401, 404), (role, path, response.status_code)
            found = {secret for secret in secrets if secret in body}
            assert found == set(), (role, path, found)
    ledger.record(SUITE, requests=checked)


def test_a_trash_shows_only_its_owners_things(world):
    """Staff included: the trash page and /v1/trash list the caller's own trash, nobody else's
    (and a trashed thing is hidden everywhere else: tests/gallery/test_trash.py)."""
    w = world
    trashed(w)
    secrets = {
        str(w.image.public_id),
        str(w.image2.public_id),
        str(w.job.public_id),
        str(w.collection.public_id),
        w.job.prompt,
        "Private set",
    }
    checked = 0
    for role in ("anonymous", "outsider", "teammate", "staff"):
        for path in (reverse("trash"), "/v1/trash"):
            response = _call(
                w, role, Route("GET", lambda w, path=path: path, {}), api="/v1/" in path
            )
            body = response.content.decode()
            checked += 1
            assert _status(response) in (200, 401, LOGIN), (role, path, response.status_code)
            assert {secret for secret in secrets if secret in body} == set(), (role, path)
    owner_view = _call(w, "owner", Route("GET", lambda w: "/v1/trash", {}), api=True).json()
    assert [j["id"] for j in owner_view["jobs"]] == [str(w.job.public_id)]  # the check can see
    ledger.record(SUITE, requests=checked + 1)
