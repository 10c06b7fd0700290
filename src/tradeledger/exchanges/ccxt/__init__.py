"""ccxt's unified structures into the log, a live sync, and reconciliation (spec section 10).

`mapping` turns what ccxt returns into events; `files` reads its JSON files exactly; `ingesting` appends
them idempotently; `syncing` calls an exchange through ccxt (the optional extra) from stored cursors;
`reconciling` compares the ledger with what the exchange holds and lists.
"""
