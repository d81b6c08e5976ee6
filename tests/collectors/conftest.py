from __future__ import annotations

import pytest

from core.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Default settings with the data folder in the test's own temporary directory."""
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})
