"""The `--fee AMOUNT[:CURRENCY[:QUOTE_VALUE]]` option of the commands that record a fill (`record`,
`record-settlement`), and the fee entries it gives."""

from __future__ import annotations

from typing import Annotated

import typer

from tradeledger.errors import InvalidArgument

FeeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fee",
        metavar="AMOUNT[:CURRENCY[:QUOTE_VALUE]]",
        help="A fee of the fill, repeatable: AMOUNT in CURRENCY (default: the quote currency), with its "
        "QUOTE_VALUE when it is in a third currency (without one such a fee is unvalued). A negative "
        "amount is a rebate.",
        show_default="no fee",
    ),
]


FEE_PARTS = 2  # CURRENCY and QUOTE_VALUE after the amount


def fee_entries(fees: list[str], currency: str | None, quote_value: str | None) -> list[dict[str, str]]:
    """The --fee options as fee entries; --fee-currency and --fee-quote-value name a single --fee's."""
    if (currency is not None or quote_value is not None) and len(fees) != 1:
        raise InvalidArgument(
            f"--fee-currency and --fee-quote-value describe one --fee (got {len(fees)}); "
            "with several fees write each as AMOUNT:CURRENCY[:QUOTE_VALUE]"
        )
    entries = []
    for text in fees:
        amount, *named = text.split(":")
        fee_currency, fee_value = [*named, None, None][:2] if len(named) <= FEE_PARTS else (None, None)
        if len(named) > FEE_PARTS or "" in (amount, *named) or (named and currency is not None):
            twice = "; the currency is given twice" if named and currency is not None else ""
            raise InvalidArgument(f"--fee: expected AMOUNT[:CURRENCY[:QUOTE_VALUE]] (got {text!r}{twice})")
        entry = {"amount": amount}
        if fee_currency is not None or currency is not None:
            entry["currency"] = fee_currency if fee_currency is not None else str(currency)
        if fee_value is not None or quote_value is not None:
            entry["quote_value"] = fee_value if fee_value is not None else str(quote_value)
        entries.append(entry)
    return entries
