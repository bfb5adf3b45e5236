"""Writes for moderation: the prompt blocklist, moderators' decisions, and reports.

`image_moderate` is the one function that changes an image's moderation state after it was
stored; the admin, the staff queue and automatic hiding after reports all call it, and it
writes the audit row (ModerationDecision) in the same transaction.
"""

import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from generation.models import BlockedTerm, Image, ModerationDecision, Report

logger = logging.getLogger("qwen.moderation")

Moderation = Image.Moderation
# Decisions only staff make; they settle the image's open reports and take it off the queue.
STAFF_DECISIONS = (Moderation.APPROVED, Moderation.REJECTED, Moderation.CLEAR)
# States that put an image in the queue.
HELD = (Moderation.FLAGGED, Moderation.REPORTED)


# --- Prompt blocklist ----------------------------------------------------------------------


class PromptBlocked(Exception):
    """The prompt contains a blocked term. `message` says which, for the person who wrote it."""

    def __init__(self, *, matched: str) -> None:
        self.matched = matched
        self.message = (
            f"The prompt contains “{matched}”, which is not allowed on this portal. "
            "Remove it and try again."
        )
        super().__init__(self.message)


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a renderer
# shows as nothing, so they can sit inside a blocked word unseen (U+034F COMBINING GRAPHEME
# JOINER, U+FE0F VARIATION SELECTOR-16, U+180B MONGOLIAN FREE VARIATION SELECTOR, U+3164
# HANGUL FILLER …). unicodedata has no such property, hence the table.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORABLE = re.compile(
    "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _DEFAULT_IGNORABLE) + "]"
)


def _invisible(ch: str) -> bool:
    # Format characters (Cf) beyond the table, e.g. ones a newer Unicode adds.
    return unicodedata.category(ch) == "Cf"


def prompt_normalise(text: str, *, fold_case: bool = True) -> str:
    """What the blocklist compares: NFKC (full-width letters, ligatures and other look-alikes
    folded into plain ones), default-ignorable and format characters removed (they would
    split a word invisibly), case-folded (ß/ss, ﬁ/fi, Σ/σ/ς alike), then NFKC again since
    folding can undo it. Terms go through the same function."""
    text = _IGNORABLE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    if fold_case:
        text = unicodedata.normalize("NFKC", text.casefold())
    text = _IGNORABLE.sub("", text)
    return "".join(ch for ch in text if not _invisible(ch))


def _unspaced(ch: str) -> bool:
    """Scripts written without spaces between words: there, "whole word" means substring."""
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"))


# Every submission reads the blocklist: constant SQL, because the ORM spends ~0.4 ms composing
# this query each time and the database ~0.02 ms running it (bench/submit.py). Ordered like
# BlockedTerm.Meta, so the term named in the refusal stays the same.
_ACTIVE_TERMS = (
    f"SELECT term, kind FROM {BlockedTerm._meta.db_table} "  # noqa: S608 (a model's table)
    "WHERE active = %s ORDER BY term, id"
)


@functools.lru_cache(maxsize=2048)
def _compiled(term: str, kind: str) -> re.Pattern | None:
    if kind == BlockedTerm.Kind.PATTERN:
        try:
            # Run against the normalised (case-folded) prompt; IGNORECASE keeps patterns
            # written with capitals working.
            return re.compile(term, re.IGNORECASE)
        except re.error:
            logger.warning("blocked pattern %r is not a valid regular expression", term)
            return None
    words = prompt_normalise(term).split()
    if not words:
        return None
    body = r"\s+".join(re.escape(word) for word in words)
    if not any(_unspaced(ch) for ch in term):
        body = rf"(?<!\w){body}(?!\w)"
    return re.compile(body, re.IGNORECASE)


def prompt_check(*, prompt: str) -> None:
    """Raise PromptBlocked if the prompt contains an active blocked term.

    Only the prompt is checked: negative prompts name what an image must not show, so they
    legitimately contain the very words a blocklist holds.
    """
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_TERMS, [True])
        terms = cursor.fetchall()
    if not terms:
        return
    # The full normalisation decides; the same text without case-folding, searched first,
    # quotes the words back as the person wrote them ("GORE", not "gore").
    folded, spelled = prompt_normalise(prompt), prompt_normalise(prompt, fold_case=False)
    for term, kind in terms:
        pattern = _compiled(term, kind)
        match = pattern and (pattern.search(spelled) or pattern.search(folded))
        if match:
            raise PromptBlocked(matched=match.group(0).strip() or term)


# --- Decisions -----------------------------------------------------------------------------


def image_moderate(
    *,
    image: Image,
    actor,
    to_state: str,
    note: str = "",
    via: str = ModerationDecision.Via.SYSTEM,
) -> ModerationDecision | None:
    """Move the image to `to_state` and write the audit row; None when nothing changed.

    `actor` is a staff user, or None for the system (automatic hiding). Approving, rejecting
    and resetting to clear settle the image's open reports and take it off the queue;
    flagging and reporting put it on. Repeating a decision that changes nothing writes no
    row. The state moves with a conditional UPDATE, so two moderators racing on one image
    both get a row with the state each actually saw.
    """
    if to_state not in Moderation.values:
        raise ValueError(f"Unknown moderation state {to_state!r}.")
    if actor is not None and not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only staff can moderate images.")
    now = timezone.now()
    with transaction.atomic():
        for _ in range(5):
            current = (
                Image.objects.filter(pk=image.pk)
                .values("moderation_state", "review_requested_at")
                .first()
            )
            if current is None:
                raise Image.DoesNotExist("The image was deleted.")
            from_state = current["moderation_state"]
            staff_decision = to_state in STAFF_DECISIONS
            open_reports = Report.objects.filter(image_id=image.pk, resolved=False)
            if from_state == to_state and (
                not staff_decision
                or (current["review_requested_at"] is None and not open_reports.exists())
            ):
                image.moderation_state = from_state
                return None
            # Staff decisions take the image off the queue; holding it keeps its place.
            review = None if staff_decision else (current["review_requested_at"] or now)
            updated = Image.objects.filter(pk=image.pk, moderation_state=from_state).update(
                moderation_state=to_state, review_requested_at=review
            )
            if updated:
                break
        else:
            raise RuntimeError("The image's state kept changing; try again.")
        if staff_decision:
            open_reports.update(resolved=True, resolved_at=now)
        decision = ModerationDecision.objects.create(
            image=image,
            image_public_id=image.public_id,
            actor=actor,
            via=via,
            from_state=from_state,
            to_state=to_state,
            note=(note or "").strip()[:2000],
        )
    image.moderation_state, image.review_requested_at = to_state, review
    logger.info(
        "moderation image=%s %s->%s via=%s actor=%s",
        image.public_id,
        from_state,
        to_state,
        via,
        actor.pk if actor is not None else "system",
    )
    return decision


def images_moderate(
    *, images, actor, to_state: str, note: str = "", via: str = ModerationDecision.Via.ADMIN
) -> int:
    """image_moderate for each image; returns how many changed."""
    return sum(
        image_moderate(image=image, actor=actor, to_state=to_state, note=note, via=via) is not None
        for image in images
    )


# --- Reports -------------------------------------------------------------------------------


class ReportRefused(Exception):
    """The report cannot be filed. `code` for the API: own_image, already_reported,
    rate_limited (then `retry_after` seconds)."""

    def __init__(self, message: str, *, code: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


@dataclass
class ReportResult:
    report: Report
    hidden: bool  # the report made the image hidden (it reached the auto-hide threshold)


def reporter_key_for(address: str) -> str:
    """A keyed hash of an anonymous reporter's address: tells reporters apart, stores no IP."""
    secret = settings.SECRET_KEY.encode()
    return hmac.new(secret, f"report:{address}".encode(), hashlib.sha256).hexdigest()


def image_report(
    *,
    image: Image,
    reporter,
    reason: str,
    note: str = "",
    reporter_key: str = "",
) -> ReportResult:
    """File a report on an image the reporter may see (the caller checked that).

    `reporter` is the signed-in user, or None with `reporter_key` (reporter_key_for(ip)) for
    an anonymous visitor of a share page. One report per reporter and image; a per-hour
    limit per reporter. Reports from signed-in users count towards automatic hiding:
    MODERATION_AUTO_HIDE_REPORTS open ones hide a visible image until a moderator decides.
    Anonymous reports reach the queue but never hide an image by themselves (anyone can
    make many addresses).
    """
    if reason not in Report.Reason.values:
        raise ValueError(f"Reason must be one of {', '.join(Report.Reason.values)}.")
    anonymous = reporter is None or not reporter.is_authenticated
    if anonymous and not reporter_key:
        raise ValueError("An anonymous report needs a reporter key.")
    if not anonymous and image.user_id == reporter.pk:
        raise ReportRefused("You cannot report your own image.", code="own_image")
    mine = (
        Report.objects.filter(reporter__isnull=True, reporter_key=reporter_key)
        if anonymous
        else Report.objects.filter(reporter=reporter)
    )
    if mine.filter(image=image).exists():
        raise ReportRefused("You have already reported this image.", code="already_reported")
    limit = (
        settings.MODERATION_ANONYMOUS_REPORTS_PER_HOUR
        if anonymous
        else settings.MODERATION_REPORTS_PER_HOUR
    )
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    recent = list(mine.filter(created_at__gte=hour_ago).order_by("created_at")[:limit])
    if len(recent) >= limit:
        wait = recent[0].created_at + dt.timedelta(hours=1) - timezone.now()
        raise ReportRefused(
            "You have sent many reports in the last hour; try again later.",
            code="rate_limited",
            retry_after=max(1, int(wait.total_seconds())),
        )
    try:
        with transaction.atomic():
            report = Report.objects.create(
                image=image,
                reporter=None if anonymous else reporter,
                reporter_key=reporter_key if anonymous else "",
                reason=reason,
                note=(note or "").replace("\x00", "").strip()[:1000],  # PostgreSQL refuses NUL
            )
            Image.objects.filter(pk=image.pk, review_requested_at__isnull=True).update(
                review_requested_at=report.created_at
            )
    except IntegrityError:  # the same reporter, twice at once
        raise ReportRefused(
            "You have already reported this image.", code="already_reported"
        ) from None
    hidden = False
    threshold = settings.MODERATION_AUTO_HIDE_REPORTS
    if not anonymous and threshold > 0:
        image.refresh_from_db(fields=["moderation_state", "review_requested_at"])
        if image.moderation_state in Image.SHOWABLE:
            count = Report.objects.filter(
                image=image, resolved=False, reporter__isnull=False
            ).count()
            if count >= threshold:
                hidden = (
                    image_moderate(
                        image=image,
                        actor=None,
                        to_state=Moderation.REPORTED,
                        note=f"Hidden automatically after {count} reports.",
                        via=ModerationDecision.Via.REPORTS,
                    )
                    is not None
                )
    return ReportResult(report=report, hidden=hidden)
