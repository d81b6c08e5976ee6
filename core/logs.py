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
# The search clusters' client libraries log every request at INFO, and every failed attempt (a TLS
# handshake refused, a node gone) with its traceback; the store raises one clear error for what it
# could not do (store/search/client.py), so their records stay at WARNING and up, one line each.
CLUSTER_CLIENT_LOGGERS = ("elastic_transport", "elasticsearch", "opensearch")


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


class NoClientTracebacks(logging.Filter):
    """A record of a search-cluster client library keeps its exception as a short note at the end
    of its line instead of a traceback (the error that matters is raised to the store's caller)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.split(".")[0] in CLUSTER_CLIENT_LOGGERS:
            exc = record.exc_info[1]
            note = f"{type(exc).__name__}：{printable(exc, 300)}" if exc is not None else ""
            record.msg, record.args = f"{record.getMessage()}（{note}）" if note else record.getMessage(), None
            record.exc_info = record.exc_text = None
        return True


class NoHandledClusterAnswers(logging.Filter):
    """opensearch-py logs every answer that is not a success as a WARNING, 404 and 409 included. The
    store asks for documents that may not exist (a checkpoint, a lease, a meta document) and writes
    with optimistic concurrency, so both are answers it expects and handles (`NotFound`, `Conflict`
    in store/search/client.py): they are not news in the service log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] == "opensearch" and isinstance(record.args, tuple) and len(record.args) >= 3:
            return record.args[2] not in (404, 409)
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S", redact=True))
    handler.addFilter(NoHandledClusterAnswers())
    handler.addFilter(NoClientTracebacks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "waitress", "jieba", "urllib3", "werkzeug", *CLUSTER_CLIENT_LOGGERS):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances reached" is the normal back-pressure of a busy
    # job, not news; job failures are logged by scheduler.py's own listener.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
