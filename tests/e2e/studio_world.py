"""A small world for the studio's browser tests: an owner with a team (with a budget), images,
a collection, a failed and a canceled job, an edit of an image, a live and a revoked share link,
things in the trash, a preset; and every page to visit."""

from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse

from gallery import services
from generation.models import Image, Job
from generation.presets.services import preset_create
from generation.retention import jobs_trash
from tests.edits.helpers import box_mask, make_edit
from tests.factories import PASSWORD, make_image, make_job, make_team, make_user
from usage.models import Limit


@dataclass
class World:
    owner: object
    image: Image
    failed: Job
    canceled: Job
    share_token: str
    revoked_token: str
    signed_in_pages: list[str]
    signed_out_pages: list[str]


def build_world(*, staff: bool = False) -> World:
    team = make_team("Harbour")
    owner = make_user("ada", team=team, role="owner", is_staff=staff)
    make_user("grace", team=team)
    images = [
        make_image(owner, prompt="a brass owl reading a map, warm light", size=size, n=n)
        for size, n in (("landscape_16_9", 2), ("portrait_16_9", 1), ("square", 1))
    ]
    image = images[0]
    services.image_set_visibility(user=owner, image=images[1], visibility="public")
    collection = services.collection_create(user=owner, name="Moodboard")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[i.public_id for i in images]
    )
    # Live-server tests commit at once, so Huey's immediate mode has run these: set the end
    # states by hand (a failure from the image service, a cancel).
    failed = make_job(owner, prompt="a fox reading, which failed")
    canceled = make_job(owner, prompt="a canceled teapot")
    Job.objects.filter(pk=failed.pk).update(
        status=Job.Status.FAILED,
        error_code="rate_limited",
        error_message="The image service is rate limiting requests.",
    )
    Job.objects.filter(pk=canceled.pk).update(status=Job.Status.CANCELED)
    Image.objects.filter(job__in=[failed, canceled]).delete()
    failed.refresh_from_db()
    canceled.refresh_from_db()
    # The trash: an image, and a whole job with its images (each restorable from the page).
    trashed = make_image(owner, prompt="a trashed lighthouse at dusk", size="landscape_4_3")
    services.image_delete(user=owner, image=trashed)
    gone = make_image(owner, prompt="a trashed job of two teapots", n=2)
    jobs_trash(user=owner, job_ids=[gone.job.public_id])
    preset = preset_create(
        user=owner,
        name="Studio photo",
        values={"prompt_template": "studio photo of {prompt}, softbox light", "size": "auto"},
    )
    # The ledger's pages and the Create page's bar with a team budget; an edit of a gallery
    # image with a mask (its result's page has the before/after, the lineage both ways).
    Limit.objects.create(team=team, budget=Decimal("5"), soft_threshold_percent=80)
    square = images[2]
    edit = make_edit(
        owner,
        images=[str(square.public_id)],
        mask=box_mask(square.width, square.height, box=(8, 8, 200, 200)),
        prompt="paint the owl gold",
    )
    edited = edit.images.get(index=0)
    share = services.share_create(user=owner, image=image)
    revoked = services.share_create(user=owner, image=images[2])
    services.share_revoke(user=owner, share=revoked)
    signed_in = [
        reverse("generate"),
        reverse("job-list"),
        reverse("job-detail", args=[failed.public_id]),
        reverse("job-detail", args=[image.job.public_id]),
        reverse("gallery"),
        reverse("image-detail", args=[image.public_id]) + "?scope=mine",
        reverse("collections"),
        reverse("collection-detail", args=[collection.public_id]),
        reverse("profile"),
        reverse("team-list"),
        reverse("team-detail", args=[team.public_id]),
        reverse("usage"),
        reverse("team-usage", args=[team.public_id]),
        reverse("edit"),
        reverse("edit") + f"?image={square.public_id}",
        reverse("job-detail", args=[edit.public_id]),
        reverse("image-detail", args=[edited.public_id]),
        reverse("image-detail", args=[square.public_id]),
        reverse("trash"),
        reverse("preset-list"),
        reverse("preset-detail", args=[preset.public_id]),
        reverse("team-prompts", args=[team.public_id]),
        reverse("image-provenance", args=[image.public_id]),
        "/no/such/page/",
    ]
    if staff:
        signed_in.append(reverse("moderation-queue"))
    signed_out = [
        reverse("login"),
        reverse("signup"),
        reverse("gallery") + "?scope=public",
        reverse("image-detail", args=[images[1].public_id]),
        reverse("share", args=[share.token]),
        reverse("share", args=[revoked.token]),
        "/no/such/page/",
    ]
    return World(
        owner=owner,
        image=image,
        failed=failed,
        canceled=canceled,
        share_token=share.token,
        revoked_token=revoked.token,
        signed_in_pages=signed_in,
        signed_out_pages=signed_out,
    )


def sign_in(page, base: str, username: str = "ada") -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
