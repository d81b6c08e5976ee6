"""The service log's treatment of the search-cluster clients (core/logs.py): answers the store
handles are left out, failures stay, one line each, without tracebacks."""
from __future__ import annotations

import logging

import pytest
from opensearchpy.connection.base import Connection

from core.logs import setup_logging


@pytest.fixture
def service_log(capsys):
    """The service's logging, set up inside the test (so its handler writes to the captured stderr);
    what it wrote is read with the returned function. The root logger is put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:], root.level = saved


def _answered(status: int | None, exception: Exception | None = None) -> None:
    """What opensearch-py itself logs for a request that did not succeed."""
    Connection(host="127.0.0.1", port=9200).log_request_fail(
        "GET", "http://127.0.0.1:9200/t-meta/_doc/lease", "/t-meta/_doc/lease", None, 0.002, status,
        response='{"found":false}', exception=exception)


@pytest.mark.parametrize("status", [404, 409])
def test_answers_the_store_handles_are_left_out(service_log, status):
    setup_logging("INFO")
    _answered(status)
    assert service_log() == ""


@pytest.mark.parametrize("status", [400, 429, 500, 503])
def test_failures_stay_one_line_each(service_log, status):
    setup_logging("INFO")
    _answered(status)
    [line] = service_log().strip().splitlines()
    assert f"WARNING opensearch GET http://127.0.0.1:9200/t-meta/_doc/lease [status:{status}" in line


def test_a_lost_connection_stays_without_its_traceback(service_log):
    setup_logging("INFO")
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as exc:
        _answered(None, exc)
    [line] = service_log().strip().splitlines()
    assert "[status:N/A" in line and "ConnectionRefusedError" in line and "Traceback" not in line


def test_other_loggers_are_untouched(service_log):
    setup_logging("INFO")
    logging.getLogger("sentinel.store").warning("集群 %s 返回 %s", "a", 404)
    out = service_log()
    assert "集群 a 返回 404" in out, out
