"""A legacy read-model file that follows the log: `trade_manager_state.json` and `paper_wallet_state.yaml`.

Such a file shows every fill of its account, whoever records it (this process, another one, `tradeledger sync`),
and a rollback. Its owner (the TradeManager, the PaperWallet) says when the log moved under it (`moved`, from the
fold that saw the fills) and writes the file at its ticks when due (`write_if_due`): at most once per interval, so
a file that holds every trade is not rewritten on every fill. At a start the file may be behind the log (a process
that died within an interval, fills recorded while none ran): the first write due rewrites it. A write that fails
(a full disk) is logged, not raised (the fills are in the log already) and stays due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("tradeledger.compat")


class FollowingFile:
    """When the read-model file at `path` is behind the log and due to be rewritten (`follows`: it is kept at all)."""

    __slots__ = ("_failure", "_interval", "_last_write", "_monotonic", "follows", "path", "pending")

    def __init__(
        self,
        path: Path | None,
        *,
        follows: bool,
        interval_s: float,
        monotonic: Callable[[], float],
        failure: str,
    ) -> None:
        """`failure`: the log message of a write that failed, with `{path}` and `{error}` in it."""
        self.path = path
        self.follows = follows and path is not None
        self.pending = self.follows  # the file may be behind the log (a crash): rewritten when first due
        self._interval = interval_s
        self._monotonic = monotonic
        self._last_write = float("-inf")  # float ok: a monotonic-clock time, not an amount
        self._failure = failure

    def moved(self) -> None:
        """The log moved under the file (a fill of any writer, a rollback): it is behind until written."""
        if self.follows:
            self.pending = True

    def write_if_due(self, write: Callable[[], object]) -> None:
        """`write()` when the file is behind and its last write is an interval old or more."""
        if self.pending and self._monotonic() - self._last_write >= self._interval:
            self.write_now(write)

    def write_now(self, write: Callable[[], object]) -> None:
        """`write()` now when the file is kept (a command of the owner's own); a failure is logged and stays due."""
        if not self.follows:
            return
        try:
            write()
        except OSError as error:
            # The fill is in the log already; raising here would make the caller retry it.
            logger.error(self._failure.format(path=self.path, error=error))  # noqa: TRY400

    def written(self, path: Path) -> None:
        """After the owner wrote `path`: when it is this file, the file is current as of now."""
        if path == self.path:
            self.pending = False
            self._last_write = self._monotonic()
