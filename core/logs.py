"""Logging: one line per event, `time level component message`, messages in Chinese.

Log lines carry attacker-controlled text (file names, record fields, error messages quoting them), so
the formatter keeps every message on one line: line breaks and other control characters are written
as \\xNN escapes and cannot forge a second log line, and personal data in it is masked. A traceback,
when there is one, follows as usual.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from core.text import printable

FORMAT = "%(asctime)s %(levelname)-5s %(name)s %(message)s"
MAX_MESSAGE = 4000


class OneLineFormatter(logging.Formatter):
    """One line per record; with `redact`, personal data in the message is masked as well (logs are
    read by IT staff who may not see it: core.masking.redact, without the bare-digit-run rule, so
    counts and ids in log lines stay readable)."""

    def __init__(self, *args: Any, redact: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        msg, args = record.msg, record.args
        try:
            text = printable(record.getMessage(), MAX_MESSAGE)
            if self.redact:
                from core.masking import redact

                text = redact(text, digit_runs=False)
            record.msg, record.args = text, None
        except Exception:  # a message that cannot be formatted must still be logged
            record.msg, record.args = printable(f"{msg!r} {args!r}", MAX_MESSAGE), None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = msg, args


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S", redact=True))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "waitress", "jieba", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances reached" is the normal back-pressure of a busy
    # job, not news; job failures are logged by scheduler.py's own listener.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
