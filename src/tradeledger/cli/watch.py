"""`watch`: the events of the log as they land (spec section 12), for a dashboard or a pipeline to tail.

From `--from-seq` (default 0: the whole log first), then live, until `--until-seq` (if given) has been
printed; a rollback prints as its own line. With
`--json` each line is one flushed JSON object: `{"kind": "event", "epoch", "seq", "hash", "type",
"event"}` or `{"kind": "rollback", "epoch", "to_seq", "head_hash"}`. It runs until interrupted (Ctrl-C
or SIGTERM end it with status 0).

A server restart (or a failover) ends every connection and refuses new ones until the server is up again: once
watch has read, a StorageError is tried again every RETRY_S for up to RECONNECT_S (a note on stderr says so),
from the last event printed (it reads by seq: nothing missed, nothing twice); a server still away then ends it
with that error (exit 2). An error at its first read (no such database, no right to read) ends it at once.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import Annotated, Any

import typer

from tradeledger.application.subscribing import EventNotice, Notice, Subscription
from tradeledger.cli.common import JsonOption, err, opened
from tradeledger.cli.event_view import event_cells, event_json
from tradeledger.cli.output import short_hash
from tradeledger.errors import StorageError

RECONNECT_S = 60.0  # how long watch waits for a server it lost (a restart, a failover) before it gives up
RETRY_S = 0.5  # between two tries while it is away


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
            for notice in _riding_out(subscription):
                line = json.dumps(notice_json(notice), ensure_ascii=False) if json_output else notice_line(notice)
                typer.echo(line)  # one write per line, flushed: a pipe sees each event as it lands
                if until_seq is not None and isinstance(notice, EventNotice) and notice.seq >= until_seq:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            subscription.close()


def _riding_out(subscription: Subscription) -> Iterator[Notice]:
    """The subscription's notices; after its first read, a StorageError (the server gone, refusing connections while
    it restarts) is tried again every RETRY_S, and raised when the server has been away for RECONNECT_S."""
    yield from subscription.poll()  # the first read: an error here is the URL's or the rights', never a restart
    away_since: float | None = None
    last_failure = 0.0
    while not subscription.stopped():
        try:
            yield from subscription
        except StorageError as error:
            now = time.monotonic()
            if away_since is None or now - last_failure > RETRY_S + 1.0:  # read in between: a new outage
                away_since = now
                said = " ".join(str(error).split())
                err().print(f"watch: {said}; trying again for up to {RECONNECT_S:g} s", soft_wrap=True)
            elif now - away_since > RECONNECT_S:
                raise
            last_failure = now
            time.sleep(RETRY_S)
        else:
            return
