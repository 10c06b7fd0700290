"""The contract suite: every test here runs on SQLite and on PostgreSQL (see tests/backends.py)."""

from __future__ import annotations

import pytest

from tests.backends import Backend


@pytest.fixture
def db_url(backend: Backend) -> str:
    """A fresh, empty database on the backend under test (overrides the SQLite-only root fixture)."""
    return backend.url
