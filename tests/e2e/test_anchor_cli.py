"""`tradeledger keygen`, `checkpoint` and `verify --anchor` as an operator and an auditor use them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

RECORD = ("record", "--symbol", "BTC/USD", "--side", "buy", "--quantity", "1", "--price", "100")


@pytest.fixture
def three(cli: Cli) -> Cli:
    for n in (1, 2, 3):
        cli(*RECORD, "--fill-id", f"f{n}", "--exchange", "k", "--time", f"2025-01-0{n}T00:00:00Z")
    return cli


def test_keygen_writes_a_private_key_readable_by_its_owner_only_and_prints_the_public_key(
    cli: Cli, tmp_path: Path
) -> None:
    made = cli.json("keygen", "--output", str(tmp_path / "key"))

    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    assert (tmp_path / "key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert len(made["public_key"]) == 64
    assert made["key_file"] == str(tmp_path / "key")
    printed = cli("keygen", "--output", str(tmp_path / "key2")).stdout
    assert printed.splitlines()[0].startswith("public key: ")


def test_keygen_never_replaces_a_key_file(cli: Cli, tmp_path: Path) -> None:
    key = tmp_path / "key"
    cli("keygen", "--output", str(key))
    before = key.read_bytes()

    refused = cli("keygen", "--output", str(key), expect=2)

    assert refused.stderr.startswith(f"error: --output: {key}: exists; a key file is never replaced")
    assert key.read_bytes() == before


def test_checkpoint_prints_a_signed_anchor_of_the_head(three: Cli, tmp_path: Path) -> None:
    public = three.json("keygen", "--output", str(tmp_path / "key"))["public_key"]
    head = three.json("verify")["head"]

    anchor = json.loads(three("checkpoint", "--key", str(tmp_path / "key")).stdout)

    assert set(anchor) == {"epoch", "seq", "head", "at", "public_key", "signature"}
    assert (anchor["epoch"], anchor["seq"], anchor["head"]) == (head["epoch"], 3, head["hash"])
    assert anchor["public_key"] == public
    assert len(anchor["signature"]) == 128


def test_checkpoint_of_an_empty_ledger_is_refused(cli: Cli, tmp_path: Path) -> None:
    cli("keygen", "--output", str(tmp_path / "key"))

    refused = cli("checkpoint", "--key", str(tmp_path / "key"), expect=2)

    assert refused.stderr == "error: the ledger is empty: there is no event to anchor yet\n"


def test_verify_with_a_changed_anchor_exits_1_naming_the_anchor_and_seq(three: Cli, tmp_path: Path) -> None:
    three("keygen", "--output", str(tmp_path / "key"))
    three("checkpoint", "--key", str(tmp_path / "key"), "--output", str(tmp_path / "a.json"))
    other = Cli(f"sqlite:///{tmp_path / 'other.db'}")
    for n, quantity in ((1, "1"), (2, "9"), (3, "1")):
        fill = ("--fill-id", f"f{n}", "--exchange", "k", "--time", f"2025-01-0{n}T00:00:00Z")
        other(*RECORD[:-4], "--quantity", quantity, "--price", "100", *fill)

    failed = other("verify", "--anchor", str(tmp_path / "a.json"), expect=1)

    assert f"seq 3: anchor: {tmp_path / 'a.json'}: seq 3 has the hash" in failed.stderr
    assert three("verify", "--anchor", str(tmp_path / "a.json")).stdout.count("holds") == 1


def test_verify_with_an_anchor_removed_by_an_audited_rollback_exits_0_naming_the_rollback(
    three: Cli, tmp_path: Path
) -> None:
    three("keygen", "--output", str(tmp_path / "key"))
    three("checkpoint", "--key", str(tmp_path / "key"), "--output", str(tmp_path / "a.json"))
    three("rollback", "--to-seq", "1", "--reason", "bad feed", "--actor", "ops", "--state-dir", str(tmp_path))

    checked = three.json("verify", "--anchor", str(tmp_path / "a.json"))

    assert checked["ok"] is True
    [anchor] = checked["anchors"]
    assert (anchor["status"], anchor["seq"], anchor["rollback"]) == ("rolled back", 3, 1)
    assert "rollback #1" in anchor["detail"]
    assert "bad feed" in anchor["detail"]


def test_verify_refuses_an_unreadable_anchor_with_exit_2(three: Cli, tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text('{"epoch": 1}')

    missing = three("verify", "--anchor", str(tmp_path / "nope.json"), expect=2)
    junk = three("verify", "--anchor", str(tmp_path / "junk.json"), expect=2)

    assert missing.stderr.startswith("error: --anchor: ")
    assert junk.stderr == (
        f"error: --anchor {tmp_path / 'junk.json'}: not an anchor: missing fields "
        "['at', 'head', 'seq', 'public_key', 'signature']\n"
    )


def test_verify_with_a_pinned_key_refuses_an_anchor_signed_by_another(three: Cli, tmp_path: Path) -> None:
    trusted = three.json("keygen", "--output", str(tmp_path / "trusted"))["public_key"]
    three("keygen", "--output", str(tmp_path / "other"))
    three("checkpoint", "--key", str(tmp_path / "other"), "--output", str(tmp_path / "a.json"))

    failed = three("verify", "--anchor", str(tmp_path / "a.json"), "--public-key", trusted, expect=1)
    malformed = three("verify", "--anchor", str(tmp_path / "a.json"), "--public-key", "xyz", expect=2)

    assert f"not by the trusted key {trusted}" in failed.stderr
    assert malformed.stderr.startswith("error: --public-key: expected 64 hex digits")
