"""dashboard.bench builds a synthetic store and times every page (a small store here; 1M is a command)."""
from __future__ import annotations

import json

from dashboard.bench import PAGES, main


def test_the_bench_times_every_page(tmp_path, capsys) -> None:
    assert main(["--posts", "3000", "--repeat", "2", "--data-dir", str(tmp_path / "b"), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["posts"] == 3000 and set(out["pages"]) == {p for _, p in PAGES}
    assert all(0 < v["p50_ms"] <= v["p95_ms"] for v in out["pages"].values())
    # built once: a second run reuses the store
    assert main(["--posts", "3000", "--repeat", "1", "--data-dir", str(tmp_path / "b"), "--json", "--quiet"]) == 0
