"""The house's shape (ARCHITECTURE.md): no module of the package over 500 lines, so that each stays one subject."""

from __future__ import annotations

from pathlib import Path

import tradeledger

MAX_LINES = 500
PACKAGE = Path(tradeledger.__file__).parent


def test_no_module_of_the_package_is_over_500_lines() -> None:
    sizes = {
        path.relative_to(PACKAGE): len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.rglob("*.py")
    }

    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
    assert len(sizes) > 50  # the package itself, not an empty folder
