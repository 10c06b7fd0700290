"""`watch`: the events of the log as they land (spec section 12), for a dashboard or a pipeline to tail.

From `--from-seq` (default 0: the whole log first), then live, until `--until-seq` (if given) has been
printed; a rollback prints as its own line. With
`--json` each line is one flushed JSON object: `{"kind": "event", "epoch", "seq", "hash", "type",
"event"}` or `{"kind": "rollback", "epoch", "to_seq", "head_hash"}`. It runs until interrupted (Ctrl-C
or SIGTERM end it with status 0).
"""

from __future__ import annotations

import json
import signal
from types import FrameType
from typing import Annotated, Any

import typer

from tradeledger.application.subscribing import EventNotice, Notice
from tradeledger.cli.common import JsonOption, opened
from tradeledger.cli.event_view import event_cells, event_json
from tradeledger.cli.output import short_hash


def notice_json(notice: Notice) -> dict[str, Any]:
    if isinstance(notice, EventNotice):
        event = notice.event.event
        return {
            "kind": "event",
            "epoch": notice.epoch,
            "seq": notice.seq,
            "hash": notice.hash,
            "type": event.type,
            "event": event_json(event),
        }
    return {"kind": "rollback", "epoch": notice.epoch, "to_seq": notice.to_seq, "head_hash": notice.head_hash}


def notice_line(notice: Notice) -> str:
    if isinstance(notice, EventNotice):
        cells = " ".join(cell for cell in event_cells(notice.event.event) if cell)
        return f"#{notice.seq} {notice.event.event.type} {cells} ({short_hash(notice.hash)})"
    head = short_hash(notice.head_hash)
    return f"rollback: the log continues after seq {notice.to_seq} in epoch {notice.epoch} (head {head})"


def watch(
    ctx: typer.Context,
    from_seq: Annotated[
        int, typer.Option(min=0, metavar="SEQ", help="Print the events after this seq first (0: the whole log).")
    ] = 0,
    until_seq: Annotated[
        int | None,
        typer.Option(min=1, metavar="SEQ", help="Stop once the event at this seq is printed.", show_default="never"),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print the log's events, then each new one as it lands, one line each, until interrupted."""
    with opened(ctx) as ledger:
        subscription = ledger.subscribe(after=from_seq)

        def stop(_signal: int, _frame: FrameType | None) -> None:
            subscription.stop()

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            for notice in subscription:
                line = json.dumps(notice_json(notice), ensure_ascii=False) if json_output else notice_line(notice)
                typer.echo(line)  # one write per line, flushed: a pipe sees each event as it lands
                if until_seq is not None and isinstance(notice, EventNotice) and notice.seq >= until_seq:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            subscription.close()
