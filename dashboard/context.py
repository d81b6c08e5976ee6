"""What the views need from the running service, kept on the app (no module-level state)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import current_app

from core.config import Settings
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

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def runtime_status(self) -> dict[str, Any]:
        """The service's extra runtime facts (model version, last job runs); {} when not wired."""
        return dict(self.status()) if self.status else {}


def services() -> Services:
    """The Services of the current app (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
