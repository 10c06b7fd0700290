"""The drop-in PaperWallet (spec section 5): the legacy cash-secured spot wallet as a projection of the log.

Cash, positions and counters are folded from every fill of the wallet's account (`AccountBook` with a
`WalletBook`), whoever recorded them, on every read; the wallet keeps no state a caller could change.
A command (`open`, `close`, `buy`, `sell`) checks the current books and appends ONE fill, through the
TradeManager when the wallet has one (so its callbacks, risk levels and state file follow), else
straight into the ledger. A refused command appends nothing and raises `TradeRefused`, which is also
a `RuntimeError` as the legacy wallet raised.

Differences from the legacy wallet, on purpose (legacy-system.md sections 2 and 8):

- `balance` and every other figure are derived: writing one raises `ReadOnlyView`; nothing is
  clamped (a fill recorded elsewhere may leave the cash below 0, and the wallet shows it);
- a long close credits the proceeds `q·p` (the model the legacy tests pin, not the later regression
  that credited only the PnL); a short close credits `q·(2·avg - p)`; fees are deducted;
- `close` of a missing position and of more than is open raise instead of returning 0 / clamping;
- positions are keyed by symbol, one netting position each: `open` on a symbol with an open
  position is refused, and the legacy `open(side, amount, price)` form without a symbol is refused;
- `total_trades` counts position cycles opened, `winning_trades` the closed cycles whose net PnL
  (realized - fees) is above 0, so partial closes of one cycle count once.

Concurrency: the wallet's own commands are serialised, and each checks the books as of its append;
a fill another writer appends between a command's check and its append is not re-checked (the log
has no wallet rule), but it is folded and shown like any other fill.

The modules: `wallet` (the class: commands, reads, hooks), `rules` (arguments read, refusals) and
`shapes` (the legacy dicts and the YAML state file).
"""

from tradeledger.compat.paper_wallet.rules import OPEN_MARGIN, PAPER_EXCHANGE, Amount
from tradeledger.compat.paper_wallet.shapes import STATE_HEADER, WALLET_ADVICE
from tradeledger.compat.paper_wallet.wallet import PaperWallet

__all__ = ["OPEN_MARGIN", "PAPER_EXCHANGE", "STATE_HEADER", "WALLET_ADVICE", "Amount", "PaperWallet"]
