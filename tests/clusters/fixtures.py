"""The session's clusters for pytest (tests/conftest.py exposes them as `opensearch_cluster` and
`elasticsearch_cluster`). A machine that cannot run an engine skips its tests with the reason;
with REQUIRE_SEARCH_CLUSTERS=1 (CI sets it) that is a failure instead."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.clusters.cluster import ENGINES, ClusterUnavailable, SearchCluster

REQUIRE_ENV = "REQUIRE_SEARCH_CLUSTERS"


def clusters_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def running_cluster(engine: str, directory: Path) -> Iterator[SearchCluster]:
    """Start the engine's three-node cluster for the session, then stop it (no JVM left behind)."""
    started = time.monotonic()
    try:
        cluster = SearchCluster.start(ENGINES[engine], directory)
    except ClusterUnavailable as e:
        if clusters_required():
            pytest.fail(f"{REQUIRE_ENV}=1 but the {engine} cluster cannot run here: {e}", pytrace=False)
        pytest.skip(f"no {engine} cluster on this machine: {e}")
    print(f"\n[clusters] {engine}: 3 nodes green in {time.monotonic() - started:.1f}s "
          f"({', '.join(cluster.hosts)})", file=sys.stderr)
    try:
        yield cluster
    finally:
        cluster.stop()
