"""Thin wrappers around the two official clients, so the store speaks to one interface.

The official Elasticsearch client refuses servers that are not Elasticsearch, and opensearch-py is
the one for OpenSearch; the bodies they send (store/search/bodies.py) are the same. Each wrapper
only adapts call conventions and maps the clients' errors to `Conflict` / `NotFound`.

Only what the Elasticsearch server itself serves is used: no _delete_by_query or _update_by_query
(the reindex module), no scripts (lang-painless), no custom analyzers (analysis-common). That keeps
one set of bodies for both engines, and the test cluster (tests/clusters) runs the server alone.
"""
from __future__ import annotations

import abc
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from core.errors import ConfigError, SentinelError
from core.text import printable


log = logging.getLogger("sentinel.store")
BUSY_DELAYS = (0.2, 0.4, 0.8, 1.6, 3.2)  # 6.2 s in all, as the bulk retries of store.py wait


class Conflict(Exception):
    """409: the document changed since it was read (if_seq_no/if_primary_term), or already exists."""


class NotFound(Exception):
    """404: no such document or index."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of either client's error (elasticsearch: `.meta.status`; opensearch-py:
    `.status_code`), or None."""
    meta = getattr(exc, "meta", None)
    status = getattr(meta, "status", None) if meta is not None else getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


class ClusterBusyError(SentinelError):
    """The cluster kept answering 429 (too many requests) to one request."""


class ClusterWriteError(SentinelError):
    """The cluster kept refusing writes that should succeed (unavailable shards, overload)."""


class ClusterAccessError(SentinelError):
    """The cluster cannot be used with the configured credentials or certificate: sending the
    request again does not help, the `store:` settings (or the cluster's) must change."""


class ClusterAuthError(ClusterAccessError):
    """401 (the credentials were refused) or 403 (they lack the privileges for the request)."""


class ClusterCertificateError(ClusterAccessError):
    """The TLS connection failed: the cluster's certificate could not be verified, or TLS is not
    spoken on the other side."""


class ClusterUnreachableError(SentinelError):
    """No node of `store.hosts` answered when the store was opened (after the client's own retries)."""


def unreachable(exc: BaseException, conn: Connection) -> ClusterUnreachableError:
    """The clear error for a cluster that could not be reached at all when the store was opened."""
    return ClusterUnreachableError(
        f"无法连接搜索集群（{conn.shown_hosts}）：{_short(printable(str(exc), 200))}。请确认集群已启动，store.hosts 中的地址、端口和"
        " http/https 与集群一致，并且本机能访问这些地址（防火墙、代理）")


@dataclass(frozen=True)
class Connection:
    """How to reach the cluster: from the `store:` block of the config (core/config.py checks it)."""

    hosts: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: str | None = None
    index_prefix: str = "sentinel"
    request_timeout: float = 30.0
    # the config's names of the variables holding the credentials, for messages (never their values)
    username_env: str | None = None
    password_env: str | None = None
    api_key_env: str | None = None

    @classmethod
    def from_settings(cls, block: dict[str, Any], file: str = "<配置>") -> "Connection":
        def env(field: str) -> str | None:
            name = block.get(field)
            if not name:
                return None
            value = os.environ.get(name)
            if not value:
                raise ConfigError(file, f"store.{field}", f"环境变量 {name} 没有设置或为空：先设置它再启动")
            return value

        hosts = tuple(block.get("hosts") or ())
        if not hosts:
            raise ConfigError(file, "store.hosts", "搜索集群后端需要至少一个节点地址，例如 http://127.0.0.1:9200")
        return cls(hosts=hosts, username=env("username_env"), password=env("password_env"), api_key=env("api_key_env"),
                   ca_certs=block.get("ca_certs") or None, index_prefix=block.get("index_prefix") or "sentinel",
                   username_env=block.get("username_env") or None, password_env=block.get("password_env") or None,
                   api_key_env=block.get("api_key_env") or None)

    @property
    def shown_hosts(self) -> str:
        """The hosts for a message: without any user:password@ written into a URL."""
        return "、".join(_short(h) for h in self.hosts)


# OpenSSL's reason, as the clients quote it: "... certificate verify failed: <reason> (_ssl.c:1006)"
_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)\.? \(_ssl\.c:\d+\)|certificate verify failed: ([^()]{1,150})")
# urllib3 checks the name itself: "hostname '10.0.0.5' doesn't match either of 'es1', 'localhost'"
_NAME_MISMATCH = re.compile(r"hostname '[^']*' doesn't match (?:either of )?'[^']*'(?:, '[^']*')*")


def _server_reason(exc: BaseException) -> str:
    """The cluster's own words for a refusal (its `error.reason`), or ""."""
    info = getattr(exc, "body", None) if getattr(exc, "meta", None) is not None else getattr(exc, "info", None)
    error = info.get("error") if isinstance(info, dict) else None
    reason = error.get("reason") if isinstance(error, dict) else error
    return _short(str(reason)) if reason else ""


def refusal(exc: BaseException, conn: Connection, tls_failure: bool) -> ClusterAccessError | None:
    """The clear error for a request the cluster refused because of the `store:` settings: wrong or
    missing credentials (401), missing privileges (403), or (`tls_failure`: the client's TLS error)
    a certificate that could not be verified. None for any other failure. Messages name the settings
    to fix and the variables to check, never a credential's value."""
    status = status_of(exc)
    where = f"搜索集群（{conn.shown_hosts}）"
    if status == 401:
        if conn.api_key is not None:
            return ClusterAuthError(
                f"{where}拒绝了 API 密钥（HTTP 401）：请检查配置 store.api_key_env 所指的环境变量 {conn.api_key_env} "
                "中的密钥（Elasticsearch 创建 API 密钥时返回的 encoded 值），以及它是否已过期或被作废")
        if conn.username is not None:
            return ClusterAuthError(
                f"{where}拒绝了登录（HTTP 401，用户名或密码不对）：请检查配置 store.username_env、store.password_env "
                f"所指的环境变量 {conn.username_env}、{conn.password_env} 中的用户名和密码")
        return ClusterAuthError(
            f"{where}要求身份验证（HTTP 401），但配置没有给出账号：在配置的 store 中用 username_env 和 password_env"
            "（Elasticsearch 也可用 api_key_env）写存放账号的环境变量名，再设置这些环境变量")
    if status == 403:
        said = _server_reason(exc)
        reason = f"：{said}" if said else ""
        if conn.username is None and conn.api_key is None:
            return ClusterAuthError(
                f"{where}拒绝了请求（HTTP 403，匿名访问没有权限{reason}）：在配置的 store 中用 username_env 和 "
                "password_env（Elasticsearch 也可用 api_key_env）写存放账号的环境变量名，再设置这些环境变量")
        who = f"用户 {conn.username} " if conn.username is not None else "这个 API 密钥"
        return ClusterAuthError(
            f"{where}拒绝了请求（HTTP 403，{who}已通过验证但没有权限{reason}）：请在集群上给它授予索引 "
            f"{conn.index_prefix}-* 的全部权限，以及索引模板 {conn.index_prefix}-posts 的管理权限")
    if not tls_failure:
        return None
    m = _VERIFY_FAILED.search(str(exc))
    reason = (m.group(1) or m.group(2)).strip() if m else ""
    mismatch = _NAME_MISMATCH.search(str(exc))
    if mismatch or "mismatch" in reason:
        reason = mismatch.group(0) if mismatch else reason
        return ClusterCertificateError(
            f"无法验证{where}的 TLS 证书（{reason}）：证书上没有 store.hosts 中写的主机名或 IP。"
            "请在 store.hosts 中使用证书上的主机名（或 IP），或给集群换一张包含这个地址的证书")
    if m:
        trusted = (f"不是由 store.ca_certs 指定的 CA（{conn.ca_certs}）签发的" if conn.ca_certs
                   else "不是由系统信任的证书机构签发的（配置没有设置 store.ca_certs）")
        return ClusterCertificateError(
            f"无法验证{where}的 TLS 证书（{reason}）：证书{trusted}。请把 store.ca_certs 设为集群 CA 证书（PEM 文件）的路径")
    return ClusterCertificateError(
        f"与{where}建立 TLS 连接失败（{_short(str(exc))}）：请确认 store.hosts 中的 https:// 或 http:// 与集群实际使用的一致，"
        "用 https 时把 store.ca_certs 设为集群 CA 证书（PEM 文件）的路径")


def _short(text: str) -> str:
    """A client's or the cluster's words for a message: one line, no user:password@ of a URL, cut."""
    return re.sub(r"(\w+://)[^@/\s]*@", r"\1", re.sub(r"\s+", " ", text))[:300]


class SearchClient(abc.ABC):
    """What the store needs from a cluster client."""

    engine: str = ""

    def unreachable_error(self, exc: BaseException) -> SentinelError | None:
        """The clear error when `exc` says no node could be reached (not a refusal, not an answer)."""
        return None

    @abc.abstractmethod
    def info(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def put_index_template(self, name: str, body: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def index_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def create_index(self, name: str, body: dict[str, Any]) -> bool:
        """Create the index; False if it already existed."""

    @abc.abstractmethod
    def bulk(self, operations: Sequence[dict[str, Any]], refresh: bool = False) -> dict[str, Any]: ...

    @abc.abstractmethod
    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The documents in order, each with `found`, `_source`, `_seq_no`, `_primary_term` (real time)."""

    @abc.abstractmethod
    def get(self, index: str, doc_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def put(self, index: str, doc_id: str, doc: dict[str, Any], *, if_seq_no: int | None = None,
            if_primary_term: int | None = None, create: bool = False, refresh: bool = False) -> dict[str, Any]:
        """Index one document; `Conflict` when `create` and it exists, or the seq_no/term moved on."""

    @abc.abstractmethod
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def count(self, index: str, body: dict[str, Any] | None = None) -> int: ...

    @abc.abstractmethod
    def delete_everything(self, prefix: str) -> None:
        """Drop the store's indices and template (tests and `store.bench` on a prefix of their own)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def expunge_deletes(self, index: str) -> None: ...

    @abc.abstractmethod
    def refresh(self, index: str) -> None: ...


def _body(result: Any) -> dict[str, Any]:
    return result.body if hasattr(result, "body") else result


class _PythonClient(SearchClient):
    """What both official Python clients do alike; each subclass opens its client (`self._c`) and
    passes the few arguments the two spell differently (bodies of bulk, mget and index)."""

    _c: Any  # the elasticsearch.Elasticsearch or opensearchpy.OpenSearch client
    conn: Connection  # what it was opened with (its messages name the settings)
    _errors: Any  # the module holding that client's exception classes
    _bad_request: str  # its exception class for 400 answers

    busy_delays: tuple[float, ...] = BUSY_DELAYS  # seconds between attempts of a request answered 429

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One request. Answered 429 (the cluster's queues are full: nothing was done), it is sent
        again after a growing pause, then fails with ClusterBusyError. Bulk items refused one by
        one are retried by the store (store/search/store.py `_bulk`)."""
        for delay in (*self.busy_delays, None):
            try:
                return _body(fn(*args, **kwargs))
            except self._errors.ConflictError as e:
                raise Conflict(str(e)) from None
            except self._errors.NotFoundError as e:
                raise NotFound(str(e)) from None
            except Exception as e:
                refused = refusal(e, self.conn, isinstance(e, self._errors.SSLError))
                if refused is not None:
                    raise refused from None
                if status_of(e) != 429:
                    raise
                if delay is None:
                    raise ClusterBusyError(
                        f"搜索集群持续繁忙（HTTP 429，已重试 {len(self.busy_delays)} 次）：请稍后重试，"
                        "或查看集群的写入队列与节点负载，必要时扩容") from e
                log.warning("搜索集群繁忙（HTTP 429），%.1f 秒后重试", delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def info(self) -> dict[str, Any]:
        return self._call(self._c.info)

    def unreachable_error(self, exc: BaseException) -> SentinelError | None:
        return unreachable(exc, self.conn) if isinstance(exc, self._errors.ConnectionError) else None

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self._call(self._c.indices.put_index_template, name=name, body=body)

    def index_exists(self, name: str) -> bool:
        return bool(self._call(self._c.indices.exists, index=name))

    def create_index(self, name: str, body: dict[str, Any]) -> bool:
        try:
            self._call(self._c.indices.create, index=name, body=body)
            return True
        except getattr(self._errors, self._bad_request) as e:
            if "resource_already_exists_exception" in str(e):
                return False
            raise

    def _mget(self, index: str, ids: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        try:
            return self._mget(index, list(ids))["docs"]
        except NotFound:
            return [{"_id": i, "found": False} for i in ids]

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        try:
            return self._call(self._c.get, index=index, id=doc_id)
        except NotFound:
            return None

    @staticmethod
    def _put_params(if_seq_no: int | None, if_primary_term: int | None, create: bool, refresh: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"refresh": "true" if refresh else "false"}
        if create:
            params["op_type"] = "create"
        if if_seq_no is not None:
            params.update(if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        return params

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self._c.search, index=index, body=body)

    def count(self, index: str, body: dict[str, Any] | None = None) -> int:
        return int(self._call(self._c.count, index=index, body=body)["count"])

    def delete_everything(self, prefix: str) -> None:
        names = list(self._call(self._c.indices.get, index=f"{prefix}-*", expand_wildcards="all"))
        for name in names:
            self._call(self._c.indices.delete, index=name)
        try:
            self._call(self._c.indices.delete_index_template, name=f"{prefix}-posts")
        except NotFound:
            pass

    def close(self) -> None:
        self._c.close()

    def expunge_deletes(self, index: str) -> None:
        """Rewrite the segments of `index` that hold deleted documents (their text leaves the files)."""
        self._call(self._c.indices.forcemerge, index=index, only_expunge_deletes=True)

    def refresh(self, index: str) -> None:
        """Make every write to `index` (a name or pattern) visible to searches now."""
        self._call(self._c.indices.refresh, index=index)


class ElasticsearchClient(_PythonClient):
    engine = "elasticsearch"
    _bad_request = "BadRequestError"

    def __init__(self, conn: Connection) -> None:
        import elasticsearch

        self._errors = elasticsearch
        self.conn = conn
        kwargs: dict[str, Any] = {"request_timeout": conn.request_timeout, "max_retries": 3, "retry_on_timeout": True}
        if conn.username is not None:
            kwargs["basic_auth"] = (conn.username, conn.password or "")
        if conn.api_key is not None:
            kwargs["api_key"] = conn.api_key
        if conn.ca_certs:
            kwargs["ca_certs"] = conn.ca_certs
        self._c = elasticsearch.Elasticsearch(list(conn.hosts), **kwargs)

    def bulk(self, operations: Sequence[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
        return self._call(self._c.bulk, operations=list(operations), refresh="true" if refresh else "false")

    def _mget(self, index: str, ids: list[str]) -> dict[str, Any]:
        return self._call(self._c.mget, index=index, ids=ids)

    def put(self, index: str, doc_id: str, doc: dict[str, Any], *, if_seq_no: int | None = None,
            if_primary_term: int | None = None, create: bool = False, refresh: bool = False) -> dict[str, Any]:
        return self._call(self._c.index, index=index, id=doc_id, document=doc,
                          **self._put_params(if_seq_no, if_primary_term, create, refresh))


class OpenSearchClient(_PythonClient):
    engine = "opensearch"
    _bad_request = "RequestError"

    def __init__(self, conn: Connection) -> None:
        import opensearchpy

        self._errors = opensearchpy.exceptions
        self.conn = conn
        if conn.api_key is not None:
            raise SentinelError("OpenSearch 后端不支持 api_key_env（那是 Elasticsearch 的 API 密钥）："
                                "请改用 username_env 和 password_env")
        # the dashboard's threads and the jobs share the client: a connection each, not one (urllib3's default)
        kwargs: dict[str, Any] = {"timeout": conn.request_timeout, "max_retries": 3, "retry_on_timeout": True,
                                  "pool_maxsize": 16}
        if conn.username is not None:
            kwargs["http_auth"] = (conn.username, conn.password or "")
        if conn.ca_certs:
            kwargs.update(ca_certs=conn.ca_certs, verify_certs=True)
        self._c = opensearchpy.OpenSearch(list(conn.hosts), **kwargs)

    def bulk(self, operations: Sequence[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
        return self._call(self._c.bulk, body=list(operations), refresh="true" if refresh else "false")

    def _mget(self, index: str, ids: list[str]) -> dict[str, Any]:
        return self._call(self._c.mget, index=index, body={"ids": ids})

    def put(self, index: str, doc_id: str, doc: dict[str, Any], *, if_seq_no: int | None = None,
            if_primary_term: int | None = None, create: bool = False, refresh: bool = False) -> dict[str, Any]:
        return self._call(self._c.index, index=index, id=doc_id, body=doc,
                          params=self._put_params(if_seq_no, if_primary_term, create, refresh))


def chunks(items: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
