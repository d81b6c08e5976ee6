"""What the views need from the running service, kept on the app (no module-level state)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from flask import current_app

from core.config import Settings
from core.domain import Post
from core.metrics import Metrics
from core.ratelimit import KeyedLimits
from dashboard.throttle import LoginThrottle
from store.base import Store

EXTENSION_KEY = "sentinel"


@dataclass
class Services:
    store: Store
    settings: Settings
    status: Callable[[], dict[str, Any]] | None
    throttle: LoginThrottle
    dummy_hash: str  # checked against when the user does not exist, so timing says nothing
    # channel (collector name) -> the write-back actions it carries out now (those with write_back on)
    write_actions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    api_limits: KeyedLimits | None = None  # requests per API client (dashboard/api.py)
    metrics: Metrics | None = None  # what /metrics shows (core/metrics.py)

    def actions_for(self, post: Post) -> frozenset[str]:
        """What may be asked of the platform for this post (nothing for inbox and demo posts)."""
        name = post.raw.get("_collector") if isinstance(post.raw, dict) else None
        return self.write_actions.get(name, frozenset()) if isinstance(name, str) else frozenset()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def runtime_status(self) -> dict[str, Any]:
        """The service's extra runtime facts (model version, last job runs); {} when not wired."""
        return dict(self.status()) if self.status else {}


def services() -> Services:
    """The Services of the current app (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
