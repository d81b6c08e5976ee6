"""Configuration, in one place.

Precedence: built-in defaults < the YAML file (`--config`) < environment (`SENTINEL_*`) < command
line. The file is validated against a JSON schema at start; errors name the file and the field.
Secrets never live in the file: options ending in `_env` name an environment variable instead.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "data_dir": "./data",
    "timezone": "Asia/Shanghai",
    "web": {
        "host": "127.0.0.1",
        "port": 8000,
        "external_url": "",  # how users reach the dashboard, e.g. https://yuqing.union.example.edu.cn/
        "secure_cookies": None,  # None: on when external_url is https
        "trusted_proxies": 0,  # reverse proxies in front (nginx: 1) whose X-Forwarded-* are believed
        "session_hours": 12,  # a sign-in lasts at most this long
        "idle_minutes": 120,  # and ends after this long without a request
    },
    "store": {"backend": "sqlite"},
    "rules": str(PROJECT_ROOT / "rules" / "default.yaml"),
    "intervals": {"collect": 2.0, "analyze": 1.0, "deliver": 5.0, "retention": 60.0},
    "batch_size": 1000,  # posts per batch (1000: about 4% faster end to end than 500 in core.bench)
    "ingest": {
        "earliest": "2000-01-01",  # posts dated before this day are dead letters
        "future_skew_minutes": 10,  # posts dated later than now + this are dead letters
        "quarantine_after": 3,  # a record that fails a stage this many times is set aside
    },
    "health": {"degraded_after": 3},  # consecutive failures of a job before /healthz says degraded
    "cases": {"subside_after_hours": 48},  # a clarified rumour quiet this long goes to 平息 by itself
    # the university's own web domains (e.g. xxdx.edu.cn): a link elsewhere that carries their name is a
    # look-alike (phishing); links on them are official sources
    "official_domains": [],
    # how long posts and their personal data are kept (days; None: for ever), see core/privacy.py
    "retention": {"posts_days": None, "pii_days": None},
    # GET /metrics (Prometheus): loopback only, unless token_env names a variable holding a bearer token
    "metrics": {"token_env": ""},
    # several instances on one store: the `worker` lease holder collects, analyses and delivers; the
    # others serve the dashboard and take over within ttl + renew seconds of its end (core/lease.py)
    "lease": {"ttl_seconds": 20, "renew_seconds": 5},
    "channels": [],
    "notifiers": [],
}

_ITEM = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {"name": {"type": "string", "minLength": 1}, "type": {"type": "string"}},
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "data_dir": {"type": "string"},
        "timezone": {"type": "string"},
        "web": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "external_url": {"type": "string", "pattern": "^(https?://[^\\s]+)?$"},
                "secure_cookies": {"type": ["boolean", "null"]},
                "trusted_proxies": {"type": "integer", "minimum": 0, "maximum": 5},
                "session_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 720},
                "idle_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 43200},
            },
        },
        "store": {
            "type": "object",
            "required": ["backend"],
            "additionalProperties": False,
            "properties": {
                "backend": {"type": "string"},  # sqlite | elasticsearch | opensearch (store.BACKENDS)
                # the search-cluster backends (store/search, docs/scale-out.md): see _check_store
                "hosts": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^https?://[^\\s/]+/?$"}},
                "username_env": {"type": "string"},
                "password_env": {"type": "string"},
                "api_key_env": {"type": "string"},
                "ca_certs": {"type": "string"},
                "index_prefix": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
            },
        },
        "rules": {"type": "string"},
        "intervals": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                k: {"type": "number", "exclusiveMinimum": 0} for k in ("collect", "analyze", "deliver", "retention")
            },
        },
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000},
        "ingest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "earliest": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                "future_skew_minutes": {"type": "number", "minimum": 0, "maximum": 1440},
                "quarantine_after": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        },
        "health": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"degraded_after": {"type": "integer", "minimum": 1, "maximum": 1000}},
        },
        "cases": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"subside_after_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 24 * 365}},
        },
        "official_domains": {"type": "array", "items": {
            "type": "string", "pattern": "^(?:[a-zA-Z0-9](?:[a-zA-Z0-9\\-]*[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,}$"}},
        "retention": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": ["number", "null"], "minimum": 0, "maximum": 36500}
                           for k in ("posts_days", "pii_days")},
        },
        "metrics": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"token_env": {"type": "string"}},
        },
        "lease": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"ttl_seconds": {"type": "number", "minimum": 3, "maximum": 600},
                           "renew_seconds": {"type": "number", "minimum": 0.5, "maximum": 200}},
        },
        "channels": {"type": "array", "items": _ITEM},
        "notifiers": {"type": "array", "items": _ITEM},
        "routing": {"type": "object"},  # checked in detail by alerts/routing.py (errors name the field)
    },
}


@dataclass
class Settings:
    data_dir: Path
    timezone: str
    host: str
    port: int
    store: dict[str, Any]
    rules_file: Path
    intervals: dict[str, float]
    batch_size: int
    channels: list[dict[str, Any]]
    notifiers: list[dict[str, Any]]
    demo: bool = False
    config_file: str = "<默认配置>"
    raw: dict[str, Any] = field(default_factory=dict)
    # web
    external_url: str = ""
    secure_cookies: bool = False
    trusted_proxies: int = 0
    session_lifetime: timedelta = timedelta(hours=12)
    idle_timeout: timedelta = timedelta(minutes=120)
    # the ingestion boundary and resilience
    earliest: datetime = datetime(2000, 1, 1, tzinfo=timezone.utc)
    future_skew: timedelta = timedelta(minutes=10)
    quarantine_after: int = 3
    degraded_after: int = 3
    routing: dict[str, Any] = field(default_factory=dict)  # who is told what (alerts/routing.py)
    subside_after: timedelta = timedelta(hours=48)  # 已澄清 → 平息 after this long without a new post
    official_domains: tuple[str, ...] = ()  # the university's own web domains (nlp.domains)
    retention_posts_days: float | None = None  # posts, analyses and flags deleted after this (aggregates kept)
    retention_pii_days: float | None = None  # personal data in stored texts redacted after this
    metrics_token: str | None = None  # bearer token for /metrics from elsewhere than loopback (from the env)
    lease_ttl: timedelta = timedelta(seconds=20)  # how long the worker lease lasts unless renewed
    lease_renew: timedelta = timedelta(seconds=5)  # how often its holder renews it (others try to take it)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "sentinel.db"

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path]
    return ".".join(parts).replace(".[", "[") or "(顶层)"


def validate(data: Any, schema: dict[str, Any], file: str, prefix: str = "") -> None:
    """Validate `data`; raise ConfigError naming file and field of the first problem."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = _field_path(e)
        if prefix:
            where = prefix if where == "(顶层)" else f"{prefix}.{where}"
        raise ConfigError(file, where, _explain(e))


def _explain(e: jsonschema.ValidationError) -> str:
    v = e.validator
    if v == "required":
        missing = [m for m in e.validator_value if isinstance(e.instance, dict) and m not in e.instance]
        return f"缺少必填项 {', '.join(missing)}"
    if v == "additionalProperties":
        allowed = "、".join(sorted(e.schema.get("properties", {})))
        return f"有不认识的字段（{e.message.split('(')[-1].rstrip(')')}），可用字段：{allowed}"
    if v == "type":
        return f"类型应为 {e.validator_value}，实际是 {type(e.instance).__name__}：{e.instance!r}"
    if v == "enum":
        return f"取值应为 {'、'.join(map(str, e.validator_value))} 之一，实际是 {e.instance!r}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "minItems"):
        return f"取值 {e.instance!r} 超出范围（{v} {e.validator_value}）"
    if v == "pattern":
        return f"取值 {e.instance!r} 格式不对（应匹配 {e.validator_value}）"
    return e.message


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build Settings: defaults < file < env < overrides (command line)."""
    env = os.environ if env is None else env
    data: dict[str, Any] = copy.deepcopy(DEFAULTS)
    file_label = "<默认配置>"
    if config_file:
        path = Path(config_file)
        file_label = str(path)
        if not path.is_file():
            raise ConfigError(file_label, "", "文件不存在，请检查 --config 路径")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行" if mark else ""
            raise ConfigError(file_label, where, f"YAML 语法错误：{exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(file_label, "", "顶层应是键值映射（mapping）")
        validate(loaded, SCHEMA, file_label)
        data = _merge(data, loaded)
        if "rules" in loaded and not Path(loaded["rules"]).is_absolute():
            data["rules"] = str((path.parent / loaded["rules"]).resolve())
    env_map = {
        "SENTINEL_DATA_DIR": ("data_dir", str),
        "SENTINEL_HOST": ("web.host", str),
        "SENTINEL_PORT": ("web.port", int),
        "SENTINEL_RULES": ("rules", str),
        "SENTINEL_EXTERNAL_URL": ("web.external_url", str),
        "SENTINEL_TRUSTED_PROXIES": ("web.trusted_proxies", int),
    }
    for var, (dotted, conv) in env_map.items():
        if var in env and env[var] != "":
            try:
                _set(data, dotted, conv(env[var]))
            except ValueError:
                raise ConfigError(f"环境变量 {var}", "", f"取值 {env[var]!r} 无效") from None
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set(data, dotted, value)
    validate(data, SCHEMA, file_label)
    web, ingest = data["web"], data["ingest"]
    try:
        earliest = date.fromisoformat(ingest["earliest"])
    except ValueError:
        raise ConfigError(file_label, "ingest.earliest", f"取值 {ingest['earliest']!r} 不是有效日期，示例 2000-01-01") from None
    external_url = str(web.get("external_url") or "")
    retention = data["retention"]
    posts_days, pii_days = retention.get("posts_days"), retention.get("pii_days")
    if posts_days is not None and pii_days is not None and pii_days > posts_days:
        raise ConfigError(file_label, "retention.pii_days",
                          f"取值 {pii_days!r} 大于 retention.posts_days（{posts_days!r}）：帖子删除前个人信息应已遮盖，"
                          "请把 pii_days 设为不大于 posts_days")
    _check_store(data["store"], file_label)
    token_env = str(data["metrics"].get("token_env") or "")
    lease = data["lease"]
    if float(lease["renew_seconds"]) * 2 > float(lease["ttl_seconds"]):
        raise ConfigError(file_label, "lease.renew_seconds",
                          f"取值 {lease['renew_seconds']!r} 太大：续租间隔应不超过 lease.ttl_seconds"
                          f"（{lease['ttl_seconds']!r}）的一半，否则租约会在续租前过期、两个实例轮流接手")
    secure = web.get("secure_cookies")
    return Settings(
        data_dir=Path(data["data_dir"]).expanduser(),
        timezone=data["timezone"],
        host=data["web"]["host"],
        port=int(data["web"]["port"]),
        store=data["store"],
        rules_file=Path(data["rules"]),
        intervals={k: float(v) for k, v in data["intervals"].items()},
        batch_size=int(data["batch_size"]),
        channels=list(data["channels"]),
        notifiers=list(data["notifiers"]),
        config_file=file_label,
        raw=data,
        external_url=external_url,
        secure_cookies=external_url.lower().startswith("https://") if secure is None else bool(secure),
        trusted_proxies=int(web["trusted_proxies"]),
        session_lifetime=timedelta(hours=float(web["session_hours"])),
        idle_timeout=timedelta(minutes=float(web["idle_minutes"])),
        earliest=datetime(earliest.year, earliest.month, earliest.day, tzinfo=timezone.utc),
        future_skew=timedelta(minutes=float(ingest["future_skew_minutes"])),
        quarantine_after=int(ingest["quarantine_after"]),
        degraded_after=int(data["health"]["degraded_after"]),
        routing=dict(data.get("routing") or {}),
        subside_after=timedelta(hours=float(data["cases"]["subside_after_hours"])),
        official_domains=tuple(d.lower() for d in data["official_domains"]),
        retention_posts_days=None if posts_days is None else float(posts_days),
        retention_pii_days=None if pii_days is None else float(pii_days),
        metrics_token=secret_from_env(token_env, "metrics.token_env", env) if token_env else None,
        lease_ttl=timedelta(seconds=float(lease["ttl_seconds"])),
        lease_renew=timedelta(seconds=float(lease["renew_seconds"])),
    )


SEARCH_BACKENDS = ("elasticsearch", "opensearch")
_CLUSTER_KEYS = ("hosts", "username_env", "password_env", "api_key_env", "ca_certs", "index_prefix")


def _check_store(store: dict[str, Any], file: str) -> None:
    """What the schema cannot say about the `store:` block: which keys go with which backend."""
    backend = store.get("backend")
    if backend not in SEARCH_BACKENDS:
        extra = [k for k in _CLUSTER_KEYS if k in store]
        if extra:
            raise ConfigError(file, f"store.{extra[0]}",
                              f"只用于 elasticsearch / opensearch 后端，当前后端是 {backend!r}：删掉它或换后端")
        return
    if not store.get("hosts"):
        raise ConfigError(file, "store.hosts", f"{backend} 后端需要至少一个节点地址，例如 [https://127.0.0.1:9200]")
    if backend == "opensearch" and store.get("api_key_env"):
        raise ConfigError(file, "store.api_key_env", "OpenSearch 没有 Elasticsearch 式的 API 密钥：改用 username_env 和 password_env")
    if bool(store.get("username_env")) != bool(store.get("password_env")):
        missing = "password_env" if store.get("username_env") else "username_env"
        raise ConfigError(file, f"store.{missing}", "username_env 和 password_env 要一起设置（各自写存放用户名、密码的环境变量名）")
    ca = store.get("ca_certs")
    if ca and not Path(ca).expanduser().is_file():
        raise ConfigError(file, "store.ca_certs", f"文件 {ca} 不存在：写集群 CA 证书（PEM）的路径")


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


def secret_from_env(option_value: str | None, what: str, env: dict[str, str] | None = None) -> str | None:
    """Resolve a `*_env` option: the named environment variable's value, or None if unset."""
    if not option_value:
        return None
    env = os.environ if env is None else env
    return env.get(option_value) or None
