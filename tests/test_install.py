"""The installed package works away from the source tree (package data shipped).

Runs only where refimpl is importable without this checkout on the path, as
after `pip install .` (the README's commands and .ci/run).
"""
import os
import subprocess
import sys

import pytest


def run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_package_ships_its_data(tmp_path):
    probe = run(["-c", "import refimpl"], tmp_path)
    if probe.returncode != 0:
        pytest.skip("refimpl is not installed in this interpreter (pip install .): nothing to check")
    for argv in (["golden", "--set", "smoke", "--out", "g"], ["golden", "--out", "d", "--layers", "conv1",
                                                             "--tiles", "none", "--format", "npy"],
                 ["cost", "--network", "resnet50", "--format", "csv"],
                 ["run", "--network", "alexnet-cifar", "--until", "conv1"]):
        proc = run(["-m", "refimpl"] + argv, tmp_path)
        assert proc.returncode == 0, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert (tmp_path / "g" / "manifest.json").is_file()
