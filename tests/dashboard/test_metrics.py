"""GET /metrics: Prometheus text format, counters that move as posts arrive, loopback or a token."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from core.domain import Post, utcnow
from core.metrics import Metrics
from store.base import DeadLetter
from dashboard import create_app


def scrape(client, **kw) -> dict[str, dict[tuple, float]]:
    r = client.get("/metrics", **kw)
    assert r.status_code == 200, r.data
    assert r.content_type.startswith("text/plain") and "version=0.0.4" in r.content_type
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.data.decode("utf-8")):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def ingest(store, n: int, channel: str, start: int = 0) -> None:
    store.ingest("t", [Post(channel=channel, source_id=f"{channel}{i}", author="a", text=f"评论{i}",
                            created_at=utcnow() - timedelta(minutes=1)) for i in range(start, start + n)], None)


def test_metrics_parse_and_the_post_counters_move_as_posts_arrive(store, settings):
    client = create_app(store, settings, secret_key="k" * 40).test_client()
    ingest(store, 3, "weibo")
    first = scrape(client)
    assert first["sentinel_posts_ingested_total"] == {(("channel", "weibo"),): 3.0}
    assert first["sentinel_analysis_backlog"][()] == 3.0
    ingest(store, 2, "weibo", start=3)
    ingest(store, 4, "qq")
    second = scrape(client)
    assert second["sentinel_posts_ingested_total"] == {(("channel", "weibo"),): 5.0, (("channel", "qq"),): 4.0}
    assert second["sentinel_analysis_backlog"][()] == 9.0
    assert second["sentinel_dead_letters"][()] == 0.0 and second["sentinel_analysis_backlog_age_seconds"][()] >= 0
    store.ingest("t", [], None, dead=[DeadLetter("inbox/x.jsonl:1", "{", "坏")])
    assert scrape(client)["sentinel_dead_letters"][()] == 1.0


def test_the_services_own_metrics_are_shown_and_registries_are_not_shared(store, settings):
    service_metrics = Metrics.create(store, lag=lambda: {"inbox": 1.5, "never": None})
    service_metrics.job_failures.labels("collect").inc()
    service_metrics.delivery_attempts.labels("审核组邮件", "sent").inc(2)
    service_metrics.analysis_seconds.observe(0.3)
    app = create_app(store, settings, secret_key="k" * 40, metrics=service_metrics)
    other = create_app(store, settings, secret_key="k" * 40)  # a second app: its own registry
    got = scrape(app.test_client())
    assert got["sentinel_job_failures_total"] == {(("job", "collect"),): 1.0}
    assert got["sentinel_delivery_attempts_total"] == {(("notifier", "审核组邮件"), ("outcome", "sent")): 2.0}
    assert got["sentinel_analysis_seconds_count"][()] == 1.0
    assert got["sentinel_collector_lag_seconds"] == {(("collector", "inbox"),): 1.5}
    fresh = scrape(other.test_client())
    assert "sentinel_job_failures_total" not in fresh and fresh["sentinel_analysis_seconds_count"][()] == 0.0


def test_metrics_are_for_loopback_only_without_a_token(store, settings):
    client = create_app(store, settings, secret_key="k" * 40).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_behind_nginx_the_forwarded_client_is_what_counts(store, settings):
    behind = dataclasses.replace(settings, trusted_proxies=1)
    client = create_app(store, behind, secret_key="k" * 40).test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_with_a_token_every_client_must_send_it(store, settings):
    app = create_app(store, dataclasses.replace(settings, metrics_token="s3cret-token"), secret_key="k" * 40)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    got = scrape(client, headers={"Authorization": "Bearer s3cret-token"}, environ_base=remote)
    assert got["sentinel_dead_letters"] == {(): 0.0}


def test_the_token_comes_from_the_environment_variable_the_config_names(tmp_path):
    from core.config import load_settings

    cfg = tmp_path / "s.yaml"
    cfg.write_text("metrics: {token_env: PROM_TOKEN}\n", encoding="utf-8")
    assert load_settings(cfg, env={"PROM_TOKEN": "abc"}).metrics_token == "abc"
    assert load_settings(cfg, env={}).metrics_token is None
