"""Configuration: precedence and errors that name the file and the field."""
from __future__ import annotations

import pytest

from collectors import build_collectors
from core.config import load_settings
from core.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "sentinel.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    s = load_settings(None, env={})
    assert (s.host, s.port, s.store["backend"], str(s.data_dir)) == ("127.0.0.1", 8000, "sqlite", "data")
    assert s.rules_file.name == "default.yaml" and s.rules_file.is_file()


def test_precedence_file_then_env_then_command_line(tmp_path):
    path = write(tmp_path, "web: {port: 9001}\ndata_dir: /srv/a\n")
    s = load_settings(path, env={"SENTINEL_PORT": "9002", "SENTINEL_DATA_DIR": "/srv/b"})
    assert (s.port, str(s.data_dir)) == (9002, "/srv/b")
    s = load_settings(path, env={"SENTINEL_PORT": "9002"}, overrides={"web.port": 9003, "data_dir": None})
    assert (s.port, str(s.data_dir)) == (9003, "/srv/a")


def test_rules_path_is_relative_to_the_config_file(tmp_path):
    s = load_settings(write(tmp_path, "rules: my_rules.yaml\n"), env={})
    assert s.rules_file == (tmp_path / "my_rules.yaml").resolve()


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("web: {port: 'eighty'}\n", "web.port", "类型"),
        ("web: {port: 70000}\n", "web.port", "超出范围"),
        ("colour: red\n", "(顶层)", "colour"),
        ("notifiers:\n  - {type: email}\n", "notifiers[0]", "name"),
        ("intervals: {collect: 0}\n", "intervals.collect", "超出范围"),
    ],
)
def test_errors_name_file_and_field(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    message = str(err.value)
    assert str(path) in message and field in message and words in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match="第 2 行"):
        load_settings(write(tmp_path, "web:\n\tport: 1\n"), env={})


def test_missing_file_and_bad_env_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="文件不存在"):
        load_settings(tmp_path / "nope.yaml", env={})
    with pytest.raises(ConfigError, match="SENTINEL_PORT"):
        load_settings(None, env={"SENTINEL_PORT": "abc"})


def test_channel_options_are_validated_by_the_collector_class(tmp_path):
    s = load_settings(write(tmp_path, "channels:\n  - {name: 收件箱, type: file, batchsize: 3}\n"), env={})
    with pytest.raises(ConfigError) as err:
        build_collectors(s)
    assert "channels[0]（收件箱）" in str(err.value) and "batchsize" in str(err.value)


def test_unknown_channel_type_lists_the_valid_ones(tmp_path):
    s = load_settings(write(tmp_path, "channels:\n  - {name: x, type: telegram}\n"), env={})
    with pytest.raises(ConfigError) as err:
        build_collectors(s)
    assert "telegram" in str(err.value) and "demo" in str(err.value) and "file" in str(err.value)


def test_file_collector_is_always_on_and_demo_joins_with_flag(tmp_path):
    s = load_settings(None, env={}, overrides={"data_dir": str(tmp_path)})
    assert [c.type_name for c in build_collectors(s)] == ["file"]
    s.demo = True
    assert [c.type_name for c in build_collectors(s)] == ["file", "demo"]


def test_the_example_config_is_valid():
    from core.config import PROJECT_ROOT

    settings = load_settings(PROJECT_ROOT / "config.example.yaml", env={})
    assert settings.quarantine_after >= 1 and settings.degraded_after >= 1 and not settings.secure_cookies


@pytest.mark.parametrize("url,override,secure", [
    ("https://yuqing.example.edu.cn/", None, True), ("http://10.0.0.5:8000/", None, False), ("", None, False),
    ("https://yuqing.example.edu.cn/", False, False), ("", True, True),
])
def test_secure_cookies_follow_the_external_url_unless_set(tmp_path, url, override, secure):
    cfg = tmp_path / "s.yaml"
    extra = "" if override is None else f"\n  secure_cookies: {str(override).lower()}"
    cfg.write_text(f"web:\n  external_url: '{url}'{extra}\n", encoding="utf-8")
    assert load_settings(cfg, env={}).secure_cookies is secure


@pytest.mark.parametrize("body,field", [
    ("ingest:\n  earliest: '2026-02-30'\n", "ingest.earliest"),
    ("ingest:\n  future_skew_minutes: -1\n", "ingest.future_skew_minutes"),
    ("ingest:\n  quarantine_after: 0\n", "ingest.quarantine_after"),
    ("web:\n  trusted_proxies: 9\n", "web.trusted_proxies"),
    ("web:\n  external_url: 'ftp://x'\n", "web.external_url"),
    ("health:\n  degraded_after: 0\n", "health.degraded_after"),
])
def test_bad_hardening_settings_name_the_field(tmp_path, body, field):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert field in str(err.value)


def test_retention_is_validated_naming_the_field(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("retention: {posts_days: 30, pii_days: 90}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert "retention.pii_days" in str(err.value) and str(cfg) in str(err.value)
    cfg.write_text("retention: {posts_days: -1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retention.posts_days"):
        load_settings(cfg, env={})
    cfg.write_text("retention: {posts_days: 365, pii_days: 0}\nintervals: {retention: 30}\n", encoding="utf-8")
    s = load_settings(cfg, env={})
    assert (s.retention_posts_days, s.retention_pii_days, s.intervals["retention"]) == (365.0, 0.0, 30.0)
    assert load_settings(env={}).retention_posts_days is None  # kept for ever unless configured


@pytest.mark.parametrize("body,field,words", [
    ("store: {backend: elasticsearch}\n", "store.hosts", "节点地址"),
    ("store: {backend: opensearch, hosts: ['ftp://x']}\n", "store.hosts[0]", "格式"),
    ("store: {backend: opensearch, hosts: ['http://127.0.0.1:9200'], api_key_env: K}\n", "store.api_key_env",
     "username_env"),
    ("store: {backend: elasticsearch, hosts: ['http://127.0.0.1:9200'], username_env: U}\n", "store.password_env",
     "一起"),
    ("store: {backend: elasticsearch, hosts: ['http://h:9200'], ca_certs: /nonexistent/ca.pem}\n", "store.ca_certs",
     "不存在"),
    ("store: {backend: elasticsearch, hosts: ['http://h:9200'], index_prefix: 'Bad Prefix'}\n",
     "store.index_prefix", "格式"),
    ("store: {backend: sqlite, hosts: ['http://127.0.0.1:9200']}\n", "store.hosts", "只用于"),
    ("store: {backend: elasticsearch, hosts: ['http://h:9200'], host: x}\n", "store", "不认识"),
])
def test_the_store_block_is_checked_per_backend(tmp_path, body, field, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert err.value.file == str(path) and err.value.where == field and words in err.value.problem


def test_a_search_cluster_store_block_loads(tmp_path):
    s = load_settings(write(tmp_path, "store:\n  backend: opensearch\n  hosts: ['https://os1:9200', 'http://os2:9200/']\n"
                                      "  username_env: U\n  password_env: P\n  index_prefix: yq\n"), env={})
    assert s.store["backend"] == "opensearch" and s.store["hosts"] == ["https://os1:9200", "http://os2:9200/"]
