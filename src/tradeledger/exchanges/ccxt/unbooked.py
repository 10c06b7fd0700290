"""Why a ccxt ledger entry no event books is skipped: what moved, and how to record it (spec section 10).

A ledger lists every change of a balance. Its deposits, withdrawals, transfers and funding are events
(mapping.py); a `trade` entry repeats what its trade in the trade list carries, and a `fee` entry a trade's fee
(or funding ccxt types fee: mapping's own reason). Every other entry moved money no event of this ledger books:
its skip names the kind, the amount (its fee taken, as the exchange took it from the balance) and the currency,
that `reconcile` shows it as a balance difference, and the command that records it. An exchange's own type may
say a ccxt `trade` is not in the trade list: kraken's `spend` and `receive` are its Buy Crypto and convert, never
in its TradesHistory (ccxt 4.5.90's `kraken.parse_ledger_entry_type` maps only trade, deposit, withdrawal,
transfer and margin, and passes these on as kraken writes them; a later one may map them to `trade`), and
kraken futures' collateral conversion, which ccxt types `trade`.
Skipped, not refused: a kraken ledger holds such entries in every account that staked or converted.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tradeledger.exchanges.ccxt.entries import Entry, quoted

_LIMIT = 24  # an amount shown is within a fill amount's limits (1E-24..1E+24): arithmetic on it stays small

# ccxt types a margin trade's own ledger entries (kraken's opening fee and closing profit or loss) `margin`:
# the margin trade in the trade list carries them, as a trade carries its `trade` entries.
_CARRIED = {"trade": "its trade carries it", "margin": "its margin trade carries it"}
# An exchange's own types of conversions not in its trade list, whatever ccxt types them (ccxt's `info`, the
# exchange's record, and the field of it holding that type): kraken's Buy Crypto and convert; kraken futures'
# collateral conversion (ccxt 4.5.90 types it `trade`; its `info` "futures trade" is a trade's cash leg).
_CONVERSIONS = {
    "kraken": ("type", frozenset({"spend", "receive"}), "Buy Crypto or convert"),
    "krakenfutures": ("info", frozenset({"conversion"}), "collateral conversion"),
}
_FEES = {"rollover": "a margin position's rollover fee"}  # kraken's, charged every four hours


def unbooked(entry: Entry, kind: object, exchange: str) -> str:
    """The reason a ledger entry of ccxt type `kind` (not funding, transfer, deposit, withdrawal or fee) is
    skipped, naming what moved (the amount and the currency) and how to record it."""
    info = entry.raw.get("info")
    field, words, called = _CONVERSIONS.get(exchange, ("type", frozenset(), ""))
    own = info.get(field) if isinstance(info, dict) else None
    label = kind if isinstance(kind, str) else "untyped"
    conversion = own in words if isinstance(own, str) else False
    conversion = conversion or (isinstance(kind, str) and kind in words)
    if not conversion and label in _CARRIED:
        return f"a ledger {label} entry ({_CARRIED[label]}: ingest the trade list)"
    moved, code = _moved(entry)
    shown = (
        f"{moved:+} {code}"
        if moved is not None
        else f"an amount not given ({quoted(entry.raw.get('amount'))}) of {code}"
    )
    if conversion:
        what = f"{called} of {exchange!r}, not in its trade list"
        reference = entry.raw.get("referenceId")
        paired = exchange == "kraken" and isinstance(reference, str) and reference  # kraken's legs share a refid
        legs = f" (both legs have referenceId {reference})" if paired else ""
        how = f"record the conversion as one fill with `record`{legs}"
    elif moved is None:
        what = _FEES.get(label) or "money the trade list does not carry"
        how = "record it with `record-transfer --kind deposit` (income) or `--kind withdrawal` (a charge)"
    else:
        what = _FEES.get(label) or f"{'income' if moved >= 0 else 'a charge'} the trade list does not carry"
        how = f"record it with `record-transfer --kind {'deposit' if moved >= 0 else 'withdrawal'}`"
    return (
        f"a ledger {label} entry ({what}): {shown} moved that no event books; reconcile shows it as a {code} "
        f"difference: {how}"
    )


def _moved(entry: Entry) -> tuple[Decimal | None, str]:
    """What the entry changed its balance by and in what: its amount signed by `direction` (exchanges disagree on
    the sign of `amount`; without one, the amount's sign), less its fee when in the same currency (kraken takes a
    ledger entry's fee from the balance). Only shown, never booked: a number as written (a float by its shortest
    repr, as ccxt's default float mode gives it), one not given named as given (None): a skipped entry is never
    refused, as it was not read before."""
    currency = entry.raw.get("currency")
    code = currency if isinstance(currency, str) and currency else f"currency {quoted(currency)}"
    amount = _shown(entry.raw.get("amount"))
    if amount is None:
        return None, code
    direction = entry.raw.get("direction")
    signed = abs(amount) * (1 if direction == "in" else -1) if direction in ("in", "out") else amount
    fee = entry.raw.get("fee")
    if (
        isinstance(fee, dict)
        and (cost := _shown(fee.get("cost"))) is not None
        and fee.get("currency") in (None, currency)
    ):
        signed -= cost
    return signed, code


def _shown(value: object) -> Decimal | None:
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number.adjusted()) <= _LIMIT else None
