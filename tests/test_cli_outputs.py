"""Issue 8 section 1: output folders never destroy what refimpl did not write.

Every case runs the CLI as a subprocess and checks the exit code, the message
and what is on disk afterwards.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import refimpl
from clihelp import cli, one_error_line
from refimpl.fileio import _HOST

SMOKE = ("golden", "--set", "smoke", "--format", "npy", "--tiles", "none")
DUMP = ("run", "--network", "alexnet-cifar", "--until", "conv1")


def listing(folder: Path) -> list:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("argv, flag, index", [(SMOKE, "--out", "manifest.json"), (DUMP, "--dump", "layers.json")])
def test_foreign_folder_is_refused_unless_force(tmp_path, argv, flag, index):
    d = tmp_path / "vectors"
    (d / "rtl").mkdir(parents=True)
    (d / "notes.txt").write_text("my notes")
    (d / "rtl" / "dump.hex").write_text("0000\n")
    before = listing(tmp_path)
    code, out, err = cli(*argv, flag, d)
    assert one_error_line(code, err, f"{d}: exists and is not a refimpl output (2 files, e.g. notes.txt); "
                                     "not replacing it (choose a new folder, or --force)")
    assert listing(tmp_path) == before and (d / "notes.txt").read_text() == "my notes"
    code, _, err = cli(*argv, flag, d, "--force")
    assert code == 0, err
    assert not (d / "notes.txt").exists() and (d / index).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["vectors"]        # no temporaries left


@pytest.mark.parametrize("argv, flag", [(SMOKE, "--out"), (DUMP, "--dump")])
def test_previous_output_is_replaced_but_not_with_foreign_files_in_it(tmp_path, argv, flag):
    d = tmp_path / "o"
    assert cli(*argv, flag, d)[0] == 0
    first = listing(d)
    assert cli(*argv, flag, d)[0] == 0                                  # our own output: replaced
    assert listing(d) == first and [p.name for p in tmp_path.iterdir()] == ["o"]
    (d / "sim.log").write_text("RTL log")
    code, _, err = cli(*argv, flag, d)
    assert one_error_line(code, err, f"{d}: holds 1 file(s) refimpl did not write (e.g. sim.log); "
                                     "not replacing it (move them away, or --force)")
    assert (d / "sim.log").read_text() == "RTL log"


def test_empty_folder_is_used(tmp_path):
    (tmp_path / "o").mkdir()
    code, _, err = cli(*SMOKE, "--out", tmp_path / "o")
    assert code == 0, err and (tmp_path / "o" / "manifest.json").is_file()


@pytest.mark.parametrize("out, message", [
    (".", ".: is the current folder; refimpl replaces its output folder whole, choose a new folder"),
    ("..", "..: holds the current folder"),
    ("sub/..", "sub/..: is the current folder"),
])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_current_folder_and_its_parents_are_never_replaced(tmp_path, out, message, force):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "mine.txt").write_text("x")
    before = listing(tmp_path)
    code, _, err = cli(*SMOKE, "--out", out, *force, cwd=work)
    assert one_error_line(code, err, message)
    assert listing(tmp_path) == before                                 # no ..old-* or .tmp-* folder


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_folder_holding_the_package_is_never_replaced(tmp_path, force):
    # The CLI runs a copy of the package (PYTHONPATH), so "the package" is the one
    # the subprocess imports whether refimpl is installed editable or not, and a
    # broken guard could only destroy the copy, never the checkout or the venv.
    top = tmp_path / "pkg"
    shutil.copytree(Path(refimpl.__file__).resolve().parent, top / "refimpl",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not (top / "refimpl" / "sets").is_dir():             # editable install: the sets are vectors/ of the checkout
        shutil.copytree(Path(__file__).resolve().parents[1] / "vectors", top / "refimpl" / "sets",
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(top))
    work = tmp_path / "work"
    work.mkdir()
    probe = subprocess.run([sys.executable, "-c", "import refimpl; print(refimpl.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert Path(probe.stdout.strip()).resolve() == (top / "refimpl" / "__init__.py").resolve()
    before = sorted(p.name for p in top.iterdir())
    inside = sorted(p.name for p in (top / "refimpl").iterdir())
    code, _, err = cli(*SMOKE, "--out", top, *force, cwd=work, env=env)
    assert one_error_line(code, err, f"{top}: holds the refimpl package itself")
    assert sorted(p.name for p in top.iterdir()) == before
    code, _, err = cli(*DUMP, "--dump", top / "refimpl", *force, cwd=work, env=env)
    assert one_error_line(code, err, "refimpl: holds the refimpl package itself")
    assert sorted(p.name for p in (top / "refimpl").iterdir()) == inside


@pytest.mark.parametrize("argv, flag", [(SMOKE, "--out"), (DUMP, "--dump")])
def test_a_file_is_never_replaced(tmp_path, argv, flag):
    (tmp_path / "f.bin").write_bytes(b"keep")
    code, _, err = cli(*argv, flag, tmp_path / "f.bin", "--force")
    assert one_error_line(code, err, "f.bin: exists and is not a folder")
    assert (tmp_path / "f.bin").read_bytes() == b"keep" and listing(tmp_path) == ["f.bin"]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_removed_by_the_next_run(tmp_path):
    """Temporaries of dead runs into the same place go; a live run's, other names and user files stay."""
    parent = tmp_path / "out"
    dead = parent / f".smoke.tmp-{dead_pid()}@{_HOST}-k2j3h4g5"
    live = parent / f".smoke.tmp-{os.getpid()}@{_HOST}-a1b2c3d4"            # this test process is alive
    legacy_old = parent / ".smoke.tmp-zq9x8w7v"                             # pid-less name of older versions
    legacy_new = parent / ".smoke.tmp-abcdefgh"
    other_target = parent / f".default.tmp-{dead_pid()}@{_HOST}-mmmmmmmm"
    old_dir = parent / f".smoke.old-{dead_pid()}@{_HOST}-nnnnnnnn"
    other_host = parent / f".smoke.tmp-{dead_pid()}@otherhost-pppppppp"
    user = parent / ".smoke.tmp-notes.txt.bak"
    for d in (dead, live, legacy_old, legacy_new, other_target, old_dir, other_host):
        (d / "layers").mkdir(parents=True)
        (d / "layers" / "big.npy").write_bytes(bytes(1 << 20))
    user.write_text("not ours: does not match the pattern")
    an_hour_ago = time.time() - 3600
    os.utime(legacy_old, (an_hour_ago, an_hour_ago))
    code, _, err = cli(*SMOKE, "--out", parent / "smoke")
    assert code == 0, err
    left = sorted(p.name for p in parent.iterdir())
    assert left == sorted(["smoke", live.name, legacy_new.name, other_target.name, other_host.name, user.name])


def test_killed_run_leaves_no_complete_looking_folder_and_is_cleaned(tmp_path):
    """SIGKILL a golden build while it writes: the target never appears half-written, the next run cleans up."""
    proc = subprocess.Popen([sys.executable, "-m", "refimpl", "golden", "--out", str(tmp_path / "g")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if any(p.name.startswith(".g.tmp-") for p in tmp_path.iterdir()):
            proc.kill()
            break
        time.sleep(0.005)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the build finished before it could be killed (machine too fast for this check)")
    assert not (tmp_path / "g").exists()
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".g.tmp-")
    code, _, err = cli(*SMOKE, "--out", tmp_path / "g")
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["g"]


@pytest.mark.parametrize("umask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
@pytest.mark.parametrize("argv, flag", [(SMOKE, "--out"), (DUMP, "--dump")])
def test_outputs_follow_the_umask(tmp_path, umask, dir_mode, file_mode, argv, flag):
    d = tmp_path / "o"
    code, _, err = cli(*argv, flag, d, umask=umask)
    assert code == 0, err
    for p in [d, *d.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (dir_mode if p.is_dir() else file_mode), (p, oct(mode))


def test_network_override_names_the_default_folder(tmp_path):
    code, _, err = cli("golden", "--set", "smoke", "--network", "alexnet", "--format", "npy", cwd=tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["smoke-alexnet"]
    doc = json.loads((tmp_path / "out" / "smoke-alexnet" / "manifest.json").read_text())
    assert doc["network"] == "alexnet" and [l["name"] for l in doc["layers"]] == ["conv1"]   # the set's layers kept
    assert cli("golden", "--set", "smoke", "--format", "npy", cwd=tmp_path)[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["smoke", "smoke-alexnet"]


def test_network_override_with_layers_drops_jpeg_traces_with_a_warning(tmp_path):
    code, out, err = cli("golden", "--network", "alexnet-cifar", "--layers", "conv1", "--tiles", "none",
                         "--format", "npy", cwd=tmp_path)
    assert code == 0, err
    assert "out/default-alexnet-cifar" in out
    doc = json.loads((tmp_path / "out" / "default-alexnet-cifar" / "manifest.json").read_text())
    assert [j["name"] for j in doc["jpeg"]] == ["conv5-q75"]             # alexnet-cifar has a conv5: kept
    code, out, err = cli("golden", "--network", "vgg16", "--layers", "conv1_1", "--tiles", "none",
                         "--format", "npy", cwd=tmp_path)
    assert code == 0, err
    assert err == ("refimpl: warning: set default: JPEG trace 'conv5-q75' of feature:conv5 left out "
                   "(network vgg16 has no layer conv5)\n")
    doc = json.loads((tmp_path / "out" / "default-vgg16" / "manifest.json").read_text())
    assert doc["jpeg"] == [] and [l["name"] for l in doc["layers"]] == ["conv1_1"]


def test_verify_reports_temporaries_inside_a_set(tmp_path):
    """A temporary is not part of a set: verify names it as an extra file, it does not skip it."""
    assert cli(*SMOKE, "--out", tmp_path / "g")[0] == 0
    tmp = tmp_path / "g" / "layers" / f".output.npy.tmp-{dead_pid()}@{_HOST}-abcdefgh"
    tmp.write_bytes(b"half")
    code, out, _ = cli("verify", tmp_path / "g")
    assert code == 1 and f"FAIL layers/{tmp.name}: extra file, not in the manifest" in out


def test_atomic_write_removes_stale_file_temporaries_and_follows_the_umask(tmp_path):
    from refimpl.fileio import atomic_write
    stale = tmp_path / f".out.jpg.tmp-{dead_pid()}@{_HOST}-qwertyui"
    stale.write_bytes(b"half a jpeg")
    live = tmp_path / f".out.jpg.tmp-{os.getpid()}@{_HOST}-asdfghjk"
    live.write_bytes(b"being written")
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "out.jpg", b"\xff\xd8\xff\xd9")
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out.jpg"])
    assert stat.S_IMODE((tmp_path / "out.jpg").stat().st_mode) == 0o640


def test_contract_override_names_the_default_folder(tmp_path):
    code, out, err = cli("golden", "--set", "smoke", "--acc-bits", "32", "--overflow", "wrap", "--rounding",
                         "half_even", "--format", "npy", "--tiles", "none", cwd=tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["smoke-acc32-wrap-half-even"]
    doc = json.loads((tmp_path / "out" / "smoke-acc32-wrap-half-even" / "manifest.json").read_text())
    assert doc["contract"]["acc_bits"] == 32 and doc["contract"]["overflow"] == "wrap"
    assert doc["contract"]["rounding"] == "half_even"
    # an override equal to the set's own value changes nothing: the set's own folder
    code, out, err = cli("golden", "--set", "smoke", "--acc-bits", "40", "--format", "npy", "--tiles", "none",
                         cwd=tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["smoke", "smoke-acc32-wrap-half-even"]
