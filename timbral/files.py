"""Writing output files safely: never half-written, never replacing a file unasked."""

from __future__ import annotations

import errno as _errno
import os
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, Optional

#: Largest total uncompressed size :func:`safe_extract_zip` accepts by default.
MAX_ZIP_BYTES = 2 << 30
MAX_ZIP_MEMBERS = 10000
#: errno values that mean the disk (or the user's quota) is full.
_DISK_FULL = {_errno.ENOSPC, getattr(_errno, "EDQUOT", _errno.ENOSPC)}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputExists(FileExistsError):
    """An output file that exists and may not be replaced; ``path`` names it.

    The command line words it as "pass --overwrite", Python callers read
    "overwrite=True".
    """

    def __init__(self, path):
        super().__init__(f"{path} already exists; choose another name or pass overwrite=True")
        self.path = Path(path)


def _stat(path):
    """``os.stat`` of ``path``, or None where there is nothing to stat."""
    try:
        return os.stat(path)
    except OSError:
        return None


def refuse_existing(*paths, overwrite: bool = False, inputs=()) -> None:
    """Raise :class:`OutputExists` if any of ``paths`` exists and not ``overwrite``,
    and a one-line ValueError if one of them is one of ``inputs`` (the same file by
    any name or link: ``overwrite`` never replaces what a command reads).

    Commands that write several files call this before any work, so a refusal
    never leaves some outputs written and others not.
    """
    # an input exists, so an output that is one exists too, under its inode
    files = {(st.st_dev, st.st_ino) for st in map(_stat, inputs) if st is not None}
    for path in map(Path, paths):
        st = _stat(path)
        if st is not None and (st.st_dev, st.st_ino) in files:
            raise ValueError(f"{path}: is an input; the output may not replace it "
                             f"(choose another output name)")
        if st is not None and not overwrite:
            raise OutputExists(path)


class WriteError(OSError):
    """A file could not be written: one line naming the file and why."""


def write_error(path, exc: BaseException) -> OSError:
    """A one-line :class:`WriteError` saying ``path`` could not be written and why.

    ``exc`` is what the writer raised (an OSError, or a library's own error
    such as libsndfile's or safetensors'); its errno, if any, is kept. An
    error that already says so (or an :class:`OutputExists`) is returned as it is.
    """
    if isinstance(exc, (WriteError, OutputExists)):
        return exc
    errno_ = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0].rstrip(".")
    hint = "free some space and run again" if errno_ in _DISK_FULL \
        else "check the folder, its permissions and the free space"
    error = WriteError(f"{path}: cannot write ({reason}); {hint}")
    error.errno = errno_
    return error


def check_writable(path) -> None:
    """Raise a one-line OSError unless a file can be created at ``path``.

    Missing folders count as creatable if the nearest existing one is a
    writable folder; that folder is tested by creating (and removing) a file
    in it, which also catches read-only and pseudo file systems (``/proc``).
    Commands call this for every output before any work.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a file name")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{path}: cannot write there ({folder} is not a folder)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".timbral-probe-", dir=folder)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def atomic_output(path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it becomes ``path``.

    Raises :class:`OutputExists` up front if ``path`` exists and not
    ``overwrite``. If the body raises, the temporary file is removed and
    ``path`` is left as it was; an OSError (full disk, permissions) comes out
    as one line naming ``path``, never the temporary name. The file gets the
    usual permissions (0666 minus the umask).
    """
    path = Path(path)
    refuse_existing(path, overwrite=overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def new_folder(path) -> Iterator[Path]:
    """Create folder ``path`` (and missing parents) for the body to fill.

    If the body raises a ValueError (the input turned out unusable) before it wrote
    any file there, the folders this made are removed again: a failed command leaves
    no empty folder behind. Files written (work a corrected rerun can reuse) stay, and
    a folder that existed keeps what it had.
    """
    path = Path(path)
    top = None
    if not path.exists():
        top = path
        while not top.parent.exists():
            top = top.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        yield path
    except ValueError:
        if top is not None and not any(p.is_file() for p in top.rglob("*")):
            shutil.rmtree(top, ignore_errors=True)
        raise


def save_tensors(path, tensors: Dict, metadata: Optional[Dict[str, str]] = None,
                 overwrite: bool = False) -> Path:
    """Write ``tensors`` (name -> torch tensor) as safetensors at ``path``, atomically
    (:func:`atomic_output`): a failed write (a full disk, ...) raises a one-line
    OSError naming ``path`` and leaves the old file as it was."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # safetensors' own error for a failed write
            raise write_error(path, exc) from None
    return Path(path)


def open_checked_zip(zip_path) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip file and check every member, extracting nothing.

    Returns ``(archive, members)``; the caller closes ``archive``. Refuses
    (ValueError naming ``zip_path``) an unreadable zip, more than
    :data:`MAX_ZIP_MEMBERS` members, absolute paths, ``..`` components, drive
    letters, symbolic links and other non-regular members. ``members``'
    ``file_size`` are the sizes the zip declares (uncompressed bytes).
    """
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{zip_path}: not a readable zip file ({exc})") from None
    members = archive.infolist()
    try:
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValueError(f"{zip_path}: {len(members)} entries, more than the "
                             f"{MAX_ZIP_MEMBERS} allowed")
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
    except ValueError:
        archive.close()
        raise
    return archive, members


def safe_extract_zip(zip_path, destination, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Extract a zip file after checking every member; returns ``destination``.

    Refuses (ValueError, nothing extracted) what :func:`open_checked_zip`
    refuses and a declared total uncompressed size above ``max_bytes``. Bytes
    are counted again while writing, so a member whose header lies about its
    size cannot overflow the limit.
    """
    archive, members = open_checked_zip(zip_path)
    with archive:
        total = sum(info.file_size for info in members)
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
