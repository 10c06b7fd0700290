"""CPython's cycle collector paused while a long piece of work builds many objects that make no cycles.

An append of a large batch, an import and a year's lots keep every event, row or gain they build until
the work is done. Each collection walks all of them again and frees nothing (they form no reference
cycles; reference counting frees them as always), which cost 10-15 % of an import of 100,000 lines
and doubled the lots' fold at 1,000,000 fills (scripts/bench.py). The collector is put back as it
was, also when the work fails.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """The cycle collector off for the block, then as it was before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
