"""`file`: watches `<data-dir>/inbox/` for `.jsonl` and `.csv` files in the post record format.

Files are taken oldest first. Records are read in batches; the checkpoint (file name, inode, byte
offset, line number) is saved with each batch, so a crash resumes mid-file without loss or
duplicates. A malformed line becomes a dead letter with its reason; the rest of the file is still
ingested. A finished file moves to `inbox/done/`; a CSV without the required columns moves to
`inbox/failed/`. Write files under a temporary name (`.tmp`, `.part`) and rename them when complete.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from collectors.base import Batch, Collector
from collectors.records import COLUMNS, REQUIRED, post_from_record
from core.config import Settings
from core.domain import Post
from core.errors import RecordError
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")
SUFFIXES = (".jsonl", ".csv")
SETTLE_SECONDS = 2.0  # a last line without newline is complete once the file is this old


class FileCollector(Collector):
    type_name = "file"
    title_zh = "收件箱文件（JSONL/CSV）"
    options_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "type": {"const": "file"},
            "path": {"type": "string"},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000},
        },
        "additionalProperties": False,
    }

    def __init__(self, name: str, inbox: Path, batch_size: int = 500, settle_s: float = SETTLE_SECONDS) -> None:
        super().__init__(name)
        self.inbox = inbox
        self.batch_size = batch_size
        self.settle_s = settle_s
        for sub in ("", "done", "failed"):
            (inbox / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "FileCollector":
        inbox = Path(cfg["path"]) if cfg.get("path") else settings.inbox
        return cls(cfg["name"], inbox, int(cfg.get("batch_size", settings.batch_size)))

    # ------------------------------------------------------------------ fetch
    def fetch(self, checkpoint: str | None) -> Batch:
        cp: dict[str, Any] = json.loads(checkpoint) if checkpoint else {}
        current = self._resolve(cp)
        if current is None:
            return Batch()
        path, start = current
        ino = path.stat().st_ino
        if start is None:  # a new file
            cp = {"file": path.name, "ino": ino, "offset": 0, "line": 0}
        if path.suffix == ".csv":
            return self._read_csv(path, cp)
        return self._read_jsonl(path, cp)

    def _resolve(self, cp: dict[str, Any]) -> tuple[Path, int | None] | None:
        """The file to read now and its start offset (None = from the beginning)."""
        if cp.get("file"):
            path = self.inbox / cp["file"]
            same = path.is_file() and path.stat().st_ino == cp.get("ino")
            if same and cp.get("done"):
                self._move(path, "done")  # crashed between commit and move: finish the move
            elif same:
                return path, int(cp["offset"])
        files = self._pending_files()
        return (files[0], None) if files else None

    def _pending_files(self) -> list[Path]:
        found = [
            p for p in self.inbox.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
        ]
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def _lines(self, path: Path, offset: int):
        """Yield (line_bytes, end_offset) of complete lines from `offset`."""
        settled = time.time() - path.stat().st_mtime >= self.settle_s
        with path.open("rb") as fh:
            fh.seek(offset)
            while True:
                line = fh.readline()
                if not line:
                    return
                if not line.endswith(b"\n") and not settled:
                    return  # still being written
                yield line, fh.tell()

    def _read_jsonl(self, path: Path, cp: dict[str, Any]) -> Batch:
        batch = Batch(note=path.name)
        offset, lineno = int(cp["offset"]), int(cp["line"])
        for raw, end in self._lines(path, offset):
            lineno += 1
            offset = end
            if raw.strip():
                self._take(batch, raw, lineno, path, lambda text: json.loads(text))
            if len(batch.posts) + len(batch.dead) >= self.batch_size:
                break
        return self._finish(batch, path, cp, offset, lineno)

    def _read_csv(self, path: Path, cp: dict[str, Any]) -> Batch:
        batch = Batch(note=path.name)
        offset, lineno = int(cp["offset"]), int(cp["line"])
        header: list[str] | None = cp.get("header")
        pending, first_line = b"", lineno + 1
        for raw, end in self._lines(path, offset):
            lineno += 1
            pending += raw
            if pending.count(b'"') % 2:  # a quoted field spans lines: keep reading
                continue
            chunk, pending, start_line, offset = pending, b"", first_line, end
            first_line = lineno + 1
            if header is None:
                header = self._header(chunk, path)
                if header is None:
                    batch.dead.append(DeadLetter(
                        source=f"inbox/{path.name}:1", raw=chunk.decode("utf-8", "replace")[:2000],
                        error=f"CSV 表头缺少必填列（需要 {', '.join(REQUIRED)}），整个文件已移到 inbox/failed/",
                    ))
                    batch.checkpoint = json.dumps({**cp, "offset": offset, "line": lineno, "done": True})
                    batch.context["move"] = (path, "failed")
                    return batch
                continue
            if chunk.strip():
                self._take(batch, chunk, start_line, path, lambda text, h=header: _csv_record(text, h))
            if len(batch.posts) + len(batch.dead) >= self.batch_size:
                break
        cp = {**cp, "header": header}
        return self._finish(batch, path, cp, offset, first_line - 1)

    @staticmethod
    def _header(chunk: bytes, path: Path) -> list[str] | None:
        text = chunk.decode("utf-8-sig", "replace")
        header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
        return header if all(col in header for col in REQUIRED) else None

    def _take(self, batch: Batch, raw: bytes, lineno: int, path: Path, parse) -> None:
        source = f"inbox/{path.name}:{lineno}"
        try:
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise RecordError("不是 UTF-8 编码（Excel 导出的 GBK 文件请另存为“CSV UTF-8”）") from None
            try:
                record = parse(text)
            except json.JSONDecodeError as exc:
                raise RecordError(f"不是合法的 JSON：{exc.msg}（第 {exc.colno} 列）") from None
            post: Post = post_from_record(record)
        except RecordError as exc:
            batch.dead.append(DeadLetter(source=source, raw=raw.decode("utf-8", "replace")[:4000], error=str(exc)))
            return
        post.raw.setdefault("_source", source)
        batch.posts.append(post)

    def _finish(self, batch: Batch, path: Path, cp: dict[str, Any], offset: int, lineno: int) -> Batch:
        at_end = offset >= path.stat().st_size
        done = at_end and time.time() - path.stat().st_mtime >= self.settle_s
        batch.checkpoint = json.dumps({**cp, "offset": offset, "line": lineno, "done": done}, ensure_ascii=False)
        if done:
            batch.context["move"] = (path, "done")
            batch.more = bool(self._pending_files()[1:])
        else:
            batch.more = not at_end
        return batch

    def after_commit(self, batch: Batch) -> None:
        if "move" in batch.context:
            path, where = batch.context["move"]
            self._move(path, where)

    def _move(self, path: Path, where: str) -> None:
        target = self.inbox / where / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}.{time.strftime('%Y%m%d%H%M%S')}.{os.getpid()}{path.suffix}")
        path.replace(target)
        log.info("收件箱文件 %s 已处理完毕，移到 inbox/%s/", path.name, where)


def _csv_record(text: str, header: list[str]) -> dict[str, Any]:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) != 1:
        raise RecordError("CSV 行格式错误：无法解析为一条记录")
    values = rows[0]
    if len(values) != len(header):
        raise RecordError(f"CSV 列数不对：表头 {len(header)} 列，本行 {len(values)} 列")
    return {k: (v if v != "" or k in REQUIRED else None) for k, v in zip(header, values) if k in COLUMNS or v}
