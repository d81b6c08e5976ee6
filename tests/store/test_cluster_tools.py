"""`store.bench` and `store.migrate --to` against the real three-node clusters."""
from __future__ import annotations

import json
import uuid

import pytest

from store.search import ElasticsearchStore, OpenSearchStore
from tests.store.test_transfer import (alerts_of, audit_of, cases_of, copied_audit, history, moderation, snapshot,
                                      source_store, unsent)

ENGINES = pytest.mark.parametrize("engine", [pytest.param("opensearch", marks=pytest.mark.opensearch),
                                             pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
STORES = {"opensearch": OpenSearchStore, "elasticsearch": ElasticsearchStore}


@ENGINES
def test_bench_on_a_cluster_times_what_the_backend_implements_and_cleans_up(engine, request, capsys):
    from store import bench

    hosts = request.getfixturevalue(f"{engine}_cluster").hosts
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    assert bench.main(["--backend", engine, "--hosts", ",".join(hosts), "--n", "400", "--batch", "200",
                       "--queries", "10", "--index-prefix", prefix, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == engine and out["index_docs_per_s"] > 0 and out["search_p95_ms"] > 0
    # every aggregation the dashboard and reports read is timed in the cluster (store/search/stats.py)
    assert out["agg_p95_ms"] > 0 and "not_implemented" not in out
    store = STORES[engine].from_settings({"hosts": hosts, "index_prefix": prefix})
    try:
        assert not store.client.index_exists(store.names.keys)  # dropped at the end
    finally:
        store.close()


@ENGINES
def test_migrate_to_a_cluster_copies_posts_analyses_moderation_cases_alerts_and_audit_and_resumes(engine, request, tmp_path, capsys):
    from store.migrate import main

    hosts = request.getfixturevalue(f"{engine}_cluster").hosts
    data = tmp_path / "data"
    source = source_store(data / "sentinel.db", n=120)
    history(source)  # moderation, cases open and closed, an audit log about all of it
    expected, queue, cases, audit = snapshot(source), moderation(source), cases_of(source), copied_audit(source)
    alerts, outbox = alerts_of(source), unsent(source)
    prefix = f"m{uuid.uuid4().hex[:8]}"
    args = ["--data-dir", str(data), "--to", engine, "--hosts", ",".join(hosts), "--index-prefix", prefix,
            "--batch", "50"]
    target = STORES[engine].from_settings({"hosts": hosts, "index_prefix": prefix})
    try:
        assert main(args) == 0
        assert "本次复制 120 条" in capsys.readouterr().out
        for (channel, source_id), (text, author, created_at, analysis) in expected.items():
            post = target.find_post(channel, source_id)
            assert post is not None and (post.text, post.author, post.created_at) == (text, author, created_at)
            a = target.get_analysis(post.id)
            assert (None if a is None else (a.spam, a.sentiment, a.model_version)) == analysis
        assert target.counts()["posts"] == 120
        assert moderation(target) == queue  # the review queue, decisions and removal requests came along
        assert cases_of(target) == cases  # and the cases, with their leaders and responses
        assert alerts_of(target) == alerts and unsent(target) == outbox  # the alerts, nothing sent twice
        assert audit_of(target, copied_only=True) == audit  # and the audit log, naming the cluster's copies
        assert main(args) == 0  # run again: resumes after the end, copies nothing
        assert "本次复制 0 条" in capsys.readouterr().out
        assert target.counts()["posts"] == 120 and audit_of(target, copied_only=True) == audit
        assert alerts_of(target) == alerts
    finally:
        target.drop_indices()
        target.close()
        source.close()
