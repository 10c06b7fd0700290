"""A toy writer bot for the example fleet (docs/fleet/README.md): a fill every few seconds, never a real order.

It appends through `Ledger.record` to the ledger at $TRADELEDGER_URL, as a real bot would after each
execution its exchange reports. Not used by the tests.
"""

# ruff: noqa: INP001, T201 - an example script beside the docs, that prints what it did

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from tradeledger import open_ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between fills")
    args = parser.parse_args()
    rng = random.Random()  # noqa: S311 - made-up prices, not a secret
    price = Decimal(100)
    held = Decimal(0)
    with open_ledger() as ledger:  # $TRADELEDGER_URL
        while True:
            price = (price * Decimal(1 + rng.gauss(0, 0.002))).quantize(Decimal("0.01"))
            side = "buy" if held <= 0 or rng.random() < 0.5 else "sell"  # noqa: PLR2004
            quantity = Decimal(1) if side == "buy" else held
            receipt = ledger.record(
                {
                    "fill_id": f"{args.exchange}-{uuid.uuid4()}",
                    "exchange": args.exchange,
                    "symbol": args.symbol,
                    "side": side,
                    "quantity": quantity,
                    "price": price,
                    "fee": (price * quantity * Decimal("0.001")).quantize(Decimal("0.0001")),
                    "occurred_at": datetime.now(UTC),
                }
            )
            held += quantity if side == "buy" else -quantity
            print(f"{args.exchange}: {side} {quantity} {args.symbol} @ {price} -> seq {receipt.seq}", flush=True)
            time.sleep(args.every)


if __name__ == "__main__":
    main()
