"""A search cluster that cannot be reached when the service or a command opens the store: one clear
line saying what to check, not the clients' tracebacks. No cluster is needed: the port is closed."""
from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest
import yaml

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")  # core/logs.py FORMAT


def _closed_port() -> int:
    with socket.socket() as s:  # bound and closed again: nothing listens there now
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, engine: str, host: str) -> str:
    path = tmp_path / "sentinel.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"),
                                    "store": {"backend": engine, "hosts": [host], "index_prefix": "t"}}),
                    encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
def test_the_service_start_says_the_cluster_cannot_be_reached(tmp_path, engine, capsys):
    import scheduler

    host = f"http://sentinel:s3cret-pw@127.0.0.1:{_closed_port()}"
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = scheduler.main(["--config", _config(tmp_path, engine, host), "--port", "18998"])
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(LOG_LINE.match(line) for line in err.strip().splitlines())
    assert "s3cret-pw" not in err
    last = err.strip().splitlines()[-1]
    assert f"ERROR sentinel 无法连接搜索集群（http://127.0.0.1:{host.rsplit(':', 1)[1]}）" in last
    assert "store.hosts" in last


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
def test_migrate_to_an_unreachable_cluster_says_so_in_one_line(tmp_path, engine, capsys):
    from store import migrate
    from store.sqlite import SqliteStore

    config = _config(tmp_path, engine, f"http://127.0.0.1:{_closed_port()}")
    sqlite = SqliteStore(tmp_path / "data" / "sentinel.db")
    sqlite.migrate()
    sqlite.close()
    assert migrate.main(["--config", config, "--to", engine]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("错误：无法连接搜索集群（http://127.0.0.1:") and "store.hosts" in line
