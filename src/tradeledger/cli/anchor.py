"""The auditor's anchors: `keygen` (a private key kept outside the database) and `checkpoint` (the head,
signed); application/anchoring.py says why, cli/anchor_files.py reads the files back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tradeledger.application.anchoring import load_private_key, new_private_key, public_key_hex
from tradeledger.cli.anchor_files import MAX_KEY_BYTES, read_limited
from tradeledger.cli.common import JsonOption, emit, naming_option, opened, out
from tradeledger.cli.output import dumps
from tradeledger.compat.files import check_output, write_bytes_atomically


def keygen(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Where to write the new private key (mode 0600; never replaced)."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Make a new Ed25519 key for signing anchors; print its public key (give that to your auditors)."""
    pem = new_private_key()
    with naming_option("--output"):
        check_output(output)
        if output.exists():
            raise FileExistsError(17, "exists; a key file is never replaced (choose another name)", str(output))
        # mode 0600 from the start (a temporary file, linked into place: never replaces a file)
        write_bytes_atomically(output, pem, exclusive=True, mode=0o600, create_folder=False)
    public = public_key_hex(load_private_key(pem, str(output)))
    if json_output:
        emit({"public_key": public, "key_file": str(output.resolve())})
        return
    out().print(f"public key: {public}", highlight=False, soft_wrap=True)
    out().print(
        f"private key written to {output} (mode 0600): keep it outside the database; auditors check anchors "
        "with the public key (tradeledger verify --anchor FILE --public-key KEY)",
        highlight=False,
        soft_wrap=True,
    )


def checkpoint(
    ctx: typer.Context,
    key: Annotated[Path, typer.Option("--key", metavar="FILE", help="The private key file keygen wrote.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the anchor here (never replaced) instead of stdout."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Sign the log's head (epoch, seq, hash, time) with your key: an anchor an auditor checks with verify."""
    private = load_private_key(read_limited(key, "--key", MAX_KEY_BYTES), f"--key {key}")
    if output is not None:
        with naming_option("--output"):
            check_output(output)
            if output.exists():
                raise FileExistsError(17, "exists; an anchor file is never replaced", str(output))
    with opened(ctx) as ledger:
        anchor = ledger.anchor(private, at=datetime.now(UTC))
    text = dumps(anchor.as_dict()) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    with naming_option("--output"):
        write_bytes_atomically(output, text.encode("utf-8"), exclusive=True, mode=0o644, create_folder=False)
    if json_output:
        emit({**anchor.as_dict(), "file": str(output.resolve())})
    else:
        out().print(
            f"anchored epoch {anchor.epoch} seq {anchor.seq} hash {anchor.head} at {anchor.at} in {output}",
            highlight=False,
            soft_wrap=True,
        )
