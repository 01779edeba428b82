"""The launcher's one writer: batched, prefixed terminal output and per-process log files.

Lines are collected and written to the terminal in one ``write`` per flush (every
``flush_interval`` seconds), never one system call per line. Every line goes to the
process's log file. In *quiet* mode (many processes) only lines that look like warnings
or errors reach the terminal; the launch service adds a periodic summary.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
from pathlib import Path
from typing import TextIO

__all__ = ["OutputWriter", "default_log_dir", "is_important"]

_IMPORTANT = re.compile(r"\b(WARN|WARNING|ERROR|FATAL|CRITICAL)\b|Traceback|Error:")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def is_important(line: str) -> bool:
    """Whether ``line`` looks like a warning or an error."""
    return _IMPORTANT.search(line) is not None


def default_log_dir() -> Path:
    """``$RFOS_LOG_DIR/<timestamp>`` (default ``~/.rfos/log/<timestamp>``), one per launch."""
    root = Path(os.environ.get("RFOS_LOG_DIR") or Path.home() / ".rfos" / "log").expanduser()
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S-%f")
    return root / f"{stamp}-{os.getpid()}"


class OutputWriter:
    """Writes process lines, launcher messages and progress; owns the log files."""

    def __init__(
        self,
        *,
        stream: TextIO,
        status_stream: TextIO,
        log_dir: Path,
        flush_interval: float = 0.1,
    ) -> None:
        self.stream = stream
        self.status_stream = status_stream
        self.log_dir = log_dir
        self.flush_interval = flush_interval
        self.quiet = False
        self._pending: list[str] = []
        self._files: dict[str, TextIO] = {}
        self._dirty: set[str] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._status_shown = False
        self._tty = bool(getattr(status_stream, "isatty", lambda: False)())
        log_dir.mkdir(parents=True, exist_ok=True)
        self._launch_log = open(log_dir / "launch.log", "a", encoding="utf-8")  # noqa: SIM115

    @property
    def status_is_tty(self) -> bool:
        """Whether progress can be redrawn in place."""
        return self._tty

    def log_path(self, label: str) -> Path:
        """The log file of the process labelled ``label``."""
        return self.log_dir / f"{_UNSAFE.sub('_', label)}.log"

    def line(self, label: str, text: str, *, to_screen: bool) -> None:
        """One output line of process ``label``: to its log file, and to the terminal if wanted."""
        file = self._files.get(label)
        if file is None:
            file = self._files[label] = open(self.log_path(label), "a", encoding="utf-8")  # noqa: SIM115
        file.write(text + "\n")
        self._dirty.add(label)
        if to_screen and (not self.quiet or is_important(text)):
            self._pending.append(f"[{label}] {text}\n")
        self._schedule()

    def launcher(self, message: str, *, level: str = "INFO", important: bool = False) -> None:
        """A message of the launcher itself; in quiet mode only important ones reach the screen."""
        text = f"[{level}] [launch]: {message}"
        self._launch_log.write(text + "\n")
        if not self.quiet or important or level in ("WARN", "ERROR"):
            self._pending.append(text + "\n")
        self._schedule()

    def status(self, text: str) -> None:
        """A progress line: redrawn in place on a terminal, else written as a line."""
        if self._tty:
            self.status_stream.write(f"\r{text}\x1b[K")
            self._status_shown = True
        else:
            self.status_stream.write(text + "\n")
        self.status_stream.flush()

    def _schedule(self) -> None:
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_handle = loop.call_later(self.flush_interval, self.flush)

    def flush(self) -> None:
        """Write what is pending to the terminal (one write) and flush the touched log files."""
        self._flush_handle = None
        if self._pending:
            if self._status_shown:
                self.status_stream.write("\r\x1b[K")
                self.status_stream.flush()
                self._status_shown = False
            self.stream.write("".join(self._pending))
            self.stream.flush()
            self._pending.clear()
        for label in self._dirty:
            self._files[label].flush()
        self._dirty.clear()
        self._launch_log.flush()

    def close_log(self, label: str) -> None:
        """Close the log file of ``label`` (it is reopened if the process writes again)."""
        file = self._files.pop(label, None)
        self._dirty.discard(label)
        if file is not None:
            file.close()

    def close(self) -> None:
        """Flush everything and close every file."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
        if self._status_shown:
            self.status_stream.write("\n")
            self.status_stream.flush()
        for file in self._files.values():
            file.close()
        self._files.clear()
        self._launch_log.close()
