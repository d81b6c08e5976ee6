"""The cluster fixtures' skip-versus-fail rule, on a machine made to lack Maven or a fitting JDK."""
from __future__ import annotations

import shutil

import pytest

from tests.clusters import cluster as cluster_mod
from tests.clusters.cluster import ELASTICSEARCH, OPENSEARCH, ClusterUnavailable
from tests.clusters.fixtures import running_cluster


def _without_maven(monkeypatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(cluster_mod.shutil, "which", lambda name, *a, **k: None if name == "mvn" else real_which(name, *a, **k))


def test_missing_maven_is_unavailable_with_the_reason(monkeypatch) -> None:
    monkeypatch.setattr(cluster_mod, "find_jdk", lambda engine: cluster_mod.Jdk(cluster_mod.Path("/nonexistent"), 17))
    _without_maven(monkeypatch)
    with pytest.raises(ClusterUnavailable, match="Maven"):
        cluster_mod.build(OPENSEARCH)


def test_no_fitting_jdk_names_the_versions_needed(monkeypatch) -> None:
    monkeypatch.setattr(cluster_mod, "_jdk_candidates", lambda: iter([]))
    with pytest.raises(ClusterUnavailable, match="Java 21"):
        cluster_mod.find_jdk(ELASTICSEARCH)


def test_unavailable_cluster_skips_without_the_requirement(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("REQUIRE_SEARCH_CLUSTERS", raising=False)
    monkeypatch.setattr(cluster_mod, "_jdk_candidates", lambda: iter([]))
    with pytest.raises(pytest.skip.Exception, match="no opensearch cluster"):
        next(running_cluster("opensearch", tmp_path))


def test_unavailable_cluster_fails_when_required(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REQUIRE_SEARCH_CLUSTERS", "1")
    monkeypatch.setattr(cluster_mod, "_jdk_candidates", lambda: iter([]))
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_SEARCH_CLUSTERS=1"):
        next(running_cluster("elasticsearch", tmp_path))
