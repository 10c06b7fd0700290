"""Run worker processes that start their real work at the same moment (no sleeps)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HANG_GUARD_S = 300  # a bound on a hung worker, never an assertion on speed


def run_together(script: str, argv: dict[str, list[str]]) -> dict[str, str]:
    """Start `python -c script ARGS` per name; each prints "ready" and waits for "go" on stdin.

    All are released at once; returns each worker's remaining stdout, failing on a non-zero exit.
    """
    return run_in_lockstep(script, argv, ("ready",))


def run_in_lockstep(script: str, argv: dict[str, list[str]], steps: tuple[str, ...]) -> dict[str, str]:
    """Start `python -c script ARGS` per name; at each step each worker prints the step's name and waits for
    "go" on stdin, and all are released at once only when every one has printed it (a barrier per step).

    Returns each worker's remaining stdout, failing on a non-zero exit.
    """
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in argv.items()
    }
    try:
        for step in steps:
            for name, worker in workers.items():
                assert worker.stdout is not None
                line = worker.stdout.readline()
                if line.strip() != step:
                    _, err = worker.communicate(timeout=HANG_GUARD_S)
                    pytest.fail(f"worker {name} did not reach {step!r}: {line!r}\n{err}")
            for worker in workers.values():
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
        outputs = {name: worker.communicate(timeout=HANG_GUARD_S) for name, worker in workers.items()}
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for name, (_, err) in outputs.items():
        assert workers[name].returncode == 0, f"worker {name} failed:\n{err}"
    return {name: out for name, (out, _) in outputs.items()}
