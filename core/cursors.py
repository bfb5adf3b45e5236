"""Keyset cursors: the position after the last row of a page, as "<microseconds>_<id>".

The microseconds are those of the row's sort time since 1970-01-01 UTC, the id its key. A
cursor is opaque to clients but not secret: any cursor of this shape is a valid position
(it only moves within what the caller may see anyway), so the API accepts exactly what
CURSOR_PATTERN (in the OpenAPI document) describes.
"""

import datetime as dt
import re

CURSOR_PATTERN = r"^[0-9]{1,17}_[0-9]{1,18}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def cursor_encode(moment: dt.datetime, pk: int) -> str:
    micros = (moment - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{max(0, micros)}_{pk}"


def cursor_decode(cursor: str) -> tuple[dt.datetime, int]:
    """(moment in UTC, id); ValueError for anything not of the cursor's shape."""
    if not isinstance(cursor, str) or not _CURSOR.match(cursor):
        raise ValueError("not a cursor")
    micros, pk = cursor.split("_")
    return _EPOCH + dt.timedelta(microseconds=int(micros)), int(pk)
