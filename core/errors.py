"""Errors users see. Messages are Simplified Chinese and say what to do next."""
from __future__ import annotations


class SentinelError(Exception):
    """Base class for errors that are shown to a person (CLI, log or web page)."""


class ConfigError(SentinelError):
    """A config or rule file is wrong. The message names the file and the field."""

    def __init__(self, file: str, where: str, problem: str) -> None:
        self.file, self.where, self.problem = file, where, problem
        loc = f"{file}: {where}" if where else file
        super().__init__(f"配置错误 {loc}：{problem}")


class RecordError(SentinelError):
    """One input record is malformed; it goes to the dead-letter table with this reason."""


class UnknownNameError(SentinelError):
    """A registry has no entry by that name; the message lists the valid ones."""
