"""Switch the TradeManager on as the single source of truth in the bot's YAML config (the seed's step 3).

`enable_sot` sets exactly the keys of the seed's "Configuration Changes" and nothing else, through a
ruamel.yaml round trip: comments, key order, quotes, blank lines and indentation of everything else
stay as they were (the legacy script re-sorted the file and dropped its comments). Missing sections
are added at the end of the file, missing keys at the end of their section (a comment that followed
the section's last key stays after the section), with the file's line ends (LF or CRLF; a file mixing
both is refused) and its BOM, if any. The file is first copied byte for byte to
`<config>.bak.<YYYYmmdd_HHMMSS>` beside it (UTC), then replaced atomically, keeping its permissions.
A config that already has every key is left alone: no backup, no write, `migration_date` unchanged.

`check_sot` is the `--validate-only` check: which keys are missing or not yet true.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from tradeledger.compat.config import BotConfig, ConfigError
from tradeledger.compat.files import write_bytes_atomically
from tradeledger.compat.migration import backup_stamp
from tradeledger.compat.yaml_text import load_bounded

Clock = Callable[[], datetime]
DATE_KEY = ("trade_manager", "migration_date")
# The seed's "Configuration Changes", in its order; migration_date is the date of the change.
SOT_KEYS: tuple[tuple[str, str], ...] = (
    ("trade_manager", "enabled"),
    ("trade_manager", "single_source_of_truth"),
    ("trade_manager", "migration_complete"),
    DATE_KEY,
    ("trade_manager", "sync_legacy_systems"),
    ("trade_manager", "validate_consistency"),
    ("position_monitor", "use_trade_manager"),
    ("position_monitor", "sync_with_legacy"),
    ("paper_wallet", "sync_with_trade_manager"),
    ("paper_wallet", "auto_sync_on_trade"),
)
SECTIONS = ("trade_manager", "position_monitor", "paper_wallet")
BACKUP_SUFFIX = ".bak.{stamp}"
_SEQUENCE_DASH = "- "
UTF8_BOM = b"\xef\xbb\xbf"
# Where ruamel keeps the comment lines after a value: slot 2 of a mapping item, slot 0 of a sequence item.
MAPPING_SLOT = 2
SEQUENCE_SLOT = 0


@dataclass(frozen=True, slots=True)
class EnableResult:
    path: Path
    changed: tuple[str, ...]  # dotted keys set by this run
    backup: Path | None  # None when nothing changed
    migration_date: str | None


def _read(path: Path) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from None
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _line_ends(path: Path, data: bytes) -> tuple[bytes, bytes]:
    """The file's BOM (b"" without one) and its line end, b"\\r\\n" or b"\\n", which the rewrite keeps; a file
    mixing both is refused: ruamel reads either and writes one, so the rewrite would change lines it never set."""
    bom = UTF8_BOM if data.startswith(UTF8_BOM) else b""
    crlf, lf = data.count(b"\r\n"), data.count(b"\n")
    if crlf and crlf != lf:
        raise ConfigError(
            f"{path}: mixes CRLF and LF line ends ({crlf} CRLF, {lf - crlf} LF); give it one kind, then run again"
        )
    return bom, b"\r\n" if crlf else b"\n"


def _indents(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) as the file writes them; (2, 0) when it does not show."""
    mapping: int | None = None
    offset: int | None = None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for parent_line, line in itertools.pairwise(lines):
        head = parent_line.split("#")[0].rstrip()
        if not head.endswith(":") or parent_line.lstrip().startswith(_SEQUENCE_DASH):
            continue
        parent = len(parent_line) - len(parent_line.lstrip())
        child = len(line) - len(line.lstrip())
        if line.lstrip().startswith(_SEQUENCE_DASH):
            offset = child - parent if offset is None else offset
        elif child > parent and mapping is None:
            mapping = child - parent
    return mapping or 2, max(offset or 0, 0)


def _yaml(text: str) -> YAML:
    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    mapping, offset = _indents(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _load(path: Path, text: str, yaml: YAML) -> CommentedMap:
    try:
        data = load_bounded(yaml, text)
    except YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: the config must be a mapping of keys (got {type(data).__name__})")
    return data


def _wanted(section: str, key: str, value: object) -> bool:
    """Whether a key already has the value the switch needs."""
    if (section, key) == DATE_KEY:
        return isinstance(value, str) and bool(value.strip())
    return value is True


def check_sot(path: str | Path) -> list[str]:
    """What keeps the config from having the seed's settings: one line per key (empty when all are set)."""
    path = Path(path)
    _, text = _read(path)
    data = _load(path, text, _yaml(text))
    problems = []
    for section, key in SOT_KEYS:
        block = data.get(section)
        name = f"{section}.{key}"
        if not isinstance(block, dict) or key not in block:
            problems.append(f"{name} is missing")
        elif not _wanted(section, key, block[key]):
            want = 'a date in quotes, e.g. "2026-03-02"' if (section, key) == DATE_KEY else "true"
            problems.append(f"{name} is {block[key]!r} (want {want})")
    return problems


def _last_scalar_owner(node: object) -> tuple[CommentedMap | CommentedSeq, Any] | None:
    """The collection and key (or index) of the last scalar under `node`: where ruamel keeps the
    comment lines that follow a block."""
    if isinstance(node, CommentedMap) and node:
        last = list(node.keys())[-1]
        inner = _last_scalar_owner(node[last])
        return inner if inner is not None else (node, last)
    if isinstance(node, CommentedSeq) and node:
        inner = _last_scalar_owner(node[-1])
        return inner if inner is not None else (node, len(node) - 1)
    return None


def _split_comment(slots: list[Any] | None, slot: int = MAPPING_SLOT) -> str | None:
    """Detach the comment lines a ruamel comment slot keeps after a value's line (an end-of-line comment
    stays); returns them without the value's own line end."""
    if not slots or len(slots) <= slot or slots[slot] is None:
        return None
    token: CommentToken = slots[slot]
    line, newline, rest = str(token.value).partition("\n")
    if not rest:
        return None
    if line.strip():
        token.value = line + newline  # the end-of-line comment stays on its line
    else:
        slots[slot] = None
    return rest


def _take_trailing_comment(node: object) -> str | None:
    """Detach the comment lines that follow the last key of `node` (they belong after the block)."""
    owner = _last_scalar_owner(node)
    if owner is None:
        return None
    collection, key = owner
    slot = MAPPING_SLOT if isinstance(collection, CommentedMap) else SEQUENCE_SLOT
    return _split_comment(collection.ca.items.get(key), slot)


def _put_trailing_comment(node: object, comment: str | None) -> None:
    """Attach comment lines after the last scalar of `node`, i.e. after the block."""
    owner = _last_scalar_owner(node)
    if comment is None or owner is None:
        return
    collection, key = owner
    collection.ca.items[key] = [None, None, CommentToken("\n" + comment, CommentMark(0)), None]


def _append(collection: CommentedMap, key: str, value: object) -> None:
    """Add `key` at the end of `collection`, keeping the comment lines that followed it after it."""
    moved = _take_trailing_comment(collection)
    collection[key] = value
    _put_trailing_comment(collection, moved)


def _value(section: str, key: str, today: str) -> object:
    return DoubleQuotedScalarString(today) if (section, key) == DATE_KEY else True


def _set_keys(data: CommentedMap, today: str) -> list[str]:
    changed: list[str] = []
    for section in SECTIONS:
        keys = [key for owner, key in SOT_KEYS if owner == section]
        block = data.get(section)
        if block is None:
            new = CommentedMap((key, _value(section, key, today)) for key in keys)
            if section in data:  # present but empty (null): fill it in place
                moved = _split_comment(data.ca.items.get(section))
                data[section] = new
                _put_trailing_comment(new, moved)
            else:
                _append(data, section, new)
            changed += [f"{section}.{key}" for key in keys]
            continue
        if not isinstance(block, CommentedMap):
            raise ConfigError(f"{section}: must be a mapping of keys to switch the TradeManager on (got {block!r})")
        for key in keys:
            if (section, key) != DATE_KEY and not _wanted(section, key, block.get(key)):
                _assign(block, key, _value(section, key, today))
                changed.append(f"{section}.{key}")
    block = data[DATE_KEY[0]]
    date_name = ".".join(DATE_KEY)
    if date_name not in changed and (changed or not _wanted(*DATE_KEY, block.get(DATE_KEY[1]))):
        _assign(block, DATE_KEY[1], _value(*DATE_KEY, today), after="migration_complete")
        changed.append(date_name)
    order = [f"{section}.{key}" for section, key in SOT_KEYS]
    return sorted(changed, key=order.index)


def _assign(block: CommentedMap, key: str, value: object, *, after: str | None = None) -> None:
    """Set `key` in place if present; else add it after `after` (when that key is not the last) or at the end."""
    if key in block:
        block[key] = value
        return
    keys = list(block.keys())
    if after is not None and after in keys and keys[-1] != after:
        block.insert(keys.index(after) + 1, key, value)
        return
    _append(block, key, value)


def enable_sot(path: str | Path, *, clock: Clock) -> EnableResult:
    """Set the seed's keys in the config at `path`, keeping everything else; back the file up first."""
    path = Path(path)
    data_bytes, text = _read(path)
    bom, newline = _line_ends(path, data_bytes)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")  # ruamel keeps a comment's \r: read LF, write back
    yaml = _yaml(text)
    data = _load(path, text, yaml)
    now = clock()
    today = now.astimezone(UTC).date().isoformat() if now.tzinfo is not None else now.date().isoformat()
    changed = _set_keys(data, today)
    if not changed:
        return EnableResult(path, (), None, str(data[DATE_KEY[0]][DATE_KEY[1]]))
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    new_text = buffer.getvalue()
    _check_result(path, new_text)
    backup = path.with_name(path.name + BACKUP_SUFFIX.format(stamp=backup_stamp(now)))
    if backup.exists():
        raise ConfigError(f"{backup}: a backup of this second exists already; run again")
    mode = path.stat().st_mode & 0o7777
    write_bytes_atomically(backup, data_bytes, exclusive=True, mode=mode)
    write_bytes_atomically(path, bom + new_text.encode("utf-8").replace(b"\n", newline), mode=mode)
    return EnableResult(path, tuple(changed), backup, today)


def _check_result(path: Path, text: str) -> None:
    """The edited config must load as the bot's config with the TradeManager primary, or nothing is written."""
    try:
        values = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:  # pragma: no cover - ruamel wrote it
        raise ConfigError(f"{path}: the edited config would not be valid YAML ({error}); nothing written") from None
    config = BotConfig.from_mapping(values, source=f"{path} (after the edit; nothing written)")
    if not config.trade_manager_is_primary:  # pragma: no cover - single_source_of_truth is true
        raise ConfigError(f"{path}: the edited config would not make the TradeManager primary; nothing written")
