"""Helpers for tests that start the real service process (python scheduler.py)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`python scheduler.py ...` in a subprocess, its log in a file for failure messages."""

    def __init__(self, data_dir: Path, *args: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.log_path = data_dir.parent / f"service-{self.port}-{time.time_ns()}.log"
        self.args = [sys.executable, str(ROOT / "scheduler.py"), "--data-dir", str(data_dir),
                     "--port", str(self.port), *args]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServiceProcess":
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return None

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, poll: float = 0.1) -> dict:
        deadline = time.monotonic() + timeout
        last: dict | None = None
        while time.monotonic() < deadline:
            assert self.proc and self.proc.poll() is None, f"服务进程意外退出：\n{self.log()}"
            last = self.health() or last
            if last is not None and predicate(last):
                return last
            time.sleep(poll)
        raise AssertionError(f"{timeout:.0f} 秒内未达到预期状态，最后一次 /healthz：{last}\n日志：\n{self.log()}")

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]
        except OSError:
            return ""

    def stop_quietly(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if hasattr(self, "_log"):
            self._log.close()
