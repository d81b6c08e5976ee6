"""The session's clusters for pytest (tests/conftest.py exposes them as `opensearch_cluster` and
`elasticsearch_cluster`). A machine that cannot run an engine skips its tests with the reason;
with REQUIRE_SEARCH_CLUSTERS=1 (CI sets it) that is a failure instead.

A cluster is stopped right after the last collected test that needs it (one marked `opensearch` /
`elasticsearch` or asking for the fixture), so its JVMs do not idle through the rest of the suite:
a test that uses a cluster must carry its marker.

While working on the cluster stores, several test runs can share clusters started once by hand
(`python -m tests.clusters run ENGINE`): SENTINEL_TEST_OPENSEARCH_HOSTS / SENTINEL_TEST_ELASTICSEARCH_HOSTS
(comma-separated URLs) make the fixtures use those instead of starting their own; tests that kill a
node skip on them. CI never sets them."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.clusters.cluster import ENGINES, ClusterUnavailable, SearchCluster

REQUIRE_ENV = "REQUIRE_SEARCH_CLUSTERS"


def external_hosts_env(engine: str) -> str:
    return f"SENTINEL_TEST_{engine.upper()}_HOSTS"


class ExternalCluster:
    """A cluster this test run did not start (see the module docstring): its hosts only."""

    def __init__(self, engine: str, hosts: list[str]) -> None:
        self.engine = engine
        self.hosts = hosts
        self.nodes: list[Any] = []

    def __getattr__(self, name: str) -> Any:  # kill, wait_for, …: only for a cluster of the run's own
        pytest.skip(f"{external_hosts_env(self.engine)} names a shared cluster: this test needs one of its own")

    def stop(self) -> None:
        pass


class Lifetimes:
    """Which test is the last to need each engine's cluster, and the clusters running now."""

    def __init__(self) -> None:
        self.last_user: dict[str, str] = {}  # engine -> node id of the last test needing it
        self.running: dict[str, SearchCluster] = {}

    def plan(self, items: list[pytest.Item]) -> None:
        self.last_user = {}
        for item in items:
            for engine in ENGINES:
                if item.get_closest_marker(engine) or f"{engine}_cluster" in getattr(item, "fixturenames", ()):
                    self.last_user[engine] = item.nodeid

    def after(self, item: pytest.Item) -> None:
        for engine, nodeid in self.last_user.items():
            if nodeid == item.nodeid and engine in self.running:
                self.running.pop(engine).stop()


LIFETIMES = pytest.StashKey[Lifetimes]()


def lifetimes(config: pytest.Config) -> Lifetimes:
    if LIFETIMES not in config.stash:
        config.stash[LIFETIMES] = Lifetimes()
    return config.stash[LIFETIMES]


def clusters_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def running_cluster(engine: str, directory: Path, config: pytest.Config | None = None) -> Iterator[SearchCluster]:
    """Start the engine's three-node cluster for the session, then stop it (no JVM left behind);
    with `config`, it may be stopped earlier, after the last test that needs it."""
    external = os.environ.get(external_hosts_env(engine), "").strip()
    if external:
        yield ExternalCluster(engine, [h.strip() for h in external.split(",") if h.strip()])  # type: ignore[misc]
        return
    started = time.monotonic()
    try:
        cluster = SearchCluster.start(ENGINES[engine], directory)
    except ClusterUnavailable as e:
        if clusters_required():
            pytest.fail(f"{REQUIRE_ENV}=1 but the {engine} cluster cannot run here: {e}", pytrace=False)
        pytest.skip(f"no {engine} cluster on this machine: {e}")
    print(f"\n[clusters] {engine}: 3 nodes green in {time.monotonic() - started:.1f}s "
          f"({', '.join(cluster.hosts)})", file=sys.stderr)
    if config is not None:
        lifetimes(config).running[engine] = cluster
    try:
        yield cluster
    finally:
        cluster.stop()  # a second stop of a cluster stopped early does nothing
