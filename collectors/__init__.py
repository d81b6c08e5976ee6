"""Collectors: one module per platform, found by type name in `COLLECTORS`.

Adding a channel type is one new file with a `Collector` subclass plus one line below.
"""
from __future__ import annotations

from core.config import Settings
from core.errors import ConfigError, UnknownNameError
from core.registry import Registry
from collectors.base import Batch, Collector, CollectorRunner
from collectors.demo import DemoCollector
from collectors.douyin import DouyinCollector
from collectors.file import FileCollector
from collectors.http_json import HttpJsonCollector
from collectors.onebot import OneBotCollector
from collectors.rss import RssCollector
from collectors.wechat_mp import WeChatMpCollector
from collectors.weibo import WeiboCollector

COLLECTORS: Registry[Collector] = Registry("渠道类型", {
    "file": FileCollector,
    "demo": DemoCollector,
    "weibo": WeiboCollector,
    "douyin": DouyinCollector,
    "wechat_mp": WeChatMpCollector,
    "onebot": OneBotCollector,
    "rss": RssCollector,
    "http_json": HttpJsonCollector,
})


def build_collectors(settings: Settings) -> list[Collector]:
    """The configured collectors. The inbox `file` collector is always on; `demo` joins with --demo."""
    configs: list[tuple[int | None, dict]] = list(enumerate(settings.channels))  # (index in the file, entry)
    if not any(c.get("type") == "file" for _, c in configs):
        configs.insert(0, (None, {"name": "inbox", "type": "file"}))
    if settings.demo and not any(c.get("type") == "demo" for _, c in configs):
        configs.append((None, {"name": "demo", "type": "demo"}))
    names: set[str] = set()
    collectors: list[Collector] = []
    for i, cfg in configs:
        where = f"channels[{i}]（{cfg.get('name', '?')}）" if i is not None else f"（内置渠道 {cfg['name']}）"
        if cfg["name"] in names:
            raise ConfigError(settings.config_file, where + ".name", f"渠道名 {cfg['name']} 重复")
        names.add(cfg["name"])
        try:
            cls = COLLECTORS.get(cfg["type"])
        except UnknownNameError as exc:
            raise ConfigError(settings.config_file, where + ".type", str(exc)) from None
        collectors.append(cls.from_config(cfg, settings, where))
    return collectors


__all__ = ["COLLECTORS", "Batch", "Collector", "CollectorRunner", "build_collectors"]
