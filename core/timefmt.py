"""Showing times to people: in the configured zone, and never an exception.

A stored time can lie at the very edge of what `datetime` holds (year 1 or 9999); converting it to a
zone east or west of UTC would overflow. `format_local` then falls back to UTC, so no page, alert or
report fails because of one odd timestamp.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

DEFAULT_FORMAT = "%Y-%m-%d %H:%M"


def format_local(at: datetime | None, tz: ZoneInfo | str, fmt: str = DEFAULT_FORMAT) -> str:
    """`at` in zone `tz`, formatted; "" for None. Times the zone can't hold are shown in UTC."""
    if at is None:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    try:
        local = at.astimezone(zone)
    except (OverflowError, ValueError):
        try:
            local = at.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            local = at
        return _strftime(local, fmt) + " UTC"
    return _strftime(local, fmt)


def _strftime(at: datetime, fmt: str) -> str:
    """strftime with the year always four digits (`%Y` gives "999" for year 999 on glibc)."""
    return at.strftime(fmt.replace("%Y", f"{at.year:04d}"))
