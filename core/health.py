"""Honest health: what each job and each source last did, kept in memory by the running service.

Every job (collect, analyze, rules, deliver, refresh) and every collector reports `success(name)` or
`failure(name, error)`. `report()` says, per name, when it last succeeded, its last error and how
many times in a row it has failed; a name that failed `degraded_after` times in a row, or a job that
has been running far too long, makes the overall status "degraded" (HTTP 503 on /healthz).
/healthz needs no sign-in: error texts are kept on one line and with personal data masked.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from core.masking import redact
from core.text import printable

STUCK_AFTER = timedelta(minutes=10)  # a job running longer than this is reported as stuck


@dataclass
class JobHealth:
    last_success: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    failures: int = 0  # consecutive
    running_since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_success": _iso(self.last_success),
            "last_error": self.last_error or None,
            "last_error_at": _iso(self.last_error_at),
            "consecutive_failures": self.failures,
            **({"running_since": _iso(self.running_since)} if self.running_since else {}),
        }


class Health:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._jobs: dict[str, JobHealth] = {}
        self._lock = threading.Lock()

    def started(self, name: str) -> None:
        with self._lock:
            self._jobs.setdefault(name, JobHealth()).running_since = self.clock()

    def success(self, name: str) -> None:
        with self._lock:
            job = self._jobs.setdefault(name, JobHealth())
            job.last_success, job.failures, job.running_since = self.clock(), 0, None

    def failure(self, name: str, error: str) -> None:
        with self._lock:
            job = self._jobs.setdefault(name, JobHealth())
            job.last_error, job.last_error_at = redact(printable(error, 500), digit_runs=False), self.clock()
            job.failures += 1
            job.running_since = None

    def get(self, name: str) -> JobHealth | None:
        with self._lock:
            return self._jobs.get(name)

    def report(self, degraded_after: int) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """({name: facts}, problems in Chinese). No problems: healthy."""
        now = self.clock()
        with self._lock:
            jobs = {name: JobHealth(**vars(job)) for name, job in self._jobs.items()}
        problems: list[str] = []
        for name, job in sorted(jobs.items()):
            if job.failures >= degraded_after:
                problems.append(f"{name} 连续失败 {job.failures} 次：{job.last_error}")
            if job.running_since is not None and now - job.running_since > STUCK_AFTER:
                minutes = int((now - job.running_since).total_seconds() // 60)
                problems.append(f"{name} 已运行 {minutes} 分钟仍未结束")
        facts = {}
        for name, job in sorted(jobs.items()):
            facts[name] = job.as_dict()
            # how far behind: seconds since the last success (None: never yet)
            facts[name]["lag_seconds"] = (round((now - job.last_success).total_seconds())
                                          if job.last_success else None)
        return facts, problems


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None
