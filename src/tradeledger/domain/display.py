"""Amounts for people: the one rounding rule of every table, the report's page and the paper bot's lines.

Display only: the log, the JSON output and the page's tooltips keep every amount exact. An amount is rounded
half-even to a fixed number of places (8 for quantities and prices, 2 for money and percentages), as a trader
reads a table; but a nonzero amount that this would show as 0 (or -0), a SHIB/BTC price of 3.1E-10 or a fee of
1E-12 BTC, is shown instead to its first SIGNIFICANT significant digits (0.00000000031, 0.000000000001): a
nonzero amount never reads as 0, and a negative one keeps its sign. Zero is "0" (never "-0"), written with the
places a column keeps.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

SIGNIFICANT = 4  # digits of an amount smaller than the last place shown
# Wide enough to round any amount the ledger holds (28 digits up to 1E+24, products up to 1E+48, a percentage beyond)
# to 8 places; the ledger's 28 digits cannot when it has more than 20 before the point. Larger ones get their own.
DISPLAY = Context(prec=100, rounding=ROUND_HALF_EVEN)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(9)}


def display_text(value: Decimal, places: int = 8, *, keep_places: int = 0, commas: bool = False) -> str:
    """`value` rounded half-even to `places` (a nonzero one that would round to 0: to SIGNIFICANT significant
    digits), trailing zeros dropped down to `keep_places`, with thousands commas if asked; never "-0"."""
    if not value:
        return f"0.{'0' * keep_places}" if keep_places else "0"
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    wide = value.adjusted() + places + 1
    context = DISPLAY if wide <= DISPLAY.prec else Context(prec=wide, rounding=ROUND_HALF_EVEN)
    rounded = value.quantize(quantum, context=context)
    if rounded:
        text = f"{rounded:,f}" if commas else f"{rounded:f}"
        if keep_places >= places:  # money to the cent: every place kept, nothing to strip
            return text
    else:
        rounded = value.quantize(Decimal(1).scaleb(value.adjusted() + 1 - SIGNIFICANT), context=context)
        text = f"{rounded:,f}" if commas else f"{rounded:f}"
    whole, point, fraction = text.partition(".")
    if not point:
        return f"{whole}.{'0' * keep_places}" if keep_places else whole
    fraction = fraction.rstrip("0")
    if len(fraction) < keep_places:
        fraction = fraction.ljust(keep_places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def cents(value: Decimal) -> str:
    """Money for people: to the cent, with thousands commas (-3.43, 7,438.68); a nonzero amount below a cent to
    its first significant digits (-0.001), never 0.00 or -0.00."""
    return display_text(value, 2, keep_places=2, commas=True)
