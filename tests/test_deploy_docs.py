"""docs/deploy.md: its commands really run (paths pointed at a temporary directory), its config is
valid, and its systemd unit starts the service the way scheduler.py expects."""
from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from core.config import load_settings
from scheduler import parse_args

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deploy.md"
VENV_PYTHON = "/opt/union-sentinel/.venv/bin/python"


def blocks(lang: str | None = None) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", text, flags=re.S | re.M)
    return [body for kind, body in found if lang is None or kind == lang]


def commands() -> list[str]:
    """Every `python -m …` line of the page, in order, as it would be typed (cron's time fields off)."""
    out = []
    for body in blocks():
        for line in body.splitlines():
            line = line.strip()
            if f"{VENV_PYTHON} -m " in line:
                out.append(re.sub(r"^(?:[\d*]+\s+){5}", "", line))
    return out


def test_the_commands_of_the_deploy_guide_run(tmp_path):
    data, backups = tmp_path / "lib" / "data", tmp_path / "backups"
    backups.mkdir()
    config = tmp_path / "sentinel.yaml"
    config.write_text(f"data_dir: {data}\n", encoding="utf-8")
    paths = {"/etc/sentinel/sentinel.yaml": str(config), "/var/lib/sentinel/data": str(data),
             "/var/lib/sentinel/restore-check": str(tmp_path / "lib" / "restore-check"),
             "/var/backups/sentinel": str(backups), VENV_PYTHON: sys.executable, "/opt/union-sentinel": str(ROOT)}
    ran = []
    for line in commands():
        for old, new in paths.items():
            line = line.replace(old, new)
        line = line.replace("sudo -u sentinel ", "")
        done = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        ran.append(shlex.split(line)[2])
    assert {"store.migrate", "rules.check", "store.backup", "store.restore", "store.erase"} <= set(ran)
    assert list(backups.glob("sentinel-*.db")) and (backups / "before-upgrade.db").is_file()
    assert (tmp_path / "lib" / "restore-check" / "sentinel.db").is_file()


def test_the_guides_config_is_valid(tmp_path):
    yml = next(b for b in blocks("yaml") if "trusted_proxies" in b)
    path = tmp_path / "sentinel.yaml"
    path.write_text(yml, encoding="utf-8")
    settings = load_settings(path, overrides={"data_dir": str(tmp_path / "data")}, env={})
    assert settings.trusted_proxies == 1 and settings.secure_cookies and settings.host == "127.0.0.1"
    assert settings.retention_pii_days == 180
    prometheus = yaml.safe_load(next(b for b in blocks("yaml") if "scrape_configs" in b))
    assert prometheus["scrape_configs"][0]["authorization"]["type"] == "Bearer"


def test_the_systemd_unit_runs_the_service_with_the_config(tmp_path):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(blocks("ini")[0])
    service = unit["Service"]
    exec_start = shlex.split(service["ExecStart"])
    assert exec_start[0] == VENV_PYTHON and exec_start[1] == "scheduler.py"
    args = parse_args(exec_start[2:])
    assert args.config == "/etc/sentinel/sentinel.yaml" and not args.demo
    assert service["KillSignal"] == "SIGTERM" and service["User"] == "sentinel"
    assert "/var/lib/sentinel" in service["ReadWritePaths"] and service["WorkingDirectory"] == "/opt/union-sentinel"


def test_systemd_accepts_the_unit(tmp_path):
    import shutil

    import pytest

    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "sentinel.service"
    unit.write_text(blocks("ini")[0].replace(VENV_PYTHON, sys.executable), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
