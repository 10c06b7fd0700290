"""Atomic file writes for the legacy read models, backups and reports: temp file, fsync, rename, fsync of the folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE = 0o600  # what mkstemp makes: the legacy state files hold a bot's whole trading history
SHARED = -1  # the mode a new file gets under the process's umask (a report is for others to read)


def write_bytes_atomically(path: str | Path, data: bytes, *, exclusive: bool = False, mode: int = PRIVATE) -> Path:
    """Replace `path` with `data` so a reader sees the old file or the new one, never a torn one.

    `exclusive` refuses to replace an existing file (a hard link instead of a rename: a backup is
    never overwritten). `mode` is the new file's permission bits, or SHARED for the umask's default.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode == SHARED:
            umask = os.umask(0o022)
            os.umask(umask)
            mode = 0o666 & ~umask
        Path(temporary).chmod(mode)
        if exclusive:
            os.link(temporary, target)
        else:
            Path(temporary).replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return target


def write_atomically(path: str | Path, text: str, *, mode: int = PRIVATE) -> Path:
    """`write_bytes_atomically` of `text` in UTF-8."""
    return write_bytes_atomically(path, text.encode("utf-8"), mode=mode)
