"""Writing secrets: directories 0700, files 0600, replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ensure_secrets_dir", "write_secret"]


def ensure_secrets_dir(path: Path) -> Path:
    """Create ``path`` (0700) with a ``.gitignore`` of ``*``; tighten an existing one."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Generated secrets: never commit them.\n*\n", encoding="utf-8")
    return path


def write_secret(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` with mode 0600 (a temporary file renamed over it)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
