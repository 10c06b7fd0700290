"""Events into the log: `record` (one fill), `record-funding`, `record-transfer`, `record-settlement` (a dated
future's expiry) and `import` (an NDJSON file of events, or an export)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from typer import _click
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperOption

from tradeledger.application.appending import validate_event
from tradeledger.application.bulk import as_sent
from tradeledger.application.collector import cycle_collector_paused
from tradeledger.application.copying import import_log
from tradeledger.application.exporting import export_events, is_export, scan_export
from tradeledger.bootstrap import open_store
from tradeledger.cli.common import (
    EXIT_VERIFY_FAILED,
    JsonOption,
    decimal_text_arg,
    emit,
    new_progress,
    opened,
    out,
    parse_time,
    progress_bar,
    refuse_in_memory,
)
from tradeledger.cli.fee_options import FEE_PARTS, FeeOption, fee_entries
from tradeledger.cli.ndjson import FileEvents, count_lines, file_lines, read_fills, read_line, rereadable
from tradeledger.domain.events import TransferKind
from tradeledger.domain.fills import Fill, Side, decimal_text
from tradeledger.domain.markets import market
from tradeledger.domain.records import Receipt
from tradeledger.errors import FillConflict, InvalidArgument, InvalidFill

_FEE, _FEE_PART = "--fee", {"--fee-currency": 1, "--fee-quote-value": 2}  # a pair's option: its place in the fee


class FeePairs(TyperCommand):
    """`record`, taking several fees as spec section 9 writes them: `--fee A [--fee-currency C] [--fee-quote-value
    V]` pairs, repeated, each --fee-currency and --fee-quote-value naming the --fee before it. They are read as
    `--fee A:C:V` (the form a single option holds) before the options are parsed, since an option's values alone
    do not say which --fee came before which currency. With one --fee the options are parsed as they stand."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, paired_fees(args, self._flags(ctx)))

    def _flags(self, ctx: _click.Context) -> frozenset[str]:
        return frozenset(
            name
            for param in self.get_params(ctx)
            if isinstance(param, TyperOption) and param.is_flag
            for name in (*param.opts, *param.secondary_opts)
        )


def paired_fees(args: list[str], flags: frozenset[str]) -> list[str]:
    """`args` with interleaved fee pairs as `--fee A:C:V` each (see FeePairs); unchanged with fewer than two --fee.
    A --fee-currency or --fee-quote-value before any --fee, twice for one, or naming what its --fee's AMOUNT:…
    form names already, is refused naming it (nothing is recorded); so is a quote value without a currency."""
    options: list[tuple[str, str | None]] = []  # (option or "" for an argument, its value)
    tokens = iter(args)
    for token in tokens:
        if token == "--":  # noqa: S105 - the end of the options, not a password
            options.append(("", token))
            options.extend(("", rest) for rest in tokens)
            break
        name, equals, inline = token.partition("=")
        if not token.startswith("--") or name in flags:
            options.append(("", token))
        else:
            value = inline if equals else next(tokens, None)
            if value is None:  # an option without its value: click names it
                return args
            options.append((name, value))
    if sum(name == _FEE for name, _ in options) < FEE_PARTS:
        return args
    fees: list[list[str | None]] = []
    rest: list[str] = []
    for name, value in options:
        if name == _FEE:
            fees.append([value, None, None])
        elif name in _FEE_PART:
            _pair(fees, name, value)
        elif name:
            rest += [name] if value is None else [name, value]
        else:
            rest.append(cast("str", value))
    return [*rest, *(part for fee in fees for part in (_FEE, _joined(fee)))]


def _pair(fees: list[list[str | None]], name: str, value: str | None) -> None:
    """Give the --fee before it the currency or quote value `name` names, or refuse it."""
    if not fees:
        raise UsageError(f"{name} {value!r} comes before any --fee: with several fees, each follows its --fee")
    fee, place = fees[-1], _FEE_PART[name]
    if fee[place] is not None:
        raise UsageError(f"{name} twice for the one --fee {fee[0]!r}")
    if ":" in (fee[0] or ""):
        raise UsageError(f"--fee {fee[0]!r} names its currency already; {name} {value!r} would name it again")
    fee[place] = value


def _joined(fee: list[str | None]) -> str:
    amount, currency, quote_value = fee
    if quote_value is not None and currency is None:
        raise UsageError(f"--fee-quote-value of a --fee without --fee-currency (--fee {amount!r})")
    return ":".join(part for part in (amount, currency, quote_value) if part is not None)


def _record_one(ctx: typer.Context, fields: dict[str, Any], kind: str, event_id: str, *, json_output: bool) -> None:
    with opened(ctx, writes=True) as ledger:
        receipt = ledger.record(fields)
    _receipt(kind, event_id, receipt, json_output)


def _receipt(kind: str, event_id: str, receipt: Receipt, json_output: bool) -> None:
    if json_output:
        emit({"seq": receipt.seq, "hash": receipt.hash, "duplicate": receipt.duplicate})
    elif receipt.duplicate:
        out().print(f"duplicate: {kind} {event_id} is already recorded as seq {receipt.seq} (nothing appended)")
    else:
        out().print(f"recorded {kind} {event_id} as seq {receipt.seq}, hash {receipt.hash}")


def _occurred(time: str | None) -> datetime:
    return parse_time(time, "--time") if time is not None else datetime.now().astimezone()


TimeOption = Annotated[
    str | None, typer.Option("--time", metavar="TIME", help="When it happened, ISO 8601 with offset. Default: now.")
]
AccountOption = Annotated[str, typer.Option(help="Account.")]
ExchangeOption = Annotated[str, typer.Option(help="Exchange.", show_default="none")]


def record(
    ctx: typer.Context,
    fill_id: Annotated[str, typer.Option(help="The exchange's id of this fill (the idempotency key).")],
    symbol: Annotated[
        str, typer.Option(help="BASE/QUOTE (spot, e.g. BTC/USD), BASE/QUOTE:SETTLE (a perpetual) or …-YYMMDD.")
    ],
    side: Annotated[Side, typer.Option(help="buy or sell.")],
    quantity: Annotated[str, typer.Option(metavar="DECIMAL", help="Base quantity, > 0.")],
    price: Annotated[str, typer.Option(metavar="DECIMAL", help="Quote per base unit, > 0.")],
    fee: FeeOption = None,
    fee_currency: Annotated[
        str | None,
        typer.Option(
            metavar="CURRENCY",
            help="The currency of the --fee before it (of the one --fee, wherever it stands).",
            show_default="the quote currency",
        ),
    ] = None,
    fee_quote_value: Annotated[
        str | None,
        typer.Option(
            metavar="DECIMAL",
            help="The quote value of the --fee before it (of the one --fee), when it is in a third currency.",
        ),
    ] = None,
    time: TimeOption = None,
    account: AccountOption = "default",
    exchange: ExchangeOption = "",
    strategy: Annotated[str | None, typer.Option(help="Strategy that placed the order.")] = None,
    order_id: Annotated[
        str | None,
        typer.Option(
            help="The exchange's id of the order this fill is part of: a later `sync` or `ingest` of the exchange's "
            "trades then takes that order's trades as this fill's, not as fills to append again.",
        ),
    ] = None,
    lot: Annotated[
        list[str] | None,
        typer.Option(
            "--lot",
            metavar="SEQ=QUANTITY",
            help="A tax lot this fill disposes of (metadata.lots, for `gains --method specific`): the seq of the "
            "fill that acquired it and how much; repeatable, summing to --quantity.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record one fill."""
    fields: dict[str, Any] = {
        "fill_id": fill_id,
        "symbol": symbol,
        "side": side.value,
        "quantity": quantity,
        "price": price,
        "fees": fee_entries(fee or [], fee_currency, fee_quote_value),
        "occurred_at": _occurred(time),
        "account": account,
        "exchange": exchange,
        "strategy": strategy,
        "order_id": order_id,
    }
    if lot:
        fields["metadata"] = {"lots": [_lot(value) for value in lot]}
    _record_one(ctx, fields, "fill", fill_id, json_output=json_output)


record.command_class = FeePairs  # type: ignore[attr-defined]  # read by cli/app.py when it registers `record`


def _lot(value: str) -> dict[str, Any]:
    """A `--lot SEQ=QUANTITY` as metadata.lots names a lot (the ledger checks it against the log)."""
    seq, sep, quantity = value.partition("=")
    if not sep or not seq.isascii() or not seq.isdigit() or not quantity:
        raise InvalidArgument(
            f"--lot: expected SEQ=QUANTITY, the seq of the fill that acquired the lot (got {value!r})"
        )
    return {"seq": int(seq), "quantity": quantity}


def record_funding(
    ctx: typer.Context,
    funding_id: Annotated[str, typer.Option(help="The exchange's id of this payment (the idempotency key).")],
    symbol: Annotated[str, typer.Option(help="The contract: BASE/QUOTE:SETTLE, e.g. BTC/USDT:USDT.")],
    amount: Annotated[str, typer.Option(metavar="DECIMAL", help="+ received, - paid.")],
    currency: Annotated[
        str | None, typer.Option(metavar="CURRENCY", help="Its currency.", show_default="the settle currency")
    ] = None,
    time: TimeOption = None,
    account: AccountOption = "default",
    exchange: ExchangeOption = "",
    json_output: JsonOption = False,
) -> None:
    """Record one funding payment of a perpetual or a future (into the open cycle's funding)."""
    fields: dict[str, Any] = {
        "type": "funding",
        "funding_id": funding_id,
        "symbol": symbol,
        "amount": amount,
        "currency": currency if currency is not None else _settle_currency(symbol),
        "occurred_at": _occurred(time),
        "account": account,
        "exchange": exchange,
    }
    _record_one(ctx, fields, "funding", funding_id, json_output=json_output)


def _settle_currency(symbol: str) -> str:
    """A contract's settle currency (a spot symbol's quote: the event model refuses funding on it by name)."""
    try:
        traded = market(symbol)
    except ValueError:
        return ""  # the model names what is wrong with the symbol
    return traded.settle or traded.quote


def record_settlement(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option(help="The dated future that expired: BASE/QUOTE:SETTLE-YYMMDD.")],
    price: Annotated[str, typer.Option(metavar="DECIMAL", help="The settlement (delivery) price, > 0.")],
    time: Annotated[
        str,
        typer.Option(
            "--time",
            metavar="TIME",
            help="When the exchange settled it, ISO 8601 with offset: on the expiry day (UTC).",
        ),
    ],
    fee: FeeOption = None,
    fee_rate: Annotated[
        str | None,
        typer.Option(
            metavar="DECIMAL",
            help="The delivery fee as a fraction of the value settled (0.0002 for 0.02%: quantity * price * rate, in "
            "the settle currency), instead of --fee.",
        ),
    ] = None,
    account: AccountOption = "default",
    exchange: Annotated[
        str | None, typer.Option(help="Exchange.", show_default="the exchange of the position's last fill")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the settlement of an expired dated future: a fill closing the whole open position at the settlement
    price (read from the ledger; refused when none is open or the contract is not dated)."""
    settled_at = parse_time(time, "--time")
    with opened(ctx, writes=True) as ledger:
        try:
            receipt = ledger.record_settlement(
                symbol,
                price=price,
                occurred_at=settled_at,
                account=account,
                exchange=exchange,
                fees=fee_entries(fee or [], None, None),
                fee_rate=fee_rate,
            )
        except (InvalidArgument, InvalidFill) as error:
            raise _settlement_option(error) from None
        [settled] = ledger.history(after_seq=receipt.seq - 1, until_seq=receipt.seq)
    fill = settled.fill
    if json_output or receipt.duplicate or not isinstance(fill, Fill):
        _receipt("settlement", receipt.fill_id, receipt, json_output)
        return
    where = f"in account {fill.account!r} on exchange {fill.exchange!r}"
    closed = f"{fill.side.value} {decimal_text(fill.quantity)} at {decimal_text(fill.price)}"
    line = f"recorded settlement {receipt.fill_id} {where} ({closed}) as seq {receipt.seq}, hash {receipt.hash}"
    out().print(line, highlight=False, soft_wrap=True)


# The API's names of record_settlement's arguments (and of the closing fill's price) as the options typed.
_SETTLEMENT_OPTIONS = {"symbol": "--symbol", "price": "--price", "fill 1: price": "--price", "fee_rate": "--fee-rate",
                       "exchange": "--exchange", "account": "--account"}  # fmt: skip


def _settlement_option(error: InvalidArgument | InvalidFill) -> InvalidArgument | InvalidFill:
    """`error` naming the option typed where it names an argument of Ledger.record_settlement (`--fee-rate:`)."""
    for field, option in _SETTLEMENT_OPTIONS.items():
        if str(error).startswith(f"{field}: "):
            return type(error)(option + str(error).removeprefix(field))
    return error


def record_transfer(
    ctx: typer.Context,
    transfer_id: Annotated[str, typer.Option(help="The id of this transfer (the idempotency key).")],
    currency: Annotated[str, typer.Option(metavar="CURRENCY", help="What moved, e.g. USDT.")],
    amount: Annotated[
        str, typer.Option(metavar="DECIMAL", help="How much: + into the account, - out of it (a withdrawal).")
    ],
    kind: Annotated[TransferKind, typer.Option(help="deposit, withdrawal or internal.")],
    fee: Annotated[str, typer.Option(metavar="DECIMAL", help="A fee in the same currency, taken on top.")] = "0",
    to_account: Annotated[
        str | None,
        typer.Option(
            metavar="ACCOUNT",
            help="An internal move: also record its other side, the same amount into this account (the "
            "amount leaving the first account is negative).",
        ),
    ] = None,
    time: TimeOption = None,
    account: AccountOption = "default",
    exchange: ExchangeOption = "",
    json_output: JsonOption = False,
) -> None:
    """Record a deposit, a withdrawal or an internal move (balances only, never PnL)."""
    occurred_at = _occurred(time)
    fields: dict[str, Any] = {
        "type": "transfer",
        "transfer_id": transfer_id,
        "currency": currency,
        "amount": amount,
        "fee": fee,
        "kind": kind.value,
        "occurred_at": occurred_at,
        "account": account,
        "exchange": exchange,
    }
    events = [fields]
    if to_account is not None:
        if kind is not TransferKind.INTERNAL:
            raise InvalidArgument(f"--to-account: only an internal move has another side (got --kind {kind.value})")
        if to_account == account:
            raise InvalidArgument(
                f"--to-account: an internal move goes to another account than the one it leaves ({account!r})"
            )
        received = decimal_text_arg(amount)
        if not received.is_finite() or received >= 0:
            raise InvalidArgument(f"--amount: an internal move out of --account is negative (got {amount!r})")
        events.append({**fields, "account": to_account, "amount": str(-received), "fee": "0"})
    with opened(ctx, writes=True) as ledger:
        receipts = ledger.record_many(events)
    if to_account is None:
        _receipt("transfer", transfer_id, receipts[0], json_output)
        return
    first, other = receipts
    if json_output:
        side = {"account": to_account, "seq": other.seq, "hash": other.hash, "duplicate": other.duplicate}
        emit({"seq": first.seq, "hash": first.hash, "duplicate": first.duplicate, "other_side": side})
        return
    if first.duplicate and not other.duplicate:  # this side was there already; the other one is appended now
        out().print(f"duplicate: transfer {transfer_id} is already recorded as seq {first.seq}")
    else:
        _receipt("transfer", transfer_id, first, json_output=False)
    if other.duplicate:
        out().print(f"  its other side in account {to_account} is already recorded as seq {other.seq}")
    else:
        out().print(f"  and its other side into account {to_account} as seq {other.seq}, hash {other.hash}")


def import_fills(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="NDJSON, one fill per line.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Import fills from an NDJSON file (validated first, appended in one transaction), or an export into
    an empty ledger (event for event, hashes kept, then verified)."""
    refuse_in_memory(ctx.obj)
    with rereadable(file) as source:  # a pipe is copied first: its lines are read more than once
        _import_file(ctx, file, source, json_output=json_output)


def _import_file(ctx: typer.Context, file: Path, source: Path, *, json_output: bool) -> None:
    lines = file_lines(source, name=file)
    first = next(lines, None)
    if first is not None and is_export(first):
        summary = import_export(ctx.obj, lambda: file_lines(source, name=file))
        if json_output:
            emit(summary)
        else:
            out().print(
                f"imported the export {file}: {summary['appended']} events and "
                f"{summary['rollbacks']} rollback record(s), head seq {summary['seq']} {summary['hash']}; "
                f"verify {'ok' if summary['verify'] else 'FAILED'}"
            )
        if not summary["verify"]:
            raise typer.Exit(EXIT_VERIFY_FAILED)
        return
    total = count_lines(source)
    with new_progress() as progress:
        task = progress.add_task("validating", total=total)

        def advance(done: int) -> None:
            progress.update(task, completed=done, description="validating" if done < total else "appending")

        with cycle_collector_paused():
            # Every line validated before the ledger is opened: a bad file creates or writes nothing. What is
            # kept of each line until then is its event's text (application/bulk.py), read a line at a time.
            read = read_fills(chain([] if first is None else [first], lines), on_progress=advance)
            with opened(ctx) as ledger:
                try:
                    appended = ledger.append_texts(read.texts)
                except FillConflict as conflict:  # with a fill already in the log: name its line too
                    raise InvalidFill(f"line {read.line_of(conflict.key)}: {conflict}; nothing was imported") from None
                except InvalidFill as refusal:  # a refusal at append time (lots, a size) names the event's line
                    raise InvalidFill(_named_by_line(str(refusal), read, source)) from None
    duplicates = appended.duplicates + read.duplicates
    summary = {"appended": appended.appended, "duplicates": duplicates, "seq": appended.head.seq}
    if json_output:
        emit(summary)
    else:
        out().print(
            f"imported {file}: {appended.appended} appended, {duplicates} duplicates skipped; "
            f"head seq {appended.head.seq}"
        )


_EVENT_NAMED = re.compile(r"(?:fill|funding|transfer) (\d+): ")


def _named_by_line(message: str, read: FileEvents, file: Path) -> str:
    """An append's refusal of the event N of the batch (`fill N: ...`, `funding N`, `transfer N` as sent) named by its
    line, a refused base fee by its place in the line (the text keeps the fees sorted: the line is read again)."""
    found = _EVENT_NAMED.match(message)
    if found is None:
        return message
    number = read.numbers[int(found[1]) - 1]
    line = next(islice(file_lines(file), number - 1, None))
    message = as_sent(message, [validate_event(read_line(line, number))], first=int(found[1]))
    return f"line {number}: " + message[found.end() :]


def import_export(url: str | None, lines: Callable[[], Iterator[str]]) -> dict[str, Any]:
    """Import an export into an empty ledger, event for event, then verify (exit 1 when it does not). The file
    (`lines` reads it from its start) is read twice, a line at a time: checked whole, then written."""
    exported = scan_export(lines())
    store = open_store(url)
    try:
        with progress_bar("importing the export", total=exported.events) as advance:
            events = export_events(lines())
            report = import_log(exported.head, events, exported.records, store, on_progress=advance)
    finally:
        store.close()
    return {
        "appended": report.copied,
        "duplicates": 0,
        "seq": report.head.seq,
        "hash": report.head.hash,
        "rollbacks": len(exported.records),
        "verify": report.verify.ok,
    }
