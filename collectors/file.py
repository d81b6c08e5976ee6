"""`file`: watches `<data-dir>/inbox/` for `.jsonl` (or `.ndjson`) and `.csv` files in the post record format.

Files are taken oldest first. Records are read in batches; the checkpoint (file name, inode, byte
offset, line number) is saved with each batch, so a crash resumes mid-file without loss or
duplicates. A malformed record becomes a dead letter with its reason; the rest of the file is still
ingested. A finished file moves to `inbox/done/`; a CSV without the required columns moves to
`inbox/failed/`. Write files under a temporary name (`.tmp`, `.part`) and rename them when complete.

Only regular files that really live in the inbox are read: a symbolic link, a file with other hard
links, a FIFO or device, or a file whose name is not UTF-8 (or holds control characters) is never
opened; it moves to `inbox/failed/` with a dead letter saying why. Files are opened without following
links, and checked again after opening.

Every record is parsed on its own: whatever a line holds (invalid JSON, nesting too deep, numbers too
long, a line over 1 MiB, a CSV field over the csv module's limit, a stray quote), it ends up as a dead
letter and the next line is read. A CSV record may span lines only inside a quoted field; when such
a record does not come out as one row of the header's width, only its first line is a dead letter
and reading resumes on the next line, so a stray quote never swallows the good rows after it.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from collectors.base import Batch, Collector
from collectors.records import COLUMNS, REQUIRED, parse_time, post_from_record
from core.config import Settings
from core.errors import RecordError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")
SUFFIXES = (".jsonl", ".ndjson", ".csv")
# data files someone may well drop in by mistake: refused with a dead letter that says what to use
# (temporary names such as .tmp and .part are left alone: they are still being written)
UNSUPPORTED = (".json", ".txt", ".tsv", ".xlsx", ".xls", ".xml", ".gz", ".zip", ".bz2", ".xz", ".7z", ".rar")
SETTLE_SECONDS = 2.0  # a last line without newline is complete once the file is this old
MAX_LINE_BYTES = 1 << 20  # a longer line is a dead letter (it is skipped without being held in memory)
MAX_RECORD_LINES = 200  # a quoted CSV field may span at most this many lines
RAW_CHARS = 4000  # of a bad record kept in its dead letter


class LineTooLong(Exception):
    pass


@dataclass
class Line:
    data: bytes  # the line (for a too-long line: its first bytes)
    end: int  # byte offset just after it
    too_long: bool = False


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
        self._refused: set[tuple[str, int]] = set()  # (name, inode) reported but not moved away
        for sub in ("", "done", "failed"):
            (inbox / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "FileCollector":
        inbox = Path(cfg["path"]) if cfg.get("path") else settings.inbox
        return cls(cfg["name"], inbox, int(cfg.get("batch_size", settings.batch_size)))

    # ------------------------------------------------------------------ fetch
    def fetch(self, checkpoint: str | None) -> Batch:
        cp = _load_checkpoint(checkpoint)
        resumed = self._resume(cp)
        if resumed is None:
            ready, refused = self._scan()
            if refused:
                return self._refuse(*refused[0])
            if not ready:
                return Batch()
            path, ino = ready[0]
            cp = {"file": path.name, "ino": ino, "offset": 0, "line": 0}
        else:
            path, cp = resumed
        try:
            fh, st = self._open(path, cp["ino"])
        except FileNotFoundError:  # gone between listing and opening: look again
            return Batch(more=True)
        except (OSError, _Refused) as exc:
            return self._refuse(path, f"无法安全读取（{exc}）")
        with fh:
            settled = time.time() - st.st_mtime >= self.settle_s
            if path.suffix.lower() == ".csv":
                return self._read_csv(fh, path, cp, st.st_size, settled)
            return self._read_jsonl(fh, path, cp, st.st_size, settled)

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """Reading the current file keeps failing: move it to inbox/failed/ with a dead letter."""
        cp = _load_checkpoint(checkpoint)
        resumed = self._resume(cp)
        if resumed is not None:
            path = resumed[0]
        else:
            ready, _ = self._scan()
            if not ready:
                return None
            path = ready[0][0]
        return self._refuse(path, f"读取连续失败（{error}）")

    def _resume(self, cp: dict[str, Any]) -> tuple[Path, dict[str, Any]] | None:
        """The file the checkpoint is in the middle of, if it is still there (same inode)."""
        name = cp.get("file")
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            return None
        path = self.inbox / name
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_ino != cp.get("ino"):
            return None
        if cp.get("done"):  # crashed between commit and move: finish the move
            self._move(path, cp.get("to", "done"))
            return None
        return path, cp

    def _scan(self) -> tuple[list[tuple[Path, int]], list[tuple[Path, str]]]:
        """Files ready to read (oldest first, with their inode) and data files refused, with why."""
        ready: list[tuple[float, str, Path, int]] = []
        refused: list[tuple[Path, str]] = []
        with os.scandir(self.inbox) as entries:
            for entry in entries:
                name = entry.name
                suffix = os.path.splitext(name)[1].lower()
                if name.startswith(".") or suffix not in SUFFIXES + UNSUPPORTED:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    continue
                path = Path(entry.path)
                problem = _refusal(name, st) or _unsupported(name, st, self.settle_s)
                if problem:
                    if (name, st.st_ino) not in self._refused:
                        refused.append((path, problem))
                else:
                    ready.append((st.st_mtime, name, path, st.st_ino))
        ready.sort(key=lambda r: (r[0], r[1]))
        return [(p, ino) for _, _, p, ino in ready], refused

    def _open(self, path: Path, ino: Any) -> tuple[io.BufferedReader, os.stat_result]:
        """Open without following links, then check it is still the same plain, singly linked file."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
        try:
            st = os.fstat(fd)
            problem = _refusal(path.name, st) or ("文件在读取前被替换" if st.st_ino != ino else "")
            if problem:
                raise _Refused(problem)
            return os.fdopen(fd, "rb"), st
        except BaseException:
            os.close(fd)
            raise

    def _refuse(self, path: Path, reason: str) -> Batch:
        shown = display_name(path.name)
        try:
            self._refused.add((path.name, os.lstat(path).st_ino))
        except OSError:
            pass
        log.warning("收件箱文件 %s 未读取：%s，已移到 inbox/failed/", shown, reason)
        batch = Batch(note=shown, more=True)
        batch.dead.append(DeadLetter(source=f"inbox/{shown}", raw="",
                                     error=f"{reason}；文件已移到 inbox/failed/，未读取其内容"))
        batch.context["move"] = (path, "failed")
        return batch

    # ------------------------------------------------------------------ reading lines
    def _lines(self, fh: io.BufferedReader, offset: int, settled: bool) -> Iterator[Line]:
        """Complete lines from `offset` (a last line without newline only once the file settled).
        A line over MAX_LINE_BYTES is skipped in chunks and reported as too long."""
        fh.seek(offset)
        while True:
            data = fh.readline(MAX_LINE_BYTES + 1)
            if not data:
                return
            if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
                head = data[:RAW_CHARS]
                ended = False
                while True:
                    chunk = fh.readline(MAX_LINE_BYTES)
                    if not chunk:
                        break
                    if chunk.endswith(b"\n"):
                        ended = True
                        break
                if not ended and not settled:
                    return  # still being written
                yield Line(head, fh.tell(), too_long=True)
                continue
            if not data.endswith(b"\n") and not settled:
                return  # still being written
            yield Line(data, fh.tell())

    def _read_jsonl(self, fh: io.BufferedReader, path: Path, cp: dict[str, Any], size: int, settled: bool) -> Batch:
        batch = Batch(note=display_name(path.name))
        offset, lineno = int(cp["offset"]), int(cp["line"])
        for line in self._lines(fh, offset, settled):
            lineno += 1
            offset = line.end
            if line.too_long:
                self._dead(batch, path, lineno, line.data, f"这一行超过 {MAX_LINE_BYTES // 1024} KB，未读取")
            elif line.data.strip():
                self._take(batch, path, lineno, line.data, _json_record)
            if len(batch.posts) + len(batch.dead) >= self.batch_size:
                break
        return self._finish(batch, path, cp, offset, lineno, size, settled)

    def _read_csv(self, fh: io.BufferedReader, path: Path, cp: dict[str, Any], size: int, settled: bool) -> Batch:
        batch = Batch(note=display_name(path.name))
        offset, lineno = int(cp["offset"]), int(cp["line"])
        header: list[str] | None = cp.get("header")
        while len(batch.posts) + len(batch.dead) < self.batch_size:
            step = _csv_step(self._lines(fh, offset, settled), first=lineno == 0, settled=settled)
            if step is None:  # no complete record available (end of file, or still being written)
                break
            lines, row, error = step
            start_line = lineno + 1
            if row is not None and header is None:
                header = [h.strip() for h in row]
                if not all(col in header for col in REQUIRED):
                    batch.dead.append(DeadLetter(
                        source=f"inbox/{display_name(path.name)}:1", raw=_raw(lines),
                        error=f"CSV 表头缺少必填列（需要 {', '.join(REQUIRED)}），整个文件已移到 inbox/failed/",
                    ))
                    batch.checkpoint = json.dumps({**cp, "offset": lines[-1].end, "line": lineno + len(lines),
                                                   "done": True, "to": "failed"}, ensure_ascii=False)
                    batch.context["move"] = (path, "failed")
                    batch.more = True  # on to the next file
                    return batch
            elif row is not None:
                try:
                    record = _csv_record(row, header)  # type: ignore[arg-type]
                    if len(lines) > 1 and _swallows_rows(lines, header):  # type: ignore[arg-type]
                        raise RecordError("多行文本里夹着完整的数据行")
                except RecordError as exc:
                    error = str(exc)
                else:
                    self._take(batch, path, start_line, _raw_bytes(lines), lambda _: record)
            if error is not None:
                if len(lines) > 1:
                    # A record over several lines that is not one good row: a stray quote. Only the
                    # first line is refused; the next lines are read again on their own.
                    lines = lines[:1]
                    error = f"引号不配对（{error}），只跳过这一行"
                self._dead(batch, path, start_line, _raw_bytes(lines), error)
            offset, lineno = lines[-1].end, lineno + len(lines)
        return self._finish(batch, path, {**cp, "header": header}, offset, lineno, size, settled)

    # ------------------------------------------------------------------ records
    def _take(self, batch: Batch, path: Path, lineno: int, data: bytes,
              parse: Callable[[str], Any]) -> None:
        try:
            try:
                text = data.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise RecordError("不是 UTF-8 编码（Excel 导出的 GBK 文件请另存为“CSV UTF-8”）") from None
            post = post_from_record(parse(text))
        except Exception as exc:
            self._dead(batch, path, lineno, data, explain(exc))
            return
        post.raw["_source"] = f"inbox/{display_name(path.name)}:{lineno}"  # ours, whatever the record said
        batch.posts.append(post)
        batch.originals[id(post)] = data.decode("utf-8", "replace")[:RAW_CHARS]

    def _dead(self, batch: Batch, path: Path, lineno: int, data: bytes, error: str) -> None:
        batch.dead.append(DeadLetter(source=f"inbox/{display_name(path.name)}:{lineno}",
                                     raw=data.decode("utf-8", "replace")[:RAW_CHARS], error=error))

    def _finish(self, batch: Batch, path: Path, cp: dict[str, Any], offset: int, lineno: int, size: int,
                settled: bool) -> Batch:
        at_end = offset >= size
        done = at_end and settled
        batch.checkpoint = json.dumps({**cp, "offset": offset, "line": lineno, "done": done}, ensure_ascii=False)
        if done:
            batch.context["move"] = (path, "done")
            ready, refused = self._scan()
            batch.more = len(ready) > 1 or bool(refused)
        else:
            batch.more = not at_end and (bool(batch.posts) or bool(batch.dead))
        return batch

    def after_commit(self, batch: Batch) -> None:
        if "move" in batch.context:
            path, where = batch.context["move"]
            self._move(path, where)

    def _move(self, path: Path, where: str) -> None:
        target = self.inbox / where / path.name
        if os.path.lexists(target):
            target = target.with_name(f"{path.stem}.{time.strftime('%Y%m%d%H%M%S')}.{os.getpid()}{path.suffix}")
        os.replace(path, target)  # a symbolic link is moved itself, its target is never touched
        log.info("收件箱文件 %s 已处理完毕，移到 inbox/%s/", display_name(path.name), where)


class _Refused(Exception):
    pass


# --------------------------------------------------------------------------- helpers
def display_name(name: str) -> str:
    """A file name as logs and dead letters show it: undecodable bytes as U+FFFD, controls escaped."""
    try:
        text = os.fsencode(name).decode("utf-8", "replace")
    except Exception:
        text = repr(name)
    return printable(text, 200)


def _unsupported(name: str, st: os.stat_result, settle_s: float) -> str:
    """Why a settled data file of a format the inbox does not read is refused ("" otherwise)."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in UNSUPPORTED or time.time() - st.st_mtime < settle_s:
        return ""
    return f"不支持的文件类型 {suffix}：收件箱只读取 .jsonl（每行一条 JSON 记录）和 .csv（UTF-8）文件"


def _refusal(name: str, st: os.stat_result) -> str:
    """Why a directory entry of the inbox must not be read ("" when it may)."""
    if stat.S_ISLNK(st.st_mode):
        return "是符号链接：只读取真正位于收件箱内的普通文件，请把文件本身放进来"
    if not stat.S_ISREG(st.st_mode):
        return "不是普通文件（可能是管道或设备）"
    if st.st_nlink > 1:
        return "有多个硬链接，可能是收件箱外某个文件的别名；请复制文件本身放进来"
    try:
        os.fsencode(name).decode("utf-8")
    except (UnicodeError, ValueError):
        return "文件名不是 UTF-8 编码，请改名后重新放入"
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in name):
        return "文件名含换行或控制字符，请改名后重新放入"
    return ""


def _load_checkpoint(checkpoint: str | None) -> dict[str, Any]:
    if not checkpoint:
        return {}
    try:
        cp = json.loads(checkpoint)
    except ValueError:
        return {}
    return cp if isinstance(cp, dict) else {}


def _json_record(text: str) -> Any:
    return json.loads(text)


def explain(exc: BaseException) -> str:
    """The reason a record could not be read, in Chinese, saying what to fix."""
    if isinstance(exc, RecordError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"不是合法的 JSON：{exc.msg}（第 {exc.colno} 列）"
    if isinstance(exc, RecursionError):
        return "JSON 嵌套层数过多，无法读取"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return "数字位数过多，无法读取；请把超长数字写成字符串"
    if isinstance(exc, csv.Error):
        return f"CSV 行格式错误：{exc}"
    if isinstance(exc, UnicodeError):
        return "含有无效的 Unicode 字符"
    return f"记录无法读取（{type(exc).__name__}：{printable(exc, 200)}）"


def _csv_step(lines: Iterator[Line], first: bool, settled: bool
              ) -> tuple[list[Line], list[str] | None, str | None] | None:
    """Read one CSV record from `lines`: (the lines it took, the row or None, the error or None).
    None when no complete record is available yet (nothing left, or a quoted field still open at the
    end of a file that is still being written)."""
    taken: list[Line] = []
    state = {"end": False, "capped": False}

    def source() -> Iterator[str]:
        for line in lines:
            taken.append(line)
            if line.too_long:
                raise LineTooLong()
            if len(taken) > MAX_RECORD_LINES:
                state["capped"] = True
                return
            yield line.data.decode("utf-8-sig" if first and len(taken) == 1 else "utf-8")
        state["end"] = True

    reader = csv.reader(source(), strict=True)
    try:
        row = next(reader)
    except StopIteration:
        return None
    except LineTooLong:
        return taken[-1:] if len(taken) == 1 else taken[:1], None, (
            f"这一行超过 {MAX_LINE_BYTES // 1024} KB，未读取" if len(taken) == 1 else "引号内跨到了超长的一行")
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) and not state["capped"]:
            if not settled:
                return None  # a quoted field runs to the end of what is written so far: wait for the rest
            return taken, None, "引号没有闭合，直到文件末尾"
        return taken, None, f"CSV 格式错误：{exc}"
    except UnicodeDecodeError:
        return taken, None, "不是 UTF-8 编码（Excel 导出的 GBK 文件请另存为“CSV UTF-8”）"
    if not row or all(not v.strip() for v in row):
        return taken, None, None if len(taken) == 1 else "空记录"
    return taken, row, None


def _swallows_rows(lines: list[Line], header: list[str]) -> bool:
    """Whether the continuation lines of a multi-line record are complete rows themselves (the header's
    width and a valid created_at): a stray quote swallowing good rows, not a text with line breaks."""
    at = header.index("created_at")
    for line in lines[1:]:
        try:
            rows = list(csv.reader([line.data.decode("utf-8")]))
        except (UnicodeDecodeError, csv.Error):
            continue
        if len(rows) == 1 and len(rows[0]) == len(header):
            try:
                parse_time(rows[0][at])
            except RecordError:
                continue
            return True
    return False


def _csv_record(values: list[str], header: list[str]) -> dict[str, Any]:
    if len(values) != len(header):
        raise RecordError(f"CSV 列数不对：表头 {len(header)} 列，本行 {len(values)} 列")
    return {k: (v if v != "" or k in REQUIRED else None) for k, v in zip(header, values) if k in COLUMNS or v}


def _raw_bytes(lines: list[Line]) -> bytes:
    return b"".join(line.data for line in lines)


def _raw(lines: list[Line]) -> str:
    return _raw_bytes(lines).decode("utf-8", "replace")[:RAW_CHARS]
