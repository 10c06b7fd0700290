from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from tests.backends import (
    BACKENDS,
    PG_HOW_TO,
    PG_URL_VARIABLE,
    Backend,
    PostgresServer,
    postgres_server_or_skip,
    sqlite_backend,
)
from tradeledger import Ledger, open_ledger
from tradeledger.cli import common

RECORDED_AT = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)

# Tests never assert on seconds: no Hypothesis example fails for taking longer than 200 ms on a busy machine.
settings.register_profile("tradeledger", deadline=None)
settings.load_profile("tradeledger")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file URL."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def pytest_configure() -> None:
    """The CLI's human output is as wide as `COLUMNS` says, else 120 columns on a pipe: the tests see the pipe's
    width whatever the shell that runs them exports (a terminal's COLUMNS, or the COLUMNS=80 that
    pytest-xdist's workers are started with); a test that wants a width sets COLUMNS itself."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def _fresh_consoles() -> Iterator[None]:
    """The CLI makes its consoles once per process (a process runs one command); each test gets new ones,
    made under its own environment, so no test's COLUMNS decides a later test's width."""
    yield
    common.out.cache_clear()
    common.err.cache_clear()


def pytest_report_header() -> str:
    url = os.environ.get(PG_URL_VARIABLE)
    if url:
        return f"contract tests: sqlite and postgresql ({url})"
    return f"contract tests: sqlite only; the postgresql cases skip. {PG_HOW_TO}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The server named by $TRADELEDGER_TEST_PG_URL (skips, saying how to start one, when unset)."""
    server = postgres_server_or_skip()
    yield server
    server.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, empty database on each backend: a new SQLite file, or a new PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        created = sqlite_backend(tmp_path)
        yield created
        created.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as created:
        yield created


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A ledger on a fresh SQLite file with a fixed recording clock."""
    with open_ledger(db_url, clock=lambda: RECORDED_AT) as opened:
        yield opened
