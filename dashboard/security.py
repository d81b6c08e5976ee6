"""The secret key and the security headers every response carries."""
from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from flask import Response, request

log = logging.getLogger("sentinel.dashboard")

SECRET_ENV = "SENTINEL_SECRET_KEY"
SECRET_FILE = "secret_key"

CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def load_secret_key(data_dir: str | os.PathLike[str], env: dict[str, str] | None = None) -> str:
    """The key that signs sessions and CSRF tokens: `$SENTINEL_SECRET_KEY` if set, else the file
    `<data_dir>/secret_key`, created once (random, mode 0600) and reused on every start."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return env[SECRET_ENV]
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = _read_key(path)
    if existing:
        return existing
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race, or an empty leftover file
        existing = _read_key(path)
        if existing:
            return existing
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o600)
    log.info("已生成会话密钥文件 %s（权限 0600，请勿泄露或提交到版本库）", path)
    return key


def _read_key(path: Path) -> str | None:
    if not path.is_file():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("会话密钥文件 %s 的权限过宽（%o），已收紧为 0600", path, mode)
    key = path.read_text(encoding="ascii").strip()
    return key or None


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")  # pages carry personal data
    return response
