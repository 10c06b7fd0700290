"""The paper wallet's checkpoint: its folded books kept in the ledger, so a restart folds only what came after.

The cash cannot be derived from the stored projection exactly (the 28-digit rounding of `avg`: see
`domain.wallet`), so it is a fold of the account's events. A wallet keeps that fold in the keyed table
`paper_wallets` (`Ledger.save_checkpoint`, one transaction): under the key `[account, initial
balance as written]` (a wallet with another B0, even `1000.00` against `1000`, is another fold), the
`WalletBook` (cash, realized PnL, fees, funding, cycle counters, cost bases, last seq) and the wallet's
own position fold of the account (each symbol's open cycle and closed-cycle totals), every number as
its exact decimal text, at the log position `(epoch, seq, hash)` it was folded to.

- **Saved** when the wallet was folded from the first event (its first figure on a ledger where no
  wallet with that key ran, or after a rollback voided the checkpoint), then whenever it is current
  `SAVE_EVERY` log events or more past the last one, and at `PaperWallet.shutdown()`. Never on a read
  that folded less. A save the database refuses is logged and the figures stand: the next start folds
  more, nothing else.
- **Read** by the wallet's first figure (`Ledger.resume_account`, one read transaction): when the log
  still has the checkpoint's event at its seq with its hash, the books continue from it and fold only
  the account's events after it, exactly as the fold from the first event would have (the same state,
  to the digit); a rollback that removed it voids it (the wallet folds from the first event and saves
  a new one). A checkpoint another process saved later than the book has read is taken as it is: the
  book then skips the events it already holds, unless the log, once the book has read up to the
  checkpoint's seq, no longer has its event there (a rollback since): then the wallet is folded again.
- **Versioned**: a checkpoint holds the `version` of the format and folding rules that wrote it (`VERSION`).
  One an older version wrote is a cache to drop, not an error: the wallet folds the account from its first
  event (as on a first start), saves a checkpoint of this version, and says so in a warning of the
  `tradeledger.compat` logger (the one cost: a read of the account's history, once: that save replaces it even
  when it was saved at a later position than the wallet had read, unless another checkpoint took its place since).
  One a newer version
  wrote is refused naming both versions (this code cannot know what it holds; dropping it would have two
  versions of the code fold over each other's checkpoints), and so is one whose initial balance is not
  that of its key (an entry that is not what it says), each naming the table entry to remove.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradeledger.application.checkpoints import ResumedAccount
from tradeledger.application.ledger import Ledger
from tradeledger.compat.account import AccountBook, ResumedWallet
from tradeledger.domain.chain import GENESIS_HASH
from tradeledger.domain.fold import PositionFold
from tradeledger.domain.positions import Position, PositionSide, Totals
from tradeledger.domain.records import Checkpoint
from tradeledger.domain.wallet import WalletReplay
from tradeledger.errors import StorageError

logger = logging.getLogger("tradeledger.compat")

TABLE = "paper_wallets"
SAVE_EVERY = 1_000  # log events the wallet is current past its last checkpoint before it saves another
# 2: a base fee whose disposal flips the position is on the cycle it opens, as the positions book it (version 1
# split it pro rata between the cycle it closed and the one it opened: other cycle fees and winning cycles).
VERSION = 2


def checkpoint_key(account: str, initial_balance: Decimal) -> str:
    """The key of a wallet's checkpoint: its account and its initial balance as written."""
    return json.dumps([account, str(initial_balance)], separators=(",", ":"))


def _unvalued(pairs: tuple[tuple[str, Decimal], ...]) -> list[list[str]]:
    return [[currency, str(amount)] for currency, amount in pairs]


def _position_text(position: Position) -> dict[str, Any]:
    return {
        "side": position.side.value,
        "quantity": str(position.quantity),
        "avg_price": str(position.avg_price),
        "realized_pnl": str(position.realized_pnl),
        "fees": str(position.fees),
        "opened_at": position.opened_at.isoformat(),
        "opened_seq": position.opened_seq,
        "entered_quantity": str(position.entered_quantity),
        "last_seq": position.last_seq,
        "funding": str(position.funding),
        "unvalued_fees": _unvalued(position.unvalued_fees),
    }


def state_text(replay: WalletReplay) -> str:
    """The wallet's books and its position fold as JSON, every number as its exact decimal text."""
    wallet = replay.wallet
    assert wallet is not None
    rows = [
        {
            "account": account,
            "symbol": symbol,
            "open": None if position is None else _position_text(position),
            "closed": [
                str(totals.realized_pnl),
                str(totals.fees),
                str(totals.funding),
                _unvalued(totals.unvalued_fees),
            ],
        }
        for (account, symbol), (position, totals) in replay.positions.positions().items()
    ]
    state = {
        "version": VERSION,
        "initial_balance": str(wallet.initial_balance),
        "cash": str(wallet.cash),
        "realized_pnl": str(wallet.realized_pnl),
        "fees": str(wallet.fees),
        "funding": str(wallet.funding),
        "cycles_opened": wallet.cycles_opened,
        "winning_cycles": wallet.winning_cycles,
        "last_seq": wallet.last_seq,
        "cost_basis": [[account, symbol, str(value)] for (account, symbol), value in wallet.cost_basis.items()],
        "fold_seq": replay.positions.last_seq,
        "positions": rows,
    }
    return json.dumps(state, separators=(",", ":"))


def _pairs(values: list[list[str]]) -> tuple[tuple[str, Decimal], ...]:
    return tuple((currency, Decimal(amount)) for currency, amount in values)


def _position_of(account: str, symbol: str, value: dict[str, Any]) -> Position:
    return Position(
        account=account,
        symbol=symbol,
        side=PositionSide(value["side"]),
        quantity=Decimal(value["quantity"]),
        avg_price=Decimal(value["avg_price"]),
        realized_pnl=Decimal(value["realized_pnl"]),
        fees=Decimal(value["fees"]),
        opened_at=datetime.fromisoformat(value["opened_at"]),
        opened_seq=int(value["opened_seq"]),
        entered_quantity=Decimal(value["entered_quantity"]),
        last_seq=int(value["last_seq"]),
        funding=Decimal(value["funding"]),
        unvalued_fees=_pairs(value["unvalued_fees"]),
    )


def _replay(state: dict[str, Any], initial_balance: Decimal) -> WalletReplay | int:
    version = state["version"]
    if type(version) is not int or version < 1:
        raise ValueError(f"version {version!r} is not a version of its format")
    if version > VERSION:
        raise ValueError(
            f"it was written by version {version} of its format, newer than this code's {VERSION}: "
            "run a tradeledger that reads it"
        )
    if state["initial_balance"] != str(initial_balance):
        raise ValueError(f"it holds the initial balance {state['initial_balance']}")
    if version < VERSION:
        return version
    rows = {}
    for row in state["positions"]:
        realized, fees, funding, unvalued = row["closed"]
        position = None if row["open"] is None else _position_of(row["account"], row["symbol"], row["open"])
        totals = Totals(Decimal(realized), Decimal(fees), Decimal(funding), _pairs(unvalued))
        rows[(row["account"], row["symbol"])] = (position, totals)
    replay = WalletReplay(initial_balance)
    replay.positions = PositionFold(rows, last_seq=int(state["fold_seq"]))
    wallet = replay.wallet
    assert wallet is not None
    wallet.cash = Decimal(state["cash"])
    wallet.realized_pnl = Decimal(state["realized_pnl"])
    wallet.fees = Decimal(state["fees"])
    wallet.funding = Decimal(state["funding"])
    wallet.cycles_opened = int(state["cycles_opened"])
    wallet.winning_cycles = int(state["winning_cycles"])
    wallet.last_seq = int(state["last_seq"])
    wallet.cost_basis = {(account, symbol): Decimal(value) for account, symbol, value in state["cost_basis"]}
    wallet.resumed()
    return replay


def stored_replay(text: str, initial_balance: Decimal) -> WalletReplay | int:
    """The wallet `state_text` wrote, to continue folding, or the version of its format when an older version
    wrote it (a cache to drop); StorageError when it cannot be read as one of B0, or a newer version wrote it."""
    try:
        return _replay(json.loads(text), initial_balance)
    except (ValueError, KeyError, TypeError, ArithmeticError) as error:
        raise StorageError(
            f"the paper wallet checkpoint of initial balance {initial_balance} cannot be read ({error}); "
            f"remove its entry of table {TABLE!r} to fold the account from its first event instead"
        ) from None


def replay_of(text: str, initial_balance: Decimal) -> WalletReplay:
    """The wallet `state_text` of this version wrote; StorageError as `stored_replay`, and for an older version."""
    replay = stored_replay(text, initial_balance)
    if isinstance(replay, int):
        raise StorageError(
            f"the paper wallet checkpoint of initial balance {initial_balance} was written by version {replay} of "
            f"its format, this code reads version {VERSION}"
        )
    return replay


class WalletCheckpoints:
    """One wallet's checkpoint in the ledger (account and initial balance): read at its first figure, saved
    after folds (see the module). The caller holds the wallet's book lock."""

    def __init__(self, ledger: Ledger, account: str, initial_balance: Decimal) -> None:
        self._ledger = ledger
        self.account = account
        self._balance = initial_balance
        self.key = checkpoint_key(account, initial_balance)
        self.saved: tuple[int, str] | None = None  # (seq, hash) of the checkpoint the wallet holds or last saved
        self.saves = 0  # checkpoints the ledger wrote (not one it refused or that failed); read by tests
        self.resumed_at: Checkpoint | None = None  # the checkpoint the wallet last started from (None: a full fold)
        # The position of an older version's checkpoint the wallet dropped, until a save replaces it (even from an
        # earlier position: one ahead of the book would otherwise refuse every save and be dropped at every start).
        self.dropped: Checkpoint | None = None

    @property
    def initial_balance(self) -> Decimal:
        return self._balance

    def resume(self, at: Checkpoint) -> ResumedWallet | None:
        """The stored wallet and the account's events after it up to `at` (see `AccountBook._load_wallet`)."""
        found = self._ledger.resume_account(TABLE, self.key, account=self.account, at=at)
        if found is None:
            return None
        replay = None if found.state is None else stored_replay(found.state, self._balance)
        if isinstance(replay, int):
            logger.warning(
                "the paper wallet checkpoint of account %s (initial balance %s) was written by version %s of its "
                "format, this code writes version %s: it was dropped, the account folded from its first event, "
                "and a checkpoint of version %s is saved",
                self.account,
                self._balance,
                replay,
                VERSION,
                VERSION,
            )
            events = self._ledger.account_history(self.account, at=at, until_seq=at.seq)
            if events is None:  # a rollback removed the book's position since
                return None
            self.dropped = found.at
            found = ResumedAccount(Checkpoint(at.epoch, 0, GENESIS_HASH), None, events)
            replay = None
        self.resumed_at = None if replay is None else found.at
        if replay is None:
            self.saved = None
            return ResumedWallet(None, found.at, found.events)
        self.saved = (found.at.seq, found.at.hash)
        return ResumedWallet(replay, found.at, found.events)

    def save(self, book: AccountBook, *, due_every: int = SAVE_EVERY) -> None:
        """Save the book's wallet when it is current `due_every` log events or more past the checkpoint it holds
        (at once when it holds none); `due_every=1`: whenever it moved at all (shutdown)."""
        current = book.wallet_at()
        if current is None:
            return
        replay, at = current
        if self.saved is not None and (self.saved == (at.seq, at.hash) or at.seq - self.saved[0] < due_every):
            return
        try:
            written = self._ledger.save_checkpoint(TABLE, self.key, state_text(replay), at=at, replacing=self.dropped)
        except StorageError as error:
            logger.warning(
                "the paper wallet checkpoint of account %s was not saved (%s); the next start folds more",
                self.account,
                error,
            )
        else:
            if written:  # False: the ledger wrote nothing (a later checkpoint there, or `at` rolled back since)
                self.saves += 1
                self.dropped = None
        self.saved = (at.seq, at.hash)
