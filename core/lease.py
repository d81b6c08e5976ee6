"""Which of the service instances sharing one store does the work.

Several instances may run against one store (two machines on a search cluster, or a hot standby on
the same SQLite file). Only the holder of the `worker` lease collects, analyses, runs the rules,
delivers alerts and does housekeeping; every instance serves the dashboard. The holder renews the
lease every `renew` seconds; the others try to take it just as often and get it once it has not been
renewed for `ttl` seconds, so a killed holder is replaced within ttl + renew seconds. The store takes
and renews a lease atomically (`Store.take_lease`: a row updated in one transaction on SQLite, a
document written with optimistic concurrency on a cluster).

A holder that cannot renew (the store is unreachable, the process was paused) stops working one
renewal interval before its lease can expire, so two instances never work at once.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from core.text import printable
from store.base import LeaseState, Store

log = logging.getLogger("sentinel.lease")
WORKER = "worker"


def instance_id() -> str:
    """This process, as it appears in the lease: host, pid and a random tag (a restarted process
    with a recycled pid is still another holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class WorkerLease:
    store: Store
    ttl: timedelta
    renew: timedelta
    clock: Callable[[], datetime]
    holder: str = field(default_factory=instance_id)
    name: str = WORKER
    on_gain: Callable[[], None] | None = None  # called before work starts after taking over
    state: LeaseState | None = None  # as last seen in the store
    _held_until: datetime | None = None  # work stops at this time unless renewed before

    def tick(self) -> bool:
        """Take or renew the lease; returns whether this instance may work now."""
        was = self.active()
        now = self.clock()
        try:
            state = self.store.take_lease(self.name, self.holder, now, self.ttl)
        except Exception as exc:
            log.error("续租/抢占租约 %s 失败（%s）：%s", self.name, "本实例将停止工作" if was else "继续待命",
                      printable(f"{type(exc).__name__}: {exc}"))
            return self.active()
        self.state = state
        if state.held_by(self.holder, now):
            if not was and self.on_gain is not None:
                self.on_gain()  # e.g. refill the rules' windows from what the previous holder stored
            self._held_until = state.expires_at - self.renew
            if not was:
                log.info("本实例（%s）取得租约 %s：负责收集、分析、规则和发送", self.holder, self.name)
        else:
            self._held_until = None
            if was:
                log.warning("本实例（%s）已失去租约 %s，现由 %s 负责；本实例转为待命（只提供看板）",
                            self.holder, self.name, state.holder)
        return self.active()

    def active(self) -> bool:
        """Whether this instance may work now: it holds the lease with at least one renewal interval left."""
        return self._held_until is not None and self.clock() < self._held_until

    def release(self) -> None:
        """Give the lease up at a clean stop, so another instance takes over at once."""
        if self._held_until is None:
            return
        self._held_until = None
        try:
            if self.store.release_lease(self.name, self.holder):
                log.info("已交还租约 %s", self.name)
        except Exception as exc:
            log.error("交还租约 %s 失败（将在 %d 秒后自动过期）：%s", self.name, int(self.ttl.total_seconds()),
                      printable(f"{type(exc).__name__}: {exc}"))

    def describe(self) -> dict[str, object]:
        """For /healthz: this instance's role and who holds the lease."""
        s = self.state
        return {
            "role": "active" if self.active() else "standby",
            "instance": self.holder,
            "lease_holder": s.holder if s else None,
            "lease_expires_at": s.expires_at.isoformat() if s else None,
        }
