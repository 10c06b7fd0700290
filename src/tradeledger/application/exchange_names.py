"""An append's check of its exchange names (domain/exchange_names.py), and what a Ledger keeps of them.

Every append (`bulk.append_chunk`: record, record_many, funding, transfers, settlements, import, ingest, sync, the
compat writers) refuses an exchange name the ledger does not hold that differs only in case from one it holds, or
from another name of the same append: InvalidFill, `fill N: exchange: 'Binance' differs only in case from 'binance'
already in the ledger` (N the append's first event of that name, `funding N`, `transfer N` for those), before
anything is written. A name the ledger
holds is taken as it is, also from an old log that holds two spellings of it (written before this check): each
spelling goes on taking its appends. The log is never checked again: verify, replay, rebuild and copy read it as
it is.

Where the ledger's names are read: `EventLog.exchanges()`, the log's names each once through an index of its exchange
column (revision 0011; a look-up per name, where a DISTINCT would read the whole log). Not from the balances
projection: a contract's fill that realizes nothing and pays no fee moves no balance.

When: never in the steady state. A Ledger keeps the names it read or committed an append under (`ExchangeNames`,
on its FoldCache), and an append whose names are all among them reads nothing (a set's look-up). A name kept is in
the ledger, and while it is no writer can add another spelling of it (each checks under the head's lock). An append
bringing a name not kept reads the log's names, once, under the head's lock: a spelling that another process added
since is seen then. What removes names is a rollback, which starts a new epoch: the names are trusted only in the
epoch they were read in (the epoch never goes back; a copy or an import writes only into a ledger that is a prefix
of its source, admin log included). So the first append of a Ledger reads them (a statement, a PostgreSQL round
trip), and so does an append under a name new to it.

Outside an append: `refuse_case_rival`, what a command asks of an exchange name the user gave it (`sync` before it
asks the exchange anything, `reconcile --exchange` and `report --reconcile-exchange`, which would compare nothing
booked): InvalidArgument, the command's or option's name then the one wording, `--exchange: 'Binance' differs only
in case from 'binance' already in the ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tradeledger.application.ports import UnitOfWork
from tradeledger.domain.exchange_names import case_difference, case_fold, case_refusal, case_rival
from tradeledger.errors import InvalidArgument, InvalidFill


def refuse_case_rival(name: str, held: Iterable[str], place: str) -> None:
    """InvalidArgument (`place: 'Binance' differs only in case from 'binance' already in the ledger`) when `name`
    differs only in case from one of the names the ledger holds (`held`, `Ledger.exchanges()`); nothing when it
    holds `name` or no name like it."""
    rival = case_rival(name, held)
    if rival is not None:
        raise InvalidArgument(f"{place}: {case_difference(name, rival)}")


class ExchangeNames:
    """The exchange names a Ledger knows the ledger holds, with the epoch they were known in (see the module)."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: tuple[int, frozenset[str]] = (-1, frozenset())  # replaced whole: read by other threads

    def check(self, uow: UnitOfWork, epoch: int) -> NameCheck:
        """The check of one append in `uow`, whose head (locked) is in `epoch`."""
        known_epoch, names = self._known
        return NameCheck(uow, epoch, names if known_epoch == epoch else frozenset())

    def keep(self, check: NameCheck) -> None:
        """What `check` knows, once its append committed (the names it read and those it appended under)."""
        self._known = (check.epoch, check.known)


class NameCheck:
    """One append's check of its names, under the head's lock, over its chunks (`admit` each, in order)."""

    __slots__ = ("_held", "_new", "_uow", "epoch", "known")

    def __init__(self, uow: UnitOfWork, epoch: int, known: frozenset[str]) -> None:
        self._uow = uow
        self.epoch = epoch
        self.known = known  # names in the ledger, and (once admitted) those of this append
        self._held: frozenset[str] | None = None  # the ledger's names, once read
        self._new: dict[str, str] = {}  # the case fold of each name this append brings to the ledger: the name

    def admit(self, contents: Sequence[Mapping[str, Any]], first: int) -> None:
        """Refuse (InvalidFill) a name of `contents` (the events `first`, `first` + 1, ... of the append, canonical
        fields) that differs only in case from one the ledger holds or from another name of this append."""
        if len(contents) == 1:  # a single append: one look-up
            name = contents[0]["exchange"]
            if name in self.known:
                return
            names: Iterable[str] = (name,)
        else:
            names = dict.fromkeys([content["exchange"] for content in contents])
            if self.known.issuperset(names):
                return
        for name in names:
            if name not in self.known:
                self._admit(name, contents, first)

    def _admit(self, name: str, contents: Sequence[Mapping[str, Any]], first: int) -> None:
        if self._held is None:
            self._held = self._uow.log.exchanges()
            self.known |= self._held
        if name in self._held:
            return
        rival, where = case_rival(name, self._held), "already in the ledger"
        if rival is None:
            rival, where = self._new.get(case_fold(name)), "earlier in the same append"
        if rival is not None:
            at = next(index for index, content in enumerate(contents) if content["exchange"] == name)
            kind = contents[at]["type"]  # named as sent: "fill 3", "funding 4" (as bulk.append_chunk names them)
            raise InvalidFill(f"{kind} {first + at}: {case_refusal(name, rival, where=where)}")
        self._new[case_fold(name)] = name
        self.known |= {name}
