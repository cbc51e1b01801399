"""Run the refimpl CLI as a subprocess: exit code, stdout, stderr."""
import os
import subprocess
import sys


def cli(*argv, cwd=None, umask=None, stdin=None, timeout=300, **kw):
    """(exit code, stdout, stderr) of ``python -m refimpl ARGV``."""
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    proc = subprocess.run([sys.executable, "-m", "refimpl", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec, stdin=stdin, **kw)
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(code: int, err: str, message: str) -> bool:
    """Exit 2 and exactly one line 'refimpl: error: ...' containing ``message``, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("refimpl: error: "), err
    assert message in err, err
    return True
