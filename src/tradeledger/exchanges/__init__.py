"""Adapters from exchanges' own data into the log (spec section 10): what an exchange says, as events.

`ccxt/` maps ccxt's unified structures (trades, funding history, ledger entries, deposits and
withdrawals) to events, reads its JSON files exactly, syncs from a live exchange and reconciles the
ledger against it. This layer appends and reads through the `Ledger` only; the ccxt library itself is
an optional extra (`pip install "tradeledger[ccxt]"`), imported only by the call that talks to an
exchange.
"""
