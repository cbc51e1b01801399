"""Atomic outputs that never destroy what refimpl did not write.

A folder or file appears complete or not at all: it is built in a temporary
``.NAME.tmp-<pid>@<host>-<random>`` beside the target and renamed into place.
An existing target folder is replaced only when it is empty or a previous
refimpl output whose index (``manifest.json`` of a golden set, ``layers.json``
of a dump) lists every file in it; anything else is refused with one line
unless ``force`` is given.  The current folder, any folder holding it, the
home folder, ``/`` and any folder holding the refimpl package itself are
never replaced, ``force`` or not.  Temporaries of a run that died (SIGKILL,
power loss) are removed by the next run into the same place: ours by name,
stale when their process is gone (same host) or, for the unnamed ones of older
versions, untouched for STALE_LEGACY_S seconds.  Outputs follow the umask.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from .errors import RefimplError

STALE_LEGACY_S = 600            # a pid-less temporary (refimpl <= 0.x) untouched this long is dead
_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
_PACKAGE = Path(__file__).resolve().parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(name: str, kind: str) -> str:
    return f".{name}.{kind}-{os.getpid()}@{_HOST}-"


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?:(?P<pid>\d+)@(?P<host>[^-]+)-)?[A-Za-z0-9_]+$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path) -> list:
    """Remove temporaries of dead refimpl runs that targeted ``path``; returns what was removed."""
    path = Path(os.path.abspath(path))
    removed = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    for p in siblings:
        m = _TEMP.match(p.name)
        if not m or m.group("name") != path.name:
            continue
        if m.group("pid") is not None:
            stale = m.group("host") == _HOST and not _pid_alive(int(m.group("pid")))
        else:
            try:
                stale = time.time() - p.lstat().st_mtime > STALE_LEGACY_S
            except OSError:
                continue
        if stale:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            removed.append(p)
    return removed


def file_sha256(path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise RefimplError(f"{path}: unreadable ({exc.strerror})") from None
    return h.hexdigest()


def _protected(path: Path) -> str | None:
    """Why ``path`` (absolute) may never be replaced, or None."""
    cwd = Path(os.getcwd())
    if path == cwd:
        return "is the current folder"
    if path in cwd.parents:
        return "holds the current folder"
    if path == _PACKAGE or path in _PACKAGE.parents:
        return "holds the refimpl package itself"
    if path == Path(path.anchor):
        return "is the root folder"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):          # no HOME and no passwd entry
        home = None
    if path == home:
        return "is the home folder"
    return None


def check_output_dir(path, owned_files=None, force: bool = False) -> Path:
    """Refuse (RefimplError) unless ``path`` may be created or replaced by refimpl output.

    ``owned_files(folder)`` returns the relative paths a previous refimpl output
    in ``folder`` wrote (its index file included), or None when ``folder`` is
    not one.  Returns the absolute path.
    """
    given = path
    path = Path(os.path.abspath(path))
    why = _protected(path)
    if why:
        raise RefimplError(f"{given}: {why}; refimpl replaces its output folder whole, choose a new folder")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise RefimplError(f"{given}: exists and is not a folder")
        try:
            present = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if not p.is_dir())
        except OSError as exc:
            raise RefimplError(f"{given}: cannot read the existing folder ({exc.strerror})") from None
        if present and not force:
            owned = owned_files(path) if owned_files is not None else None
            if owned is None:
                raise RefimplError(f"{given}: exists and is not a refimpl output ({len(present)} files, e.g. "
                                   f"{present[0]}); not replacing it (choose a new folder, or --force)")
            foreign = [p for p in present if p not in owned]
            if foreign:
                raise RefimplError(f"{given}: holds {len(foreign)} file(s) refimpl did not write (e.g. "
                                   f"{foreign[0]}); not replacing it (move them away, or --force)")
    for up in path.parents:
        if up.exists():
            if not up.is_dir():
                raise RefimplError(f"{given}: cannot create output folder ({up} is a file, not a folder)")
            break
    return path


@contextlib.contextmanager
def atomic_dir(path, owned_files=None, force: bool = False):
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    ``path`` is checked with ``check_output_dir`` first and again just before
    the replacement.  On any exception the temporary folder is removed and
    ``path`` is untouched.
    """
    given = path
    path = check_output_dir(path, owned_files, force)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(path.name, "tmp"), dir=parent))
    except OSError as exc:
        raise RefimplError(f"{given}: cannot create output folder ({exc.strerror})") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())            # mkdtemp makes it 0700; mkdir inside follows the umask
        check_output_dir(given, owned_files, force)
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=_prefix(path.name, "old"), dir=parent))
            os.replace(path, old / "x")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:                  # e.g. a full disk: name the output, not the temporary
        shutil.rmtree(tmp, ignore_errors=True)
        name = Path(exc.filename) if isinstance(exc.filename, str) else None
        inner = f" {name.relative_to(tmp).as_posix()}" if name and tmp in name.parents else ""
        raise RefimplError(f"{given}: cannot write{inner} ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write(path, data: bytes):
    """Write bytes to ``path`` through a temporary file and a rename.

    The file gets the usual permissions (0o666 less the umask), not the 0o600
    of the temporary file.  Stale temporaries of the same target are removed.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise RefimplError(f"{path}: cannot write (exists and is not a regular file)")
    tmp = None
    try:
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(path.name, "tmp"), dir=path.resolve().parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise RefimplError(f"{path}: cannot write ({exc.strerror or exc})") from None
