"""A logging filter that keeps secrets out of every log line.

Capability URLs carry their secret in the path (share links /s/<token>/, team invites
/accounts/invites/<token>/, signed image URLs /v1/files/<token>, password resets), and
Django's own loggers print paths: "Not Found: /s/<token>/" for a revoked link, the dev
server's access log, "unhandled API error on GET /v1/files/<token>". API keys (qis_…) and
Bearer credentials must never appear either. The filter rewrites the formatted message (and a
traceback's text) before any handler writes it; settings.LOGGING puts it on every handler.
"""

import datetime as dt
import json
import logging
import re

REDACTED = "[redacted]"
_END = r"[^/\s?#\"'<>]+"
_PATTERNS = [
    (re.compile(r"\bqis_[A-Za-z0-9_\-]{16,}"), "qis_" + REDACTED),  # prefixes (6) stay
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/\-]+=*", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"(/s/)" + _END), r"\1" + REDACTED),
    (re.compile(r"(/accounts/invites/)" + _END), r"\1" + REDACTED),
    (re.compile(r"(/v1/files/)" + _END), r"\1" + REDACTED),
    (re.compile(r"(/accounts/reset/[^/\s]+/)" + _END), r"\1" + REDACTED),
    (
        re.compile(r"([?&](?:token|invite|key|api_key)=)[^&\s\"'#]+", re.IGNORECASE),
        r"\1" + REDACTED,
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        # The dev server passes the request line again as the record's `request`.
        request = getattr(record, "request", None)
        if isinstance(request, str):
            record.request = redact(request)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the id of the request being
    answered (the x-request-id header the client saw) and the traceback, if any.

    Runs after RedactSecrets, so the message and traceback it writes are already clean;
    nothing else of the record (arguments, extra attributes) is written.
    """

    def format(self, record: logging.LogRecord) -> str:
        # Imported here: config.middleware imports core, which logs through this module.
        from config.middleware import current_request_id

        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)
