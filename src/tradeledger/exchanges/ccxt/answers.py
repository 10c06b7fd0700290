"""What a page of a sync's answers says (see syncing): its entries' times, where a stream asks next when it holds
nothing new, and the words of a transfer's status (whether it moved money, may still move it, or never will)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# ccxt's statuses of a deposit or withdrawal (4.5.90: its unified ok, pending, failed and canceled, and the words of
# an exchange it passes on as written), compared casefolded: ccxt's gemini maps exactly "Advanced" and "Complete" to
# ok and passes any other word on ("Pending"). MOVED: money moved; STILL_OPEN: it may still move money (pending, and
# what exchanges say while they work on it); NOT_MOVED: final, no money moved. Any other word is refused (mapping).
# coinbase's v2 transaction statuses (pending, completed, failed, expired, canceled, waiting_for_signature,
# waiting_for_clearing): ccxt's coinbase.parse_transaction_status maps created, completed and canceled and
# parse_ledger_entry_status completed only, passing the others on; waiting_for_signature is a vault withdrawal
# waiting for approval, waiting_for_clearing one waiting to be cleared: both may still move money.
MOVED = frozenset({"ok", "complete", "advanced"})
STILL_OPEN = frozenset(
    {"pending", "processing", "initiated", "unknown", "waiting_for_signature", "waiting_for_clearing"}
)
NOT_MOVED = frozenset({"failed", "fail", "canceled", "cancelled", "rejected", "declined", "expired", "refunded"})
# Words that mean something on one exchange's list only (its name as sync names it, ccxt's id), by (exchange, kind of
# transfer): binance's deposit history (status 0 pending, 1 success, 6 credited but not yet withdrawable, 7 a wrong
# deposit, 8 waiting for the user's confirmation, 2 rejected): ccxt's binance.parse_transaction_status_by_type maps
# 0, 1 and 6 and passes the others on as the digits binance wrote. 7: binance may still credit a wrong deposit once
# its recovery is asked for (held, not taken as final); 8 may still move money; 2 moved none.
# deribit's withdrawal states (API v2 private/get_withdrawals: unconfirmed, confirmed, cancelled, completed,
# interrupted, rejected) and deposit states (private/get_deposits: pending, completed, rejected, replaced): ccxt's
# deribit.parse_transaction_status maps completed and unconfirmed only. confirmed: confirmed by the user, not yet sent;
# interrupted: stopped while being processed, deribit says no more (held, not taken as final); replaced: the deposit's
# transaction was replaced on chain, its replacement a deposit of its own (this one moved none).
_OWN_WORDS: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    ("binance", "deposit"): {"7": STILL_OPEN, "8": STILL_OPEN, "2": NOT_MOVED},
    ("deribit", "withdrawal"): {"confirmed": STILL_OPEN, "interrupted": STILL_OPEN},
    ("deribit", "deposit"): {"replaced": NOT_MOVED},
    # htx's deposit states ccxt calls failed, restored by quirks.transfer_status: `unknown` (the chain transfer not yet
    # received) and `orphan` (its block in an orphan branch, for now) may still move money
    ("htx", "deposit"): {"unknown": STILL_OPEN, "orphan": STILL_OPEN},
    # luno's ledger: a row of only `available_delta` (funds reserved, ccxt's pending) never turns ok: the move is a
    # row of its own, so the reservation is final, holding no cursor (a release, ccxt's canceled, moved none either).
    ("luno", "ledger withdrawal"): {"pending": NOT_MOVED},
}


def status_meaning(status: object, exchange: str = "", kind: str = "") -> frozenset[str] | None:
    """Which of MOVED, STILL_OPEN and NOT_MOVED a transfer's `status` is (casefolded; a word of `exchange`'s `kind` of
    transfer, "deposit" or "withdrawal", by its own table first), None for a word none of them holds."""
    if not isinstance(status, str):
        return None
    own = _OWN_WORDS.get((exchange, kind), {}).get(status)
    if own is not None:
        return own
    word = status.casefold()
    return next((words for words in (MOVED, STILL_OPEN, NOT_MOVED) if word in words), None)


def step(cursor: int | None, window: int, now: int, *, cut: bool) -> int | None:
    """Where a stream whose answer from `cursor` held nothing new asks next: after the cursor's ms where the answer
    was a page cut within it (see cut_at), else the next window where the window after the cursor is past (see
    syncing); None: it is done."""
    if cursor is None:
        return None
    if cut:
        return cursor + 1
    return None if cursor + window >= now else cursor + window


def cut_at(cursor: int | None, page: Sequence[object], longest: int) -> bool:
    """Whether `page`, an answer from `cursor`, may be a page cut within the cursor's ms: two entries or more, all of
    that ms, and as many as the longest answer from a cursor yet in the run (a full page). An exchange that answers
    oldest first would answer the same page again from there, never reaching what came after it: what lies after
    that ms is asked next (more entries of it than a page holds keep a page of them; README's known limits). One
    entry a page cannot be told from the cursor's entry repeated."""
    return (
        cursor is not None
        and len(page) > 1
        and len(page) >= longest
        and all(timestamp(entry) == cursor for entry in page)
    )


def timestamp(entry: object) -> int:
    value = entry.get("timestamp") if isinstance(entry, Mapping) else None
    return int(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else 0
