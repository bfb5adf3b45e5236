"""Reports: a button on every visible image (detail, share page, API), one per reporter,
throttled; they feed the queue, and enough of them hide the image until a moderator decides."""

import pytest
from django.urls import reverse

from gallery import services
from generation.models import Image, ModerationDecision, Report
from generation.moderation import image_moderate, image_report
from tests.apiclient import assert_envelope, bearer, post_json
from tests.gallery.helpers import grid

pytestmark = pytest.mark.django_db

Moderation = Image.Moderation


def _report(client, image, reason="violence", **extra):
    return client.post(
        reverse("image-report", args=[image.public_id]),
        {"reason": reason, "note": "blood everywhere", **extra},
    )


# --- Pages ---------------------------------------------------------------------------------


def test_report_button_on_the_detail_page_of_others_images(
    owner, owner_client, teammate_client, image_of
):
    image = image_of(owner, "team")
    page = teammate_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "Report this image" in page
    assert reverse("image-report", args=[image.public_id]) in page
    assert "Violence or gore" in page  # the reason choices
    own = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "Report this image" not in own


def test_a_teammate_reports_from_the_detail_page(owner, teammate, teammate_client, image_of):
    image = image_of(owner, "team")
    response = _report(teammate_client, image)
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reporter, report.reason, report.note, report.resolved) == (
        teammate,
        "violence",
        "blood everywhere",
        False,
    )
    image.refresh_from_db()
    assert image.moderation_state == Moderation.CLEAR  # one report hides nothing
    assert image.review_requested_at is not None  # but it is in the queue
    page = teammate_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "You reported this image" in page and "Report this image" not in page


def test_a_user_cannot_report_the_same_image_twice(owner, teammate_client, image_of):
    image = image_of(owner, "team")
    _report(teammate_client, image)
    response = _report(teammate_client, image, reason="other")
    assert response.status_code == 302
    assert Report.objects.count() == 1
    followed = teammate_client.get(response["Location"]).content.decode()
    assert "already reported" in followed


def test_reporting_needs_sight_of_the_image(owner, outsider_client, owner_client, image_of):
    private = image_of(owner, "private")
    assert _report(outsider_client, private).status_code == 404
    assert not Report.objects.exists()
    # The owner cannot report their own image.
    _report(owner_client, private)
    assert not Report.objects.exists()


def test_report_needs_a_reason(owner, teammate_client, image_of):
    image = image_of(owner, "team")
    _report(teammate_client, image, reason="boring")
    assert not Report.objects.exists()


def test_anonymous_visitor_reports_from_a_share_page(owner, anonymous_client, image_of):
    image = image_of(owner, "private")
    share = services.share_create(user=owner, image=image)
    page = anonymous_client.get(reverse("share", args=[share.token])).content.decode()
    assert "Report this image" in page
    url = reverse("share-report", args=[share.token])
    response = anonymous_client.post(url, {"reason": "sexual"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200 and b"Your report has been sent" in response.content
    report = Report.objects.get()
    assert report.reporter is None and len(report.reporter_key) == 64
    assert "203.0.113.9" not in report.reporter_key  # a keyed hash, never the address
    again = anonymous_client.post(url, {"reason": "other"}, REMOTE_ADDR="203.0.113.9")
    assert b"already" in again.content
    assert Report.objects.count() == 1


def test_an_image_of_a_shared_collection_can_be_reported(owner, anonymous_client, image_of):
    inside, outside = image_of(owner), image_of(owner)
    collection = services.collection_create(user=owner, name="Shared")
    services.collection_add_images(user=owner, collection=collection, image_ids=[inside.public_id])
    share = services.share_create(user=owner, collection=collection)
    url = reverse("share-report", args=[share.token])
    form = anonymous_client.get(url, {"image": inside.public_id})
    assert form.status_code == 200 and b"What is wrong with it?" in form.content
    assert anonymous_client.get(url, {"image": outside.public_id}).status_code == 404
    assert anonymous_client.get(url).status_code == 404
    response = anonymous_client.post(url, {"image": inside.public_id, "reason": "hate"})
    assert response.status_code == 200
    assert Report.objects.get().image == inside
    refused = anonymous_client.post(url, {"image": outside.public_id, "reason": "hate"})
    assert refused.status_code == 404
    assert Report.objects.count() == 1


def test_a_dead_share_link_takes_no_reports(owner, anonymous_client, image_of):
    image = image_of(owner)
    share = services.share_create(user=owner, image=image)
    services.share_revoke(user=owner, share=share)
    url = reverse("share-report", args=[share.token])
    assert anonymous_client.post(url, {"reason": "other"}).status_code == 410


def test_anonymous_reports_are_throttled_by_address(owner, anonymous_client, image_of, settings):
    settings.MODERATION_ANONYMOUS_REPORTS_PER_HOUR = 2
    links = [services.share_create(user=owner, image=image_of(owner)) for _ in range(3)]
    statuses = [
        anonymous_client.post(
            reverse("share-report", args=[link.token]), {"reason": "other"}, REMOTE_ADDR="10.1.1.1"
        ).status_code
        for link in links
    ]
    assert statuses == [200, 200, 429]
    # Another address is not held back.
    other = anonymous_client.post(
        reverse("share-report", args=[links[2].token]), {"reason": "other"}, REMOTE_ADDR="10.1.1.2"
    )
    assert other.status_code == 200


# --- Auto-hide and the queue ---------------------------------------------------------------


def test_n_reports_hide_the_image_until_a_moderator_decides(
    owner, teammate, outsider, staff, teammate_client, image_of, settings
):
    settings.MODERATION_AUTO_HIDE_REPORTS = 2
    image = image_of(owner, "public")
    first = image_report(image=image, reporter=teammate, reason="violence")
    assert not first.hidden
    second = image_report(image=image, reporter=outsider, reason="violence")
    assert second.hidden
    image.refresh_from_db()
    assert image.moderation_state == Moderation.REPORTED
    assert str(image.public_id) not in grid(teammate_client, scope="public")
    assert teammate_client.get(reverse("image-detail", args=[image.public_id])).status_code == 404
    decision = ModerationDecision.objects.get()
    assert (decision.actor, decision.via, decision.from_state, decision.to_state) == (
        None,
        "reports",
        "clear",
        "reported",
    )
    assert "after 2 reports" in decision.note
    # Approval shows it again and settles the reports; a new report starts the count afresh.
    image_moderate(image=image, actor=staff, to_state=Moderation.APPROVED)
    assert str(image.public_id) in grid(teammate_client, scope="public")
    assert not Report.objects.filter(resolved=False).exists()


def test_anonymous_reports_never_hide_an_image_by_themselves(
    owner, anonymous_client, image_of, settings
):
    settings.MODERATION_AUTO_HIDE_REPORTS = 1
    image = image_of(owner, "public")
    share = services.share_create(user=owner, image=image)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        anonymous_client.post(
            reverse("share-report", args=[share.token]), {"reason": "other"}, REMOTE_ADDR=address
        )
    image.refresh_from_db()
    assert Report.objects.count() == 3
    assert image.moderation_state == Moderation.CLEAR
    assert image.review_requested_at is not None  # they still reach the queue


def test_auto_hide_can_be_turned_off(owner, teammate, image_of, settings):
    settings.MODERATION_AUTO_HIDE_REPORTS = 0
    image = image_of(owner, "team")
    image_report(image=image, reporter=teammate, reason="other")
    image.refresh_from_db()
    assert image.moderation_state == Moderation.CLEAR


def test_reports_enter_the_queue(owner, teammate, staff_client, image_of):
    image = image_of(owner, "team", prompt="reported meadow")
    image_report(image=image, reporter=teammate, reason="rights", note="my painting")
    page = staff_client.get(reverse("moderation-queue")).content.decode()
    assert f'id="item-{image.public_id}"' in page
    assert "my painting" in page and "Copyright, trademark or likeness" in page


# --- API -----------------------------------------------------------------------------------


def test_api_report(owner, teammate, client, image_of):
    image = image_of(owner, "team")
    response = post_json(
        client,
        f"/v1/images/{image.public_id}/report",
        {"reason": "hate", "note": "a slur"},
        headers=bearer(teammate),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["image_id"] == str(image.public_id) and body["reason"] == "hate"
    assert body["image_hidden"] is False
    again = post_json(
        client,
        f"/v1/images/{image.public_id}/report",
        {"reason": "hate"},
        headers=bearer(teammate),
    )
    assert_envelope(again, 409, code="already_reported")


def test_api_report_ownership(owner, outsider, client, image_of):
    private = image_of(owner, "private")
    path = f"/v1/images/{private.public_id}/report"
    assert_envelope(post_json(client, path, {"reason": "other"}, headers=bearer(outsider)), 404)
    assert_envelope(
        post_json(client, path, {"reason": "other"}, headers=bearer(owner)), 403, code="own_image"
    )
    assert_envelope(post_json(client, path, {"reason": "other"}), 401)
    assert_envelope(
        post_json(client, path, {"reason": "nope"}, headers=bearer(owner)),
        400,
        code="invalid_parameter",
        param="reason",
    )
    assert not Report.objects.exists()


def test_api_report_is_throttled(owner, teammate, client, image_of, settings):
    settings.MODERATION_REPORTS_PER_HOUR = 1
    first, second = image_of(owner, "team"), image_of(owner, "team")
    headers = bearer(teammate)
    ok = post_json(
        client, f"/v1/images/{first.public_id}/report", {"reason": "other"}, headers=headers
    )
    assert ok.status_code == 201
    limited = post_json(
        client, f"/v1/images/{second.public_id}/report", {"reason": "other"}, headers=headers
    )
    assert_envelope(limited, 429, code="rate_limited")
    assert 3500 <= int(limited["Retry-After"]) <= 3600


def test_api_report_says_when_it_hid_the_image(owner, teammate, client, image_of, settings):
    settings.MODERATION_AUTO_HIDE_REPORTS = 1
    image = image_of(owner, "team")
    response = post_json(
        client,
        f"/v1/images/{image.public_id}/report",
        {"reason": "other"},
        headers=bearer(teammate),
    )
    assert response.json()["image_hidden"] is True
    assert client.get(f"/v1/images/{image.public_id}", **bearer(teammate)).status_code == 404
