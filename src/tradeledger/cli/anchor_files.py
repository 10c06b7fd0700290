"""Key and anchor files read within a size limit: `checkpoint --key` and `verify --anchor`."""

from __future__ import annotations

from pathlib import Path

from tradeledger.application.anchoring import MAX_ANCHOR_BYTES, Anchor, read_anchor
from tradeledger.cli.common import naming_option
from tradeledger.errors import InvalidArgument

MAX_KEY_BYTES = 16 * 1024  # a PEM Ed25519 key is 119 bytes


def read_limited(path: Path, option: str, limit: int) -> bytes:
    with naming_option(option), path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidArgument(f"{option}: {path} is larger than {limit} bytes; not a key or an anchor")
    return data


def read_anchor_files(paths: list[Path]) -> list[tuple[str, Anchor]]:
    """Every anchor file named by --anchor, or InvalidArgument (exit 2) naming the unreadable one."""
    anchors = []
    for path in paths:
        data = read_limited(path, "--anchor", MAX_ANCHOR_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(f"--anchor: {path}: not UTF-8 text") from None
        anchors.append((str(path), read_anchor(text, f"--anchor {path}")))
    return anchors
