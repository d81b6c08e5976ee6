"""`python -m store.bench`: runs the store contract end to end and prints its numbers."""
from __future__ import annotations

import json

from store import bench


def test_sqlite_bench_prints_its_numbers(capsys, tmp_path):
    assert bench.main(["--n", "600", "--batch", "200", "--queries", "14", "--data-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "sqlite" and out["n"] == 600
    for key in ("index_docs_per_s", "agg_p95_ms", "search_p95_ms", "agg_p50_ms", "search_p50_ms"):
        assert isinstance(out[key], float) and out[key] > 0, key
    assert out["agg_p50_ms"] <= out["agg_p95_ms"] and out["search_p50_ms"] <= out["search_p95_ms"]
    # it wrote through the contract: the posts are there, analysed and searchable
    from nlp.tokenizer import search_tokens
    from store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "sentinel.db", tokenize=search_tokens)
    assert store.counts()["posts"] == 600 and store.counts()["analyzed"] == 600
    assert len(store.search("重视", limit=5)) == 5
    store.close()


def test_refuses_a_used_data_dir_and_a_cluster_without_hosts(capsys, tmp_path):
    assert bench.main(["--n", "10", "--batch", "10", "--queries", "2", "--data-dir", str(tmp_path), "--json"]) == 0
    capsys.readouterr()
    assert bench.main(["--n", "10", "--data-dir", str(tmp_path)]) == 2
    assert "空目录" in capsys.readouterr().err
    assert bench.main(["--backend", "opensearch", "--n", "10"]) == 2
    assert "--hosts" in capsys.readouterr().err
