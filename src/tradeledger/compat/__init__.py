"""The legacy bot's API over one ledger: TradeManager, ctx.positions, the paper wallet, the monitor.

Every class here reads the ledger and appends fills through it; none keeps a copy of its own.
"""
