"""/healthz: database, queue and storage, for load balancers and people."""

from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from generation import selectors


@never_cache
@require_GET
def healthz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from huey.contrib.djhuey import HUEY

        checks["queue"] = "ok"
        checks["queue_depth"] = HUEY.pending_count()
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
    try:
        default_storage.exists("healthz-probe")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for k, v in checks.items() if k != "queue_depth")
    body = {"status": "ok" if healthy else "error", **checks}
    if checks["database"] == "ok":
        # Which consumers serve which backends, and what waits for them. Jobs waiting for a
        # capability nobody serves are a warning (the web itself is healthy).
        try:
            queues = selectors.queue_overview()
        except Exception as exc:
            body["queues"] = f"error: {type(exc).__name__}"
        else:
            body["queues"] = {entry.pop("queue"): entry for entry in queues}
            body["warnings"] = [
                f"{info['queued_jobs']} job(s) for {', '.join(info['backends'])} wait on the "
                f"{name} queue and no consumer serves it"
                for name, info in body["queues"].items()
                if info["queued_jobs"] and not info["consumers"]
            ]
    return JsonResponse(body, status=200 if healthy else 503)
