"""CSV export of ledger rows, streamed in bounded memory."""

import csv
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import StreamingHttpResponse

from usage.models import LedgerEntry, amount

COLUMNS = (
    "started_at",
    "settled_at",
    "entry_id",
    "kind",
    "status",
    "user",
    "team",
    "api_key",
    "job_id",
    "attempt",
    "image_index",
    "backend",
    "model",
    "width",
    "height",
    "megapixels",
    "steps",
    "cost",
    "currency",
    "estimated",
    "error_code",
    "storage_bytes",
    "reason",
)
# A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _row(entry: LedgerEntry) -> list:
    return [
        entry.started_at.isoformat(),
        entry.settled_at.isoformat() if entry.settled_at else "",
        str(entry.public_id),
        entry.kind,
        entry.status,
        _text(entry.user.get_username()) if entry.user_id else "",
        _text(entry.team.name) if entry.team_id else "",
        _text(f"{entry.api_key.name} ({entry.api_key.prefix})") if entry.api_key_id else "",
        str(entry.job_ref) if entry.job_ref else "",
        entry.attempt,
        entry.index,
        entry.backend,
        _text(entry.model),
        entry.width,
        entry.height,
        f"{entry.megapixels:.6f}",
        entry.steps,
        f"{amount(entry.cost_micros)}",
        settings.USAGE_CURRENCY,
        "yes" if entry.estimated else "no",
        entry.error_code,
        entry.storage_bytes,
        _text(entry.reason),
    ]


def csv_lines(entries: Iterable[LedgerEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for entry in entries:
        yield writer.writerow(_row(entry))


def csv_response(entries: Iterable[LedgerEntry], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
