"""Moderation decisions (one service, an audit row each), the staff queue page and the admin."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generation.models import Image, ModerationDecision, Report
from generation.moderation import image_moderate, image_report
from tests.factories import make_image, make_image_row

pytestmark = pytest.mark.django_db

Moderation = Image.Moderation


def flag(image: Image, when=None) -> Image:
    """Hold an image as the checker would have."""
    Image.objects.filter(pk=image.pk).update(
        moderation_state=Moderation.FLAGGED,
        review_requested_at=when or timezone.now(),
        safety_score=0.91,
        safety_note="open_nsfw score 0.91 reached the threshold 0.70.",
    )
    image.refresh_from_db()
    return image


# --- The service -----------------------------------------------------------------------------


def test_every_decision_writes_an_audit_row(owner, staff):
    image = flag(make_image_row(owner))
    steps = [
        (Moderation.APPROVED, "looks fine"),
        (Moderation.REJECTED, "on second look, no"),
        (Moderation.CLEAR, "undo"),
    ]
    before = Moderation.FLAGGED
    for to_state, note in steps:
        decision = image_moderate(image=image, actor=staff, to_state=to_state, note=note)
        assert decision is not None
        assert (decision.from_state, decision.to_state, decision.note) == (before, to_state, note)
        assert decision.actor == staff and decision.at is not None
        assert decision.image_public_id == image.public_id
        image.refresh_from_db()
        assert image.moderation_state == to_state
        before = to_state
    assert ModerationDecision.objects.filter(image=image).count() == 3


def test_repeating_a_decision_that_changes_nothing_writes_no_row(owner, staff):
    image = make_image_row(owner)
    image_moderate(image=image, actor=staff, to_state=Moderation.APPROVED)
    assert image_moderate(image=image, actor=staff, to_state=Moderation.APPROVED) is None
    assert ModerationDecision.objects.count() == 1


def test_only_staff_or_the_system_decide(owner, teammate):
    image = flag(make_image_row(owner))
    for actor in (owner, teammate):
        with pytest.raises(PermissionDenied):
            image_moderate(image=image, actor=actor, to_state=Moderation.APPROVED)
    image.refresh_from_db()
    assert image.moderation_state == Moderation.FLAGGED
    assert not ModerationDecision.objects.exists()


def test_a_decision_settles_open_reports_and_leaves_the_queue(owner, teammate, outsider, staff):
    image = make_image_row(owner, visibility="public")
    image_report(image=image, reporter=teammate, reason="violence")
    image_report(image=image, reporter=outsider, reason="other")
    image.refresh_from_db()
    assert image.review_requested_at is not None
    image_moderate(image=image, actor=staff, to_state=Moderation.APPROVED, note="fine")
    image.refresh_from_db()
    assert image.review_requested_at is None
    assert not Report.objects.filter(resolved=False).exists()
    assert all(r.resolved_at for r in Report.objects.all())


def test_the_audit_log_outlives_the_image(owner, staff):
    image = flag(make_image_row(owner))
    image_moderate(image=image, actor=staff, to_state=Moderation.REJECTED)
    public_id = image.public_id
    image.delete()
    row = ModerationDecision.objects.get()
    assert row.image is None and row.image_public_id == public_id


# --- The staff queue -------------------------------------------------------------------------


def test_the_queue_is_staff_only(owner_client, teammate_client, anonymous_client, owner):
    flag(make_image_row(owner))
    for client in (owner_client, teammate_client, anonymous_client):
        assert client.get(reverse("moderation-queue")).status_code == 404
    image = Image.objects.get()
    for client in (owner_client, teammate_client, anonymous_client):
        response = client.post(
            reverse("moderation-decide", args=[image.public_id]), {"decision": "approve"}
        )
        assert response.status_code == 404
    image.refresh_from_db()
    assert image.moderation_state == Moderation.FLAGGED


def _queue_ids(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="queue-item" id="item-([0-9a-f-]{36})"', response.content.decode())


def test_the_queue_lists_flagged_and_reported_oldest_first(owner, teammate, staff_client):
    now = timezone.now()
    newer = flag(make_image_row(owner, prompt="newer flagged fox"), when=now)
    older = flag(
        make_image_row(owner, prompt="older flagged fox"), when=now - timezone.timedelta(hours=2)
    )
    reported = make_image_row(owner, visibility="team", prompt="reported fox")
    image_report(image=reported, reporter=teammate, reason="hate", note="slur on the sign")
    clear = make_image_row(owner, prompt="nothing wrong")
    response = staff_client.get(reverse("moderation-queue"))
    ids = _queue_ids(response)
    assert ids == [str(older.public_id), str(newer.public_id), str(reported.public_id)]
    assert str(clear.public_id) not in ids
    page = response.content.decode()
    assert "0.91" in page  # the score
    assert "older flagged fox" in page  # the prompt
    assert "Hate or harassment" in page and "slur on the sign" in page  # the report
    assert "3 images waiting" in page


def test_the_queue_documents_its_shortcuts_and_has_no_inline_script(staff_client, owner):
    flag(make_image_row(owner))
    page = staff_client.get(reverse("moderation-queue")).content.decode()
    for text in ("<kbd>a</kbd>", "<kbd>r</kbd>", "<kbd>j</kbd>", "<kbd>k</kbd>", "Next image"):
        assert text in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "js/moderation.js" in page


def test_buttons_decide_without_javascript(owner, staff, staff_client):
    image = flag(make_image_row(owner))
    response = staff_client.post(
        reverse("moderation-decide", args=[image.public_id]),
        {"decision": "approve", "note": "a painting of a statue"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("moderation-queue")
    image.refresh_from_db()
    assert image.moderation_state == Moderation.APPROVED
    decision = ModerationDecision.objects.get()
    assert (decision.actor, decision.via, decision.note) == (
        staff,
        ModerationDecision.Via.QUEUE,
        "a painting of a statue",
    )
    assert _queue_ids(staff_client.get(reverse("moderation-queue"))) == []


def test_the_script_gets_json(owner, staff_client):
    image = flag(make_image_row(owner))
    response = staff_client.post(
        reverse("moderation-decide", args=[image.public_id]),
        {"decision": "reject"},
        HTTP_ACCEPT="application/json",
    )
    assert response.json() == {"id": str(image.public_id), "state": "rejected", "changed": True}
    bad = staff_client.post(
        reverse("moderation-decide", args=[image.public_id]),
        {"decision": "delete"},
        HTTP_ACCEPT="application/json",
    )
    assert bad.status_code == 400


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_queue_query_count_does_not_grow_with_the_queue(
    owner, teammate, outsider, staff_client, settings
):
    def add(n):
        for i in range(n):
            image = flag(make_image_row(owner, visibility="public", prompt=f"held {i}"))
            image_report(image=image, reporter=teammate, reason="other")
            image_report(image=image, reporter=outsider, reason="sexual")

    settings.MODERATION_AUTO_HIDE_REPORTS = 0
    add(2)
    few = _count_queries(staff_client, reverse("moderation-queue"))
    add(6)
    many = _count_queries(staff_client, reverse("moderation-queue"))
    assert few == many
    assert many <= 10


# --- The admin ---------------------------------------------------------------------------------


def test_admin_changelist_query_count_does_not_grow(owner, teammate, staff_client):
    url = reverse("admin:generation_image_changelist")
    for i in range(2):
        image = flag(make_image_row(owner, visibility="public", prompt=f"a {i}"))
        image_report(image=image, reporter=teammate, reason="other")
    few = _count_queries(staff_client, url)
    for i in range(6):
        image = flag(make_image_row(teammate, prompt=f"b {i}"))
    many = _count_queries(staff_client, url)
    assert few == many


def test_admin_list_has_previews_filters_and_report_counts(owner, teammate, outsider, staff_client):
    held = flag(make_image_row(owner, visibility="public"))
    image_report(image=held, reporter=teammate, reason="other")
    make_image(outsider)  # a second user and team; scored by the checker (the pipeline)
    response = staff_client.get(reverse("admin:generation_image_changelist"))
    page = response.content.decode()
    assert 'class="mod-preview held"' in page
    assert reverse("image-thumbnail", args=[held.public_id]) in page
    assert "css/moderation-admin.css" in page
    for title in ("By moderation state", "By safety score", "By user", "By team", "By created at"):
        assert title in page
    high = staff_client.get(reverse("admin:generation_image_changelist"), {"score": "top"})
    assert high.context["cl"].result_count == 1
    low = staff_client.get(reverse("admin:generation_image_changelist"), {"score": "low"})
    assert low.context["cl"].result_count == 1  # the outsider's image, scored by the checker


@pytest.mark.parametrize(
    ("action", "state"),
    [("approve", "approved"), ("reject", "rejected"), ("reset_to_clear", "clear")],
)
def test_admin_bulk_actions_go_through_the_service(action, state, owner, staff, staff_client):
    images = [flag(make_image_row(owner)) for _ in range(3)]
    response = staff_client.post(
        reverse("admin:generation_image_changelist"),
        {
            "action": action,
            "_selected_action": [image.pk for image in images],
            "note": "batch of the day",
            "index": 0,
        },
    )
    assert response.status_code == 302
    assert set(Image.objects.values_list("moderation_state", flat=True)) == {state}
    decisions = ModerationDecision.objects.all()
    assert decisions.count() == 3
    assert {(d.actor_id, d.via, d.from_state, d.to_state, d.note) for d in decisions} == {
        (staff.pk, "admin", "flagged", state, "batch of the day")
    }


def test_admin_change_page_shows_reports_and_the_audit_log(owner, teammate, staff, staff_client):
    image = make_image_row(owner, visibility="team")
    image_report(image=image, reporter=teammate, reason="rights", note="my photo")
    image_moderate(image=image, actor=staff, to_state=Moderation.REJECTED, note="stolen photo")
    page = staff_client.get(reverse("admin:generation_image_change", args=[image.pk]))
    text = page.content.decode()
    assert "my photo" in text and "stolen photo" in text
    assert "Audit log" in text or "audit log" in text
