"""Union Sentinel (高校工会舆情哨兵) — the one entry point.

    python scheduler.py [--demo] [--config FILE] [--data-dir DIR] [--host 127.0.0.1] [--port 8000]

APScheduler runs collection, analysis + rules, alert delivery, model/debunk refresh, case upkeep and
retention (core/privacy.py); the dashboard, with /metrics, is served from the same process (waitress). SIGTERM or SIGINT: the batch in flight
finishes, then the process exits 0. Several instances may share one store: only the holder of the
worker lease (core/lease.py) runs the jobs; the others serve the dashboard and take over when it stops.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Callable

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from core.cli import ChineseArgumentParser
from core.config import Settings, load_settings
from core.errors import SentinelError
from core.lease import WorkerLease
from core.logs import setup_logging

log = logging.getLogger("sentinel")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ChineseArgumentParser(
        prog="python scheduler.py",
        description="高校工会舆情哨兵：收集评论、分析情感/广告/谣言、按规则预警，并提供审核看板。",
        epilog="示例：python scheduler.py --demo   （用演示数据启动，浏览器打开 http://127.0.0.1:8000 ，"
        "账号 admin/moderator/officer/leader，密码 demo）",
    )
    p.add_argument("--demo", action="store_true",
                   help="演示模式：回放内置的合成样例数据，并创建 admin、moderator、officer、leader 四个账号"
                        "（密码均为 demo）；只允许在本机地址上监听")
    p.add_argument("--config", metavar="FILE", help="YAML 配置文件（渠道、通知、规则路径等），见 config.example.yaml")
    p.add_argument("--data-dir", metavar="DIR", help="数据目录（数据库、收件箱 inbox/、密钥），默认 ./data")
    p.add_argument("--host", help="看板监听地址，默认 127.0.0.1")
    p.add_argument("--port", type=int, help="看板端口，默认 8000")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="日志级别，默认 INFO")
    return p.parse_args(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False


def build_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(
        args.config,
        overrides={"data_dir": args.data_dir, "web.host": args.host, "web.port": args.port},
    )
    settings.demo = args.demo
    if args.demo and not is_loopback(settings.host):
        raise SentinelError(
            f"演示模式的账号密码是公开的（demo），不允许监听非本机地址 {settings.host}。"
            "请去掉 --host 或改用 127.0.0.1；正式部署请不带 --demo 运行，并用 python -m dashboard.users 创建账号。"
        )
    return settings


class Service:
    """The process: scheduler jobs + web server + signal handling."""

    def __init__(self, settings: Settings) -> None:
        from core.service import Sentinel  # heavy imports (models) after argument checks

        self.settings = settings
        self.stopping = threading.Event()
        self.sentinel = Sentinel.build(settings)
        self.scheduler = BackgroundScheduler(timezone=settings.timezone)
        self.server = None

    def start(self) -> None:
        from dashboard import create_app, seed_demo_users, server_options
        from waitress.server import create_server

        if self.settings.demo:
            created = seed_demo_users(self.sentinel.store)
            if created:
                log.info("演示账号已创建：%s（密码均为 demo，仅限本机访问）", "、".join(created))
        app = create_app(self.sentinel.store, self.settings, status=self.sentinel.status,
                         write_actions=self.sentinel.write_actions, metrics=self.sentinel.metrics)
        self.server = create_server(app, host=self.settings.host, port=self.settings.port, threads=8,
                                    **server_options(self.settings))
        threading.Thread(target=self.server.run, name="web", daemon=True).start()
        log.info("看板已启动：http://%s:%d/", self.settings.host, self.settings.port)

        self.sentinel.start()  # listeners of push channels
        sentinel = self.sentinel
        sentinel.lease = lease = WorkerLease(sentinel.store, ttl=self.settings.lease_ttl,
                                             renew=self.settings.lease_renew, clock=sentinel.clock)
        if not lease.tick():
            log.info("另一个实例（%s）持有工作租约：本实例先待命，只提供看板，对方停止续租后自动接手",
                     lease.state.holder if lease.state else "?")
        lease.on_gain = sentinel.take_over  # later gains: refill windows from what the other one stored

        def stop() -> bool:  # the batch in flight finishes; none starts after a stop or a lost lease
            return self.stopping.is_set() or not sentinel.active()

        def worker(func: Callable[[], object]) -> Callable[[], None]:
            return lambda: None if not sentinel.active() else func()

        iv = self.settings.intervals
        jobs = [
            ("lease", lease.tick, self.settings.lease_renew.total_seconds()),
            ("collect", worker(lambda: sentinel.collect(stop)), iv["collect"]),
            ("process", worker(lambda: sentinel.process(stop)), iv["analyze"]),
            ("deliver", worker(sentinel.deliver), iv["deliver"]),
            ("refresh", sentinel.refresh, 30.0),
            ("maintain", worker(sentinel.maintain), 300.0),  # rumour cases quiet long enough subside
            ("retention", worker(sentinel.retain), iv["retention"]),  # personal data redacted, old posts deleted
        ]
        for name, func, seconds in jobs:
            self.scheduler.add_job(func, "interval", seconds=seconds, id=name, name=name, max_instances=1,
                                   coalesce=True, next_run_time=_now(self.settings))
        self.scheduler.add_listener(_job_error, EVENT_JOB_ERROR)
        self.scheduler.start()

    def stop(self) -> None:
        log.info("收到停止信号：等待进行中的批次完成后退出……")
        self.stopping.set()
        self.scheduler.shutdown(wait=True)
        if self.sentinel.lease is not None:
            self.sentinel.lease.release()  # another instance takes over at once
        if self.server is not None:
            self.server.close()
        self.sentinel.close()
        log.info("已安全退出")


def _now(settings: Settings):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(settings.timezone))


def _job_error(event: JobExecutionEvent) -> None:
    log.error("任务 %s 出错：%r（将在下个周期重试）", event.job_id, event.exception)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    got_signal = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        got_signal.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        settings = build_settings(args)
        service = Service(settings)
        service.start()
    except SentinelError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("启动失败：%s（端口被占用？可用 --port 换一个端口）", exc)
        return 2
    while not got_signal.wait(1.0):
        pass
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
