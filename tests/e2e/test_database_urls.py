"""Database URLs as an operator types them: a password holding reserved characters, an unknown kind of database, a
password given as a query parameter. Each is refused (or reported) in one line that says what is wrong, exit 2,
and never shows the password: the line lands in terminals, CI logs and bug reports.

None of these needs a server: a URL that does not read is refused before any connection, and port 1 on the
loopback refuses at once.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Cli
from tradeledger import InvalidArgument, StorageError, open_ledger

UNENCODED = "postgresql+psycopg://bot:p@ss:w/rd%41@127.0.0.1:1/ledger"
ENCODING_HINT = "@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25"


def one_line_without(stderr: str, *secrets: str) -> str:
    assert stderr.count("\n") == 1, stderr
    for secret in secrets:
        assert secret not in stderr
    assert "bug in tradeledger" not in stderr
    return stderr.strip()


def test_a_password_with_reserved_characters_not_percent_encoded_is_refused_asking_for_the_encoding() -> None:
    with pytest.raises(InvalidArgument) as raised:
        open_ledger(UNENCODED)
    result = Cli(UNENCODED)("positions", expect=2)

    assert str(raised.value) == (
        "database URL 'postgresql+psycopg://bot:***@127.0.0.1:1/ledger' does not read as one "
        "(DIALECT+DRIVER://USER:PASSWORD@HOST:PORT/DATABASE, the port a number); a user name or password "
        f"holding a reserved character must be percent-encoded ({ENCODING_HINT})"
    )
    assert one_line_without(result.stderr, "ss:w", "rd%41") == f"error: {raised.value}"


def test_a_url_without_a_scheme_is_refused_without_its_password() -> None:
    result = Cli("bot:topSECRET@db.example/ledger")("positions", expect=2)

    assert one_line_without(result.stderr, "topSECRET") == (
        "error: database URL 'bot:***@db.example/ledger' does not read as one "
        "(DIALECT+DRIVER://USER:PASSWORD@HOST:PORT/DATABASE, the port a number); a user name or password "
        f"holding a reserved character must be percent-encoded ({ENCODING_HINT})"
    )


def test_an_unknown_kind_of_database_is_refused_naming_the_kinds_a_ledger_takes_without_the_password() -> None:
    result = Cli("postgres://bot:topSECRET@127.0.0.1:1/ledger")("positions", expect=2)

    assert one_line_without(result.stderr, "topSECRET") == (
        "error: database URL 'postgres://bot:***@127.0.0.1:1/ledger': Can't load plugin: "
        "sqlalchemy.dialects:postgres (a ledger is at sqlite:///PATH or "
        "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)"
    )


def test_a_password_given_as_a_query_parameter_is_hidden_when_the_server_cannot_be_reached() -> None:
    url = "postgresql+psycopg://bot@127.0.0.1:1/ledger?password=topSECRET&sslpassword=keySECRET"

    with pytest.raises(StorageError) as raised:
        open_ledger(url)
    result = Cli(url)("verify", expect=2)

    assert str(raised.value).startswith(
        "cannot open the ledger at postgresql+psycopg://bot@127.0.0.1:1/ledger?password=***&sslpassword=***: "
        "the database refused the operation: connection failed:"
    )
    assert "topSECRET" not in str(raised.value)
    assert "keySECRET" not in str(raised.value)
    assert one_line_without(result.stderr, "topSECRET", "keySECRET").startswith(
        "error: cannot open the ledger at postgresql+psycopg://bot@127.0.0.1:1/ledger?password=***&sslpassword=***: "
    )


def test_copy_to_the_same_database_is_refused_without_the_password() -> None:
    url = "postgresql+psycopg://bot:topSECRET@127.0.0.1:1/ledger"

    result = Cli(url)("copy", "--from", url, "--to", url, expect=2)

    assert one_line_without(result.stderr, "topSECRET") == (
        "error: --to: the same database as --from (got 'postgresql+psycopg://bot:***@127.0.0.1:1/ledger')"
    )
