"""Real search clusters for tests: see cluster.py."""
from tests.clusters.cluster import (ELASTICSEARCH, ENGINES, OPENSEARCH, ClusterFailed, ClusterUnavailable,
                                    SearchCluster, SearchNode, build)

__all__ = ["ELASTICSEARCH", "ENGINES", "OPENSEARCH", "ClusterFailed", "ClusterUnavailable", "SearchCluster",
           "SearchNode", "build"]
