"""A package's public names imported when first read (PEP 562): `tradeledger`, `tradeledger.compat` and
`tradeledger.compat.migration` name everything they export without importing it, so a process loads only
what it reads (the CLI's start-up, issue 19).

A package binds the two functions `lazy_names` returns only at run time (`if not TYPE_CHECKING`) and imports its
names for type checkers, so that mypy keeps refusing a name the package does not export.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping


def lazy_names(
    package: str, where: Mapping[str, str], public: Collection[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`. `where` maps each name to the module that defines it
    (`module:attribute` when it has another name there); a name is imported on first read and kept in the
    package, so the next read is a plain attribute. Any other name is an AttributeError; an ImportError of
    the module is raised as it is."""

    def module_getattr(name: str) -> object:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = found.partition(":")
        value: object = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    def module_dir() -> list[str]:
        return sorted({*vars(sys.modules[package]), *public})

    return module_getattr, module_dir
