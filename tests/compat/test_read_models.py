"""The legacy read-model files a rollback rewinds (compat.read_models); where the wallet's names live."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from ruamel.yaml import YAML

import tradeledger.compat
from tradeledger import Ledger
from tradeledger.compat import paper_wallet
from tradeledger.compat.paper_wallet import PaperWallet
from tradeledger.compat.read_models import read_models_in, rewind_read_models

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_the_paper_wallet_names_stay_importable_where_they_were() -> None:
    assert tradeledger.compat.PaperWallet is paper_wallet.PaperWallet
    assert paper_wallet.PAPER_EXCHANGE == "paper"
    assert Decimal("0.95") == paper_wallet.OPEN_MARGIN
    assert paper_wallet.STATE_HEADER.startswith("# Written by tradeledger from the ledger")


def test_a_folder_without_read_model_files_has_none_to_rewind(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("x: 1\n", encoding="utf-8")

    assert read_models_in(tmp_path) == []


def test_rewinding_rewrites_the_wallet_file_that_is_there_and_creates_no_other(ledger: Ledger, tmp_path: Path) -> None:
    PaperWallet(ledger, 10000, auto_save=False, clock=lambda: T0).buy("BTC/USD", "0.5", "100")
    wallet_file = tmp_path / "paper_wallet_state.yaml"
    wallet_file.write_text("balance: 1.0\n", encoding="utf-8")  # stale: before the fill

    written = rewind_read_models(ledger, tmp_path, None)

    assert written == [str(wallet_file)]
    assert read_models_in(tmp_path) == [wallet_file]
    state = YAML(typ="safe", pure=True).load(wallet_file.read_text(encoding="utf-8"))
    assert state["balance"] == 9950.0  # the default B0 10000 - 0.5 x 100
    assert state["total_trades"] == 1
    assert sorted(state["positions"]) == ["BTC/USD"]
    assert not (tmp_path / "trade_manager_state.json").exists()
