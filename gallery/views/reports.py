"""The report form shared by the image page and share pages: who reports, and filing it."""

from django.contrib import messages

from generation.models import Image, Report
from generation.moderation import ReportRefused, image_report, reporter_key_for
from generation.selectors import report_by

# How a refused report answers a page (the API has its own codes).
REFUSED_STATUS = {"rate_limited": 429, "already_reported": 409}


def reporter(request) -> tuple[object, str]:
    """(user, "") for a signed-in reporter; (None, keyed hash of the address) otherwise."""
    if request.user.is_authenticated:
        return request.user, ""
    return None, reporter_key_for(request.META.get("REMOTE_ADDR", ""))


def report_context(request, image: Image) -> dict:
    """What the report form needs: this reporter's earlier report, if any, and the reasons."""
    user, key = reporter(request)
    return {
        "my_report": report_by(user=user, reporter_key=key, image=image),
        "report_reasons": Report.Reason.choices,
    }


def report_file(request, image: Image) -> tuple[bool, int]:
    """File the POSTed report; (filed, HTTP status). Messages say what happened."""
    user, key = reporter(request)
    reason = request.POST.get("reason", "")
    if reason not in Report.Reason.values:
        messages.error(request, "Choose what is wrong with the image.")
        return False, 400
    try:
        result = image_report(
            image=image,
            reporter=user,
            reporter_key=key,
            reason=reason,
            note=request.POST.get("note", ""),
        )
    except ReportRefused as error:
        messages.error(request, error.message)
        return False, REFUSED_STATUS.get(error.code, 403)
    if result.hidden:
        messages.success(request, "Thank you. The image is hidden until a moderator looks at it.")
    else:
        messages.success(request, "Thank you. A moderator will look at the image.")
    return True, 200
