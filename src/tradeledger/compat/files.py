"""Atomic file writes for the legacy read models, backups and reports: temp file, fsync, rename, fsync of the folder;
the folder the legacy bot keeps its files in (here, not with the read models, so that a command's options can name it
without loading the legacy bot)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# Where the legacy bot keeps its files (relative to where it runs).
DEFAULT_STATE_DIR = Path("crypto_bot/logs")

PRIVATE = 0o600  # what mkstemp makes: the legacy state files hold a bot's whole trading history
SHARED = -1  # the mode a new file gets under the process's umask (a report is for others to read)


def write_bytes_atomically(
    path: str | Path, data: bytes, *, exclusive: bool = False, mode: int = PRIVATE, create_folder: bool = True
) -> Path:
    """Replace `path` with `data` so a reader sees the old file or the new one, never a torn one.

    `exclusive` refuses to replace an existing file (a hard link instead of a rename: a backup is
    never overwritten). `mode` is the new file's permission bits, or SHARED for the umask's default.
    `create_folder` makes the missing folders on the way (the bot's logs folder); without it a
    missing folder is an error (FileNotFoundError naming it), as for a file the user named.
    """
    with atomic_file(path, exclusive=exclusive, mode=mode, create_folder=create_folder) as handle:
        handle.write(data)
    return Path(path)


@contextmanager
def atomic_file(
    path: str | Path, *, exclusive: bool = False, mode: int = PRIVATE, create_folder: bool = True
) -> Iterator[BinaryIO]:
    """A file to write `path`'s new content into, a piece at a time: when the block ends without an error it
    replaces `path` as `write_bytes_atomically` does (same options); when it raises, `path` is as it was and
    nothing is left behind."""
    target = Path(path)
    if create_folder:
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(target.parent))
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; name a file", str(target))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
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


def write_atomically(path: str | Path, text: str, *, mode: int = PRIVATE) -> Path:
    """`write_bytes_atomically` of `text` in UTF-8."""
    return write_bytes_atomically(path, text.encode("utf-8"), mode=mode)


def check_output(path: str | Path) -> Path:
    """Refuse, before any work, an output path that is a folder or lies in a missing folder."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; name a file", str(target))
    if target.parent.exists() and not target.parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(target.parent))
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(target.parent))
    return target


def write_output(path: str | Path, text: str) -> Path:
    """A file the user named (`export --output`, `report --html`) written with `text` (see `output_file`)."""
    with output_file(path) as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)


@contextmanager
def output_file(path: str | Path) -> Iterator[BinaryIO]:
    """A file the user named (`export --output`, `report --html`), written a piece at a time: its folder must exist.

    A regular file (or a new one) is replaced atomically when the block ends without an error, readable under the
    umask (when it raises, the file is as it was); a device or a pipe (`/dev/stdout`, a FIFO) is written in
    place, never replaced by a file. Errors are OSErrors naming the path (a folder, a missing folder, a full disk).
    """
    target = check_output(path)
    if target.exists() and not target.is_file():
        try:
            with target.open("wb") as handle:
                yield handle
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(target)) from None
        return
    try:
        with atomic_file(target, mode=SHARED, create_folder=False) as handle:
            yield handle
    except OSError as error:
        if error.filename is None or Path(error.filename).name.startswith(f".{target.name}."):
            # a write to the temporary file (a full disk): name the file asked for, not the temporary one
            raise OSError(error.errno, error.strerror, str(target)) from None
        raise
