"""The copies of sent mails kept as files: with no SMTP server configured, every mail is written
to ``{var_dir}/mail/outbox-{id}.eml``, named by its outbox row (notify.smtp.EmlMailer).

Here they are found by their outbox rows and rewritten in place — atomically, so that a reader
never sees half a file — when a customer's personal data is blanked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path


def mail_dir(var_dir: Path) -> Path:
    return var_dir / "mail"


def copy_path(directory: Path, outbox_id: int) -> Path:
    """The file the mail of outbox row ``outbox_id`` is written to (and overwritten on retry)."""
    return directory / f"outbox-{outbox_id}.eml"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def rewrite_copies(
    directory: Path, outbox_ids: Iterable[int], change: Callable[[bytes], bytes | None]
) -> int:
    """Rewrite the stored copy of each of these rows' mails that ``change`` changes (it returns
    None for no change); rows without a copy are skipped. How many files were rewritten.
    Blocking: run it in a worker thread."""
    rewritten = 0
    for outbox_id in outbox_ids:
        path = copy_path(directory, outbox_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        changed = change(data)
        if changed is not None and changed != data:
            write_atomically(path, changed)
            rewritten += 1
    return rewritten
