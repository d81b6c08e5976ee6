"""Time for the demo sample: day 0 starts at BASE_TIME (Beijing time), 30 days of backlog.

Weekday/weekend rhythm follows the real 2026 calendar of the base date (元旦 holiday on days
0-2, Sunday 4 Jan is a make-up working day); the demo collector may shift every timestamp.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
BASE_TIME = datetime(2026, 1, 1, tzinfo=CST)
DAYS = 30
HOLIDAYS = (0, 1, 2)
MAKEUP_WORKDAYS = (3,)

# Relative posting intensity per hour of day (index 0 = 00:00-00:59).
WORKDAY_HOURS = (0.3, 0.1, 0.05, 0.03, 0.03, 0.1, 0.4, 1.5, 3.5, 5.0, 5.0, 5.5,
                 4.5, 3.0, 4.0, 4.5, 4.5, 4.0, 3.0, 3.5, 5.0, 5.0, 3.5, 1.5)
QUIET_HOURS = (0.5, 0.2, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.5, 2.5, 3.0, 3.0,
               2.5, 2.0, 2.0, 2.5, 2.5, 2.5, 2.5, 3.0, 3.5, 3.5, 2.5, 1.2)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """The moment `hour:minute:second` on day `day` (day 0 = BASE_TIME's date)."""
    return BASE_TIME + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def day_of(moment: datetime) -> int:
    return (moment - BASE_TIME) // timedelta(days=1)


def is_quiet_day(day: int) -> bool:
    """Weekend or public holiday (make-up working days count as working days)."""
    if day in MAKEUP_WORKDAYS:
        return False
    return day in HOLIDAYS or at(day).weekday() >= 5


def quiet_days(days: int = DAYS) -> list[int]:
    return [d for d in range(days) if is_quiet_day(d)]


def sample_time(rng: random.Random, day: int) -> datetime:
    """A moment on `day` following the daily rhythm."""
    weights = QUIET_HOURS if is_quiet_day(day) else WORKDAY_HOURS
    hour = rng.choices(range(24), weights=weights)[0]
    return at(day, hour, rng.randrange(60), rng.randrange(60))


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A uniformly random whole second in [start, end)."""
    span = max(1, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randrange(span))


def iso(moment: datetime) -> str:
    """ISO 8601 with the +08:00 offset and whole seconds."""
    return moment.astimezone(CST).isoformat(timespec="seconds")
