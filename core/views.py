"""The branded error pages (400, 403, 404, 410, 500): wired in config/urls.py; CSRF failures
use templates/403_csrf.html, which Django renders in every mode once it exists."""

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def _message(exception) -> str:
    """Our own Http404/PermissionDenied messages are written for people ("No such image.");
    Django's resolver puts a dict of URL patterns there, which is never shown."""
    if exception is not None and exception.args and isinstance(exception.args[0], str):
        return exception.args[0]
    return ""


def bad_request(request, exception=None):
    return render(request, "400.html", status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", {"message": _message(exception)}, status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", {"message": _message(exception)}, status=404)


def gone(request, exception):
    """410: `exception` is a core.http.Gone."""
    context = {"reason": exception.reason, "message": exception.message}
    return render(request, "410.html", context, status=410)


def server_error(request):
    """No context processors and no database: whatever broke must not break this page too."""
    body = loader.get_template("500.html").render(
        {"request_id": getattr(request, "request_id", "")}
    )
    return HttpResponseServerError(body)
