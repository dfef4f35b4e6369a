"""Writing output files safely: never half-written, never replacing a file unasked."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def refuse_existing(*paths, overwrite: bool = False) -> None:
    """Raise FileExistsError if any of ``paths`` exists and not ``overwrite``.

    Commands that write several files call this before any work, so a refusal
    never leaves some outputs written and others not.
    """
    for path in paths:
        if Path(path).exists() and not overwrite:
            raise FileExistsError(f"{path} already exists; choose another name or pass "
                                  f"--overwrite")


@contextmanager
def atomic_output(path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it becomes ``path``.

    Raises FileExistsError up front if ``path`` exists and not ``overwrite``.
    If the body raises, the temporary file is removed and ``path`` is left as
    it was. The file gets the usual permissions (0666 minus the umask).
    """
    path = Path(path)
    refuse_existing(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
