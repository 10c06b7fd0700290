"""Alembic revisions of the tradeledger schema, shipped as tradeledger.migrations."""
