"""Use cases (the Ledger) and the ports storage implements. Imports the domain only."""
