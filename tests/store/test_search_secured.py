"""The search-cluster stores on a secured cluster, as a university runs one: https with a certificate
from the cluster's own CA, and a user and password (or an Elasticsearch API key) from environment
variables named in the config (issue #12).

The session's test clusters run without security, so each test puts tests/clusters/secure_proxy.py
in front of one node: TLS with a throw-away CA, and the credentials checked as the engines' security
layers check them (401 / 403 with their bodies and challenges). The store is built the way the
service builds it: a YAML config loaded by core.config, then `store.open_store`.

Wrong or missing credentials, missing privileges, and a certificate that cannot be verified each
end in one clear Chinese line that names the setting to fix, at once (no retries), and never show a
credential; the service (scheduler.py) and `python -m store.migrate --to` print that line, not a
traceback."""
from __future__ import annotations

import base64
import logging
import re
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from core.config import Settings, load_settings
from core.domain import Analysis, Post, Sentiment
from nlp.tokenizer import search_tokens, search_tokens_many
from store import open_store
from store.base import Store
from store.search.client import (ClusterAuthError, ClusterCertificateError, Connection, ElasticsearchClient,
                                 OpenSearchClient)
from store.sqlite import SqliteStore
from tests.clusters.secure_proxy import (CertificateAuthority, Credentials, SecureProxy, ServerCert, make_ca,
                                         make_server_cert)
from tests.store.conftest import empty_store

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)

USER, PASSWORD = "sentinel_writer", "Pw-7qL!union#2026"
VIEWER, VIEWER_PASSWORD = "sentinel_viewer", "Vw-3kR!union#2026"
KEY_ID, KEY_SECRET = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
API_KEY = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()  # the "encoded" value ES hands out
CREDENTIALS = Credentials(users={USER: PASSWORD, VIEWER: VIEWER_PASSWORD}, api_keys={KEY_ID: KEY_SECRET},
                          forbidden=frozenset({VIEWER}))
# what must never appear in a message or a log line
SECRETS = (PASSWORD, VIEWER_PASSWORD, KEY_SECRET, API_KEY,
           base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())

ENV_USER, ENV_PASSWORD, ENV_API_KEY = "T_SENTINEL_ES_USER", "T_SENTINEL_ES_PASSWORD", "T_SENTINEL_ES_API_KEY"

BOTH = pytest.mark.parametrize("engine", [pytest.param("opensearch", marks=pytest.mark.opensearch),
                                          pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
ES_ONLY = pytest.mark.parametrize("engine", [pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])


@dataclass(frozen=True)
class Tls:
    ca: CertificateAuthority  # the cluster's CA
    other_ca: CertificateAuthority  # someone else's
    server: ServerCert


@dataclass
class Secured:
    """A secured front of the session's cluster for one test, and how to configure the store for it."""

    engine: str
    proxy: SecureProxy
    tls: Tls
    directory: Path
    monkeypatch: pytest.MonkeyPatch

    def settings(self, index_prefix: str = "sentinel-secured", *, username: str | None = USER,
                 password: str | None = PASSWORD, api_key: str | None = None, ca: Path | None | str = "cluster",
                 host: str | None = None) -> Settings:
        """Write a config as an administrator would, set the variables it names, and load it."""
        store: dict[str, Any] = {"backend": self.engine, "hosts": [host or self.proxy.url], "index_prefix": index_prefix}
        if username is not None:
            store.update(username_env=ENV_USER, password_env=ENV_PASSWORD)
            self.monkeypatch.setenv(ENV_USER, username)
            self.monkeypatch.setenv(ENV_PASSWORD, password or "")
        if api_key is not None:
            store["api_key_env"] = ENV_API_KEY
            self.monkeypatch.setenv(ENV_API_KEY, api_key)
        ca_file = self.tls.ca.cert_pem if ca == "cluster" else ca
        if ca_file is not None:
            store["ca_certs"] = str(ca_file)
        path = self.directory / "sentinel.yaml"
        path.write_text(yaml.safe_dump({"data_dir": str(self.directory / "data"), "store": store},
                                       allow_unicode=True), encoding="utf-8")
        return load_settings(path, env={})

    def config_file(self) -> str:
        return str(self.directory / "sentinel.yaml")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory / "cluster-ca", "高校工会 测试集群 CA")
    return Tls(ca=ca, other_ca=make_ca(directory / "other-ca", "Some other CA"),
               server=make_server_cert(ca, directory / "node"))


@pytest.fixture
def secured(request: pytest.FixtureRequest, engine: str, tls: Tls, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Secured]:
    cluster = request.getfixturevalue(f"{engine}_cluster")
    with SecureProxy(engine, cluster.hosts[0], tls.server, CREDENTIALS) as proxy:
        yield Secured(engine, proxy, tls, tmp_path, monkeypatch)


@pytest.fixture
def shared_prefix(request: pytest.FixtureRequest, engine: str) -> str:
    """The session's index prefix of this engine (tests/store/conftest.py): its indices exist once
    any store test ran, so opening the store here costs no index creation."""
    import uuid

    return request.getfixturevalue("search_prefixes").setdefault(engine, f"t{uuid.uuid4().hex[:10]}")


def _post(sid: str, text: str, minutes: int) -> Post:
    return Post(channel="weibo", source_id=sid, author="u1", text=text, created_at=T0 + timedelta(minutes=minutes))


def _analysis(text: str) -> Analysis:
    return Analysis(normalized=text, tokens=search_tokens(text), sentiment=Sentiment.NEG, polarity=-0.4, spam=0.0,
                    rumour=0.0)


def _open(settings: Settings) -> Store:
    """The store as the service opens it (core/service.py `Sentinel.build`)."""
    return open_store(settings, tokenize=search_tokens, tokenize_many=search_tokens_many)


def _round_trip(store: Store) -> None:
    """Ingest three posts, save their analyses and find them by words: reads and writes of every kind."""
    posts = [_post("s1", "食堂的饭菜越来越贵了", 0), _post("s2", "停车位太少，每天早上抢不到", 1),
             _post("s3", "食堂晚上能不能开到九点", 2)]
    result = store.ingest("inbox", posts, "cursor-3")
    assert (result.new, result.dead) == (3, 0)
    todo = store.posts_to_analyze(10)
    assert sorted(p.source_id for p in todo) == ["s1", "s2", "s3"]
    store.save_analyses([(p, _analysis(p.text)) for p in todo])
    assert sorted(p.source_id for p in store.search("食堂")) == ["s1", "s3"]
    assert [p.source_id for p in store.search("停车位")] == ["s2"]
    assert store.checkpoint("inbox") == "cursor-3"
    assert store.counts()["analyzed"] == 3


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# ---------------------------------------------------------------------------------------- it works
@BOTH
def test_the_store_works_over_tls_with_a_user_and_password_from_the_environment(secured: Secured,
                                                                                 shared_prefix: str) -> None:
    store = _open(secured.settings(shared_prefix))
    try:
        _round_trip(store)
    finally:
        empty_store(store)
        store.close()
    statuses = secured.proxy.statuses()
    assert len(statuses) > 10 and 401 not in statuses and 403 not in statuses  # every request went through it
    assert secured.proxy.handshake_failures == []


@ES_ONLY
def test_elasticsearch_takes_an_api_key_from_the_environment(secured: Secured, shared_prefix: str) -> None:
    store = _open(secured.settings(shared_prefix, username=None, api_key=API_KEY))
    try:
        _round_trip(store)
    finally:
        empty_store(store)
        store.close()
    assert 401 not in secured.proxy.statuses()


# ---------------------------------------------------------------------------------------- refused
def _refused(settings: Settings, error: type[Exception], caplog: pytest.LogCaptureFixture) -> str:
    """Open the store expecting `error`; returns its message, checked to be one line, quick and clean."""
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(error) as raised:
        _open(settings)
    assert time.monotonic() - started < 5  # refused at once, not retried for a while
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message
    _assert_no_secret(message, caplog.text)
    return message


@BOTH
def test_a_wrong_password_is_one_clear_line_naming_the_variables(secured: Secured, caplog) -> None:
    message = _refused(secured.settings(password="not-the-password"), ClusterAuthError, caplog)
    assert message == (f"搜索集群（{secured.proxy.url}）拒绝了登录（HTTP 401，用户名或密码不对）："
                       f"请检查配置 store.username_env、store.password_env 所指的环境变量 {ENV_USER}、{ENV_PASSWORD} "
                       "中的用户名和密码")
    assert secured.proxy.statuses() == [401]  # one request: a refused login is not sent again


@BOTH
def test_an_unknown_user_is_refused_the_same_way(secured: Secured, caplog) -> None:
    message = _refused(secured.settings(username="nobody"), ClusterAuthError, caplog)
    assert "拒绝了登录（HTTP 401" in message and ENV_USER in message and "nobody" not in message


@BOTH
def test_no_credentials_for_a_secured_cluster_says_which_settings_to_add(secured: Secured, caplog) -> None:
    message = _refused(secured.settings(username=None), ClusterAuthError, caplog)
    assert message == (f"搜索集群（{secured.proxy.url}）要求身份验证（HTTP 401），但配置没有给出账号："
                       "在配置的 store 中用 username_env 和 password_env（Elasticsearch 也可用 api_key_env）"
                       "写存放账号的环境变量名，再设置这些环境变量")


@BOTH
def test_a_user_without_privileges_is_told_what_to_grant(secured: Secured, caplog) -> None:
    message = _refused(secured.settings("campus", username=VIEWER, password=VIEWER_PASSWORD), ClusterAuthError, caplog)
    assert message.startswith(f"搜索集群（{secured.proxy.url}）拒绝了请求（HTTP 403，用户 {VIEWER} 已通过验证但没有权限：")
    assert "indices:admin/index_template/put" in message  # the cluster's own reason names the action
    assert message.endswith("请在集群上给它授予索引 campus-* 的全部权限，以及索引模板 campus-posts 的管理权限")
    assert secured.proxy.statuses() == [403]


@ES_ONLY
def test_a_wrong_api_key_names_its_variable(secured: Secured, caplog) -> None:
    wrong = base64.b64encode(f"{KEY_ID}:revoked-key".encode()).decode()
    message = _refused(secured.settings(username=None, api_key=wrong), ClusterAuthError, caplog)
    assert message == (f"搜索集群（{secured.proxy.url}）拒绝了 API 密钥（HTTP 401）：请检查配置 store.api_key_env 所指的"
                       f"环境变量 {ENV_API_KEY} 中的密钥（Elasticsearch 创建 API 密钥时返回的 encoded 值），"
                       "以及它是否已过期或被作废")
    assert wrong not in message and secured.proxy.statuses() == [401]


@BOTH
def test_without_ca_certs_the_private_certificate_cannot_be_verified(secured: Secured, caplog) -> None:
    message = _refused(secured.settings(ca=None), ClusterCertificateError, caplog)
    assert message.startswith(f"无法验证搜索集群（{secured.proxy.url}）的 TLS 证书（")
    assert message.endswith("：证书不是由系统信任的证书机构签发的（配置没有设置 store.ca_certs）。"
                            "请把 store.ca_certs 设为集群 CA 证书（PEM 文件）的路径")
    assert secured.proxy.statuses() == [] and secured.proxy.handshake_failures  # no request got through


@BOTH
def test_a_wrong_ca_is_named_in_the_error(secured: Secured, caplog) -> None:
    other = secured.tls.other_ca.cert_pem
    message = _refused(secured.settings(ca=other), ClusterCertificateError, caplog)
    assert message.endswith(f"：证书不是由 store.ca_certs 指定的 CA（{other}）签发的。"
                            "请把 store.ca_certs 设为集群 CA 证书（PEM 文件）的路径")
    assert secured.proxy.statuses() == []


@BOTH
def test_an_address_the_certificate_does_not_name_is_refused(request, engine: str, tls: Tls, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    cluster = request.getfixturevalue(f"{engine}_cluster")
    # the certificate names 127.0.0.1 and localhost; this front answers on 127.0.0.2 with it
    with SecureProxy(engine, cluster.hosts[0], tls.server, CREDENTIALS, listen="127.0.0.2") as proxy:
        secured = Secured(engine, proxy, tls, tmp_path, monkeypatch)
        message = _refused(secured.settings(), ClusterCertificateError, caplog)
        url = proxy.url
    reason = {"elasticsearch": "hostname '127.0.0.2' doesn't match either of '127.0.0.1', 'localhost'",  # urllib3's words
              "opensearch": "IP address mismatch, certificate is not valid for '127.0.0.2'"}[engine]  # OpenSSL's
    assert message == (f"无法验证搜索集群（{url}）的 TLS 证书（{reason}）：证书上没有 store.hosts 中写的主机名或 IP。"
                       "请在 store.hosts 中使用证书上的主机名（或 IP），或给集群换一张包含这个地址的证书")
    assert proxy.statuses() == []


@pytest.mark.parametrize("client_class", [ElasticsearchClient, OpenSearchClient], ids=["elasticsearch", "opensearch"])
def test_https_to_a_node_that_speaks_plain_http_says_to_check_the_scheme(client_class, tls: Tls) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        client = client_class(Connection(hosts=(host,), username=USER, password=PASSWORD, request_timeout=5,
                                         ca_certs=str(tls.ca.cert_pem)))
        with pytest.raises(ClusterCertificateError) as raised:
            client.index_exists("sentinel-posts")
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    message = str(raised.value)
    assert message.startswith(f"与搜索集群（{host}）建立 TLS 连接失败（")
    assert message.endswith("）：请确认 store.hosts 中的 https:// 或 http:// 与集群实际使用的一致，"
                            "用 https 时把 store.ca_certs 设为集群 CA 证书（PEM 文件）的路径")
    _assert_no_secret(message)


def test_messages_never_show_credentials_written_into_a_host_url() -> None:
    conn = Connection(hosts=(f"https://{USER}:{PASSWORD}@10.0.0.5:9200", "https://10.0.0.6:9200"))
    assert conn.shown_hosts == "https://10.0.0.5:9200、https://10.0.0.6:9200"


# ---------------------------------------------------------------------------------------- what people see
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")  # core/logs.py FORMAT


def _start_service(config: str) -> int:
    """`python scheduler.py --config CONFIG`, in this process (its signal handlers put back after)."""
    import scheduler

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return scheduler.main(["--config", config, "--port", "18999"])
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)


@BOTH
def test_the_service_start_reports_the_refusal_in_one_line(secured: Secured, capsys) -> None:
    secured.settings(password="not-the-password")
    assert _start_service(secured.config_file()) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(LOG_LINE.match(line) for line in err.strip().splitlines())
    _assert_no_secret(err)
    last = err.strip().splitlines()[-1]
    assert last.endswith(f"ERROR sentinel 搜索集群（{secured.proxy.url}）拒绝了登录（HTTP 401，用户名或密码不对）："
                         f"请检查配置 store.username_env、store.password_env 所指的环境变量 {ENV_USER}、{ENV_PASSWORD} "
                         "中的用户名和密码")


@BOTH
def test_the_service_start_reports_an_unverified_certificate_without_tracebacks(secured: Secured, capsys) -> None:
    secured.settings(ca=secured.tls.other_ca.cert_pem)
    assert _start_service(secured.config_file()) == 2
    err = capsys.readouterr().err
    # the clients' attempts are logged one line each, without their tracebacks
    assert "Traceback" not in err and all(LOG_LINE.match(line) for line in err.strip().splitlines())
    _assert_no_secret(err)
    last = err.strip().splitlines()[-1]
    assert f"ERROR sentinel 无法验证搜索集群（{secured.proxy.url}）的 TLS 证书" in last
    assert "store.ca_certs" in last


@BOTH
def test_migrate_to_a_cluster_reports_the_refusal_in_one_line(secured: Secured, capsys) -> None:
    from store import migrate

    settings = secured.settings(password="not-the-password")
    sqlite = SqliteStore(settings.db_path)
    sqlite.migrate()
    sqlite.close()
    assert migrate.main(["--config", secured.config_file(), "--to", secured.engine]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"错误：搜索集群（{secured.proxy.url}）拒绝了登录（HTTP 401，用户名或密码不对）：请检查配置 store.username_env、"
        f"store.password_env 所指的环境变量 {ENV_USER}、{ENV_PASSWORD} 中的用户名和密码"]
    _assert_no_secret(captured.out, captured.err)
