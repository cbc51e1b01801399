"""CLI: the default run, the dump layout, and one-line errors for bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from refimpl import quantize
from refimpl.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_python_m_default_run():
    proc = subprocess.run([sys.executable, "-m", "refimpl", "run", "--network", "alexnet-cifar"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("alexnet-cifar:")
    assert any(line.startswith("fc8 ") for line in lines)
    total = [line for line in lines if line.startswith("total")][0]
    assert "53,064,192" in total            # 5 conv + 3 fc MACs of alexnet-cifar, see test_spec


@pytest.fixture(scope="module")
def dump_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("dump") / "alexnet"
    assert main(["run", "--until", "pool2", "--dump", str(d)]) == 0
    return d


def test_dump_layout(dump_dir):
    doc = json.loads((dump_dir / "layers.json").read_text())
    assert doc["network"] == "alexnet"
    assert [l["name"] for l in doc["layers"]] == ["conv1", "norm1", "pool1", "conv2", "norm2", "pool2"]
    keys = {"name", "type", "stride", "pad", "groups", "in_frac", "w_frac", "b_frac", "out_frac",
            "acc_bits", "overflow", "rounding", "relu", "files"}
    expected_files = set()
    for rec in doc["layers"]:
        assert keys <= set(rec)
        for kind, fname in rec["files"].items():
            if fname is not None:
                assert fname == f"{rec['name']}_{kind}.npy"
                expected_files.add(fname)
    assert {p.name for p in dump_dir.iterdir()} == expected_files | {"layers.json"}
    conv2 = next(l for l in doc["layers"] if l["name"] == "conv2")
    assert (conv2["stride"], conv2["pad"], conv2["groups"], conv2["relu"]) == (1, 2, 2, True)
    assert np.load(dump_dir / "conv1_input.npy").shape == (3, 227, 227)
    assert np.load(dump_dir / "conv1_weights.npy").shape == (96, 3, 11, 11)
    assert np.load(dump_dir / "conv2_weights.npy").shape == (256, 48, 5, 5)
    assert np.load(dump_dir / "conv2_bias.npy").shape == (256,)
    assert np.load(dump_dir / "conv2_output.npy").shape == (256, 27, 27)
    assert np.load(dump_dir / "pool2_output.npy").shape == (256, 13, 13)
    for f in expected_files:
        assert np.load(dump_dir / f).dtype == np.int16
    # chaining: each layer's input is the previous layer's output
    assert np.array_equal(np.load(dump_dir / "norm1_input.npy"), np.load(dump_dir / "conv1_output.npy"))
    assert np.array_equal(np.load(dump_dir / "conv2_input.npy"), np.load(dump_dir / "pool1_output.npy"))


def test_dump_values_from_files_alone(dump_dir):
    """Recompute 300 conv2 outputs from the dumped files and contract with plain integer loops."""
    rec = next(l for l in json.loads((dump_dir / "layers.json").read_text())["layers"] if l["name"] == "conv2")
    x = np.load(dump_dir / "conv2_input.npy").astype(np.int64)
    w = np.load(dump_dir / "conv2_weights.npy").astype(np.int64)
    b = np.load(dump_dir / "conv2_bias.npy").astype(np.int64)
    y = np.load(dump_dir / "conv2_output.npy")
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    acc_frac = rec["in_frac"] + rec["w_frac"]
    rng = np.random.default_rng(0)
    for _ in range(300):
        c, oy, ox = rng.integers(0, 256), rng.integers(0, 27), rng.integers(0, 27)
        g = c // 128
        acc = (b[c] << (acc_frac - rec["b_frac"])) + int(np.sum(xp[g * 48:(g + 1) * 48, oy:oy + 5, ox:ox + 5] * w[c]))
        v = (acc + (1 << (acc_frac - rec["out_frac"] - 1))) >> (acc_frac - rec["out_frac"])   # half_up
        assert y[c, oy, ox] == max(0, min(32767, max(-32768, v)))


def test_dump_replaces_only_its_own_folder(tmp_path, capsys):
    d = tmp_path / "out"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    argv = ("run", "--network", "alexnet-cifar", "--until", "conv1", "--dump", str(d))
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "is not a refimpl output" in err and (d / "notes.txt").read_text() == "mine"
    code, _, _ = run_cli(capsys, *argv, "--force")
    assert code == 0
    want = ["conv1_bias.npy", "conv1_input.npy", "conv1_output.npy", "conv1_weights.npy", "layers.json"]
    assert sorted(p.name for p in d.iterdir()) == want
    code, _, _ = run_cli(capsys, *argv)                             # a previous dump: replaced without --force
    assert code == 0 and sorted(p.name for p in d.iterdir()) == want
    assert [p.name for p in tmp_path.iterdir()] == ["out"]           # no temporary folders left


def write_weights(path, spec_name, mutate=None):
    from refimpl import networks
    p = quantize.synthetic_params(networks.get(spec_name), 0)
    if mutate:
        mutate(p)
    np.savez(path, **p)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["run", "--network", "lenet"], "unknown network 'lenet'"),
    (["run", "--until", "conv9"], "unknown layer 'conv9'"),
    (["run", "--network", "resnet50"], "geometry-only"),
    (["run", "--image", "/nonexistent/cat.png"], "/nonexistent/cat.png: no such image file"),
    (["run", "--weights", "/nonexistent/w.npz"], "/nonexistent/w.npz: no such weight file"),
    (["run", "--rounding", "nearest"], "unknown rounding mode 'nearest'"),
    (["run", "--overflow", "clip"], "unknown overflow policy 'clip'"),
    (["run", "--acc-bits", "16"], "acc_bits 16 out of range"),
    (["run", "--bias-bits", "8"], "bias_bits 8 must be 16 or 32"),
    (["run", "--seed", "x"], "invalid int value: 'x'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_one_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("refimpl: error: ") and message in err
    assert "Traceback" not in err


def test_bad_files_one_line(tmp_path, capsys):
    (tmp_path / "img.png").write_text("not a picture")
    code, _, err = run_cli(capsys, "run", "--network", "alexnet-cifar", "--image", str(tmp_path / "img.png"))
    assert code == 2 and "img.png: unreadable image" in err and err.count("\n") == 1
    bad = write_weights(tmp_path / "w1.npz", "alexnet-cifar", lambda p: p.pop("fc7.weight"))
    code, _, err = run_cli(capsys, "run", "--network", "alexnet-cifar", "--weights", bad)
    assert code == 2 and "w1.npz: missing key 'fc7.weight'" in err and err.count("\n") == 1
    bad = write_weights(tmp_path / "w2.npz", "alexnet-cifar",
                        lambda p: p.__setitem__("conv2.weight", np.zeros((128, 64, 5, 5))))
    code, _, err = run_cli(capsys, "run", "--network", "alexnet-cifar", "--weights", bad)
    assert code == 2 and "'conv2.weight' has shape (128, 64, 5, 5), expected (128, 32, 5, 5)" in err
    (tmp_path / "w3.npz").write_bytes(b"PK\x03\x04garbage")
    code, _, err = run_cli(capsys, "run", "--network", "alexnet-cifar", "--weights", str(tmp_path / "w3.npz"))
    assert code == 2 and "w3.npz: not a readable .npz weight file" in err and err.count("\n") == 1


def test_weights_file_run(tmp_path, capsys):
    good = write_weights(tmp_path / "w.npz", "alexnet-cifar")
    code, out, _ = run_cli(capsys, "run", "--network", "alexnet-cifar", "--weights", good, "--until", "conv1")
    assert code == 0 and "weights " + good in out



def test_tiled_mode_dumps_the_same_bytes(tmp_path, capsys):
    fast, slow = tmp_path / "fast", tmp_path / "tiled"
    assert main(["run", "--network", "alexnet-cifar", "--until", "pool2", "--dump", str(fast)]) == 0
    assert main(["run", "--network", "alexnet-cifar", "--until", "pool2", "--mode", "tiled", "--dump", str(slow)]) == 0
    out = capsys.readouterr().out
    assert "tiled on profile paper-28nm" in out
    header = [l for l in out.splitlines() if l.startswith("layer ")][-1]
    assert header.split()[-2:] == ["tiles", "cycles"]
    names = sorted(p.name for p in fast.iterdir())
    assert names == sorted(p.name for p in slow.iterdir())
    for name in names:
        assert (fast / name).read_bytes() == (slow / name).read_bytes(), name
    assert main(["run", "--mode", "systolic"]) == 2
    assert "unknown mode 'systolic'" in capsys.readouterr().err
