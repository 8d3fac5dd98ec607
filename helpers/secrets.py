"""Safe files for keys and certificates: 0600 from the first byte, written atomically.

A reader never sees a half-written key (the text goes to a temporary file in the same folder, which
then replaces the target in one rename), and no other user can read it at any moment (the temporary
file is created 0600 before anything is written into it). Folders holding secrets are 0700.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700; return it."""
    folder = Path(path)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(folder, FOLDER_MODE)
    return folder


def write_private(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` atomically with mode 0600; return the path."""
    return write_atomically(path, content, FILE_MODE)


def write_atomically(path: str | os.PathLike, content: str | bytes, mode: int) -> Path:
    """Write ``content`` to ``path`` with ``mode`` from the first byte on, so that a crash leaves
    either the old file or the new one; return the path."""
    target = Path(path)
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def is_private(path: str | os.PathLike) -> bool:
    """True when nobody but the owner can read or write ``path``."""
    return Path(path).stat().st_mode & 0o077 == 0
