"""Atomic outputs: a folder or file appears complete or not at all."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import RefimplError


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    On any exception the temporary folder is removed and ``path`` is untouched.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RefimplError(f"{path}: exists and is not a folder")
    parent = path.resolve().parent
    for up in (parent, *parent.parents):
        if up.exists():
            if not up.is_dir():
                raise RefimplError(f"{path}: cannot create output folder ({up} is a file, not a folder)")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    except OSError as exc:
        raise RefimplError(f"{path}: cannot create output folder ({exc.strerror})") from None
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / "x")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:                  # e.g. a full disk: name the output, not the temporary
        shutil.rmtree(tmp, ignore_errors=True)
        name = Path(exc.filename) if isinstance(exc.filename, str) else None
        inner = f" {name.relative_to(tmp).as_posix()}" if name and tmp in name.parents else ""
        raise RefimplError(f"{path}: cannot write{inner} ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write(path, data: bytes):
    """Write bytes to ``path`` through a temporary file and a rename.

    The file gets the usual permissions (0o666 less the umask), not the 0o600
    of the temporary file.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise RefimplError(f"{path}: cannot write (exists and is not a regular file)")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.resolve().parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise RefimplError(f"{path}: cannot write ({exc.strerror or exc})") from None
