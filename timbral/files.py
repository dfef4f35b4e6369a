"""Writing output files safely: never half-written, never replacing a file unasked."""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator

#: Largest total uncompressed size :func:`safe_extract_zip` accepts by default.
MAX_ZIP_BYTES = 2 << 30
MAX_ZIP_MEMBERS = 10000


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


def safe_extract_zip(zip_path, destination, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Extract a zip file after checking every member; returns ``destination``.

    Refuses (ValueError, nothing extracted) absolute paths, ``..`` components,
    drive letters, symbolic links and other non-regular members, more than
    :data:`MAX_ZIP_MEMBERS` members, and a total uncompressed size above
    ``max_bytes``. Sizes are checked again while writing, so a member whose
    header lies about its size cannot overflow the limit.
    """
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{zip_path}: not a readable zip file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValueError(f"{zip_path}: {len(members)} entries, more than the "
                             f"{MAX_ZIP_MEMBERS} allowed")
        total = 0
        for info in members:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            mode = info.external_attr >> 16
            if name.is_absolute() or ".." in name.parts or ":" in info.filename:
                raise ValueError(f"{zip_path}: refusing entry {info.filename!r} (it points "
                                 f"outside the folder it is extracted to)")
            kind = stat.S_IFMT(mode)  # 0 when the zip writer recorded no file type
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise ValueError(f"{zip_path}: refusing entry {info.filename!r} (a link or "
                                 f"special file)")
            total += info.file_size
        if total > max_bytes:
            raise ValueError(f"{zip_path}: {total / 2**20:.0f} MiB uncompressed, more than the "
                             f"{max_bytes / 2**20:.0f} MiB allowed")
        destination = Path(destination)
        written = 0
        for info in members:
            target = destination.joinpath(*PurePosixPath(info.filename).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ValueError(f"{zip_path}: expands beyond the "
                                         f"{max_bytes / 2**20:.0f} MiB allowed")
                    dst.write(chunk)
    return destination
