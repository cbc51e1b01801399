"""refimpl edge / host / features as a user runs them (subprocesses), and their one-line errors."""
import json
import subprocess
import sys

import pytest

from refimpl import engine, image, networks, quantize
from refimpl.split import partition


def refimpl(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "refimpl", *map(str, argv)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refimpl: error: "), proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def cifar_top5():
    """Top-5 of the unsplit bit-exact run with the CLI's default (the shipped trained
    weights and their calibration set), computed in-process."""
    from refimpl import trained
    spec = networks.get("alexnet-cifar")
    params, _, calib = trained.resolve(spec, None)
    assert calib is not None
    qnet = partition.quantize_for_split(spec, params, calib)
    out = engine.run(qnet, quantize.pixels_to_int(image.load(None, spec.input_shape), spec))[-1].output.reshape(-1)
    order = sorted(range(out.size), key=lambda c: (-int(out[c]), c))[:5]
    return [(c, int(out[c]) * 2.0 ** -qnet.layers[-1].out_frac) for c in order]


def test_edge_then_host_lossless_gives_the_unsplit_top5(tmp_path, cifar_top5):
    f = tmp_path / "conv2.rfsb"
    p = refimpl("edge", "--network", "alexnet-cifar", "--at", "conv2", "--codec", "lossless", "--out", f)
    assert p.returncode == 0, p.stderr
    size = f.stat().st_size
    assert f"wrote {f}: {size:,} bytes" in p.stdout and f"ratio {128 * 15 * 15 * 2 / size:.2f}x" in p.stdout
    assert "cycles" in p.stdout and "nJ" in p.stdout
    p = refimpl("host", f, "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [(t["class_index"], t["score"]) for t in doc["top"]] == cifar_top5
    assert doc["layer"] == "conv2" and doc["bytes"] == size and "score" in doc["units"]
    p = refimpl("host", f)
    assert p.returncode == 0 and "rank" in p.stdout and str(cifar_top5[0][0]) in p.stdout


def test_edge_jpeg_reports_both_container_sizes(tmp_path):
    f = tmp_path / "c5.rfsb"
    p = refimpl("edge", "--network", "alexnet-cifar", "--at", "conv5", "--codec", "jpeg", "--qf", "30",
                "--mosaic", "aligned", "--mapping", "minmax", "--out", f)
    assert p.returncode == 0, p.stderr
    assert "abbreviated datastream" in p.stdout and "as a full JFIF datastream" in p.stdout
    p = refimpl("host", f, "--mode", "float")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("argv,words", [
    (["edge", "--at", "conv9", "--codec", "raw", "--out", "x.rfsb"], ["unknown partition layer 'conv9'"]),
    (["edge", "--at", "conv5", "--codec", "jpeg", "--qf", "0", "--out", "x.rfsb"], ["qf 0 outside 1..100"]),
    (["edge", "--at", "conv5", "--codec", "jpeg", "--qf", "101", "--out", "x.rfsb"], ["qf 101 outside 1..100"]),
    (["edge", "--at", "conv5", "--codec", "zip", "--out", "x.rfsb"], ["unknown codec 'zip'"]),
    (["edge", "--at", "conv5", "--codec", "raw", "--image", "missing.png", "--out", "x.rfsb"], ["missing.png"]),
    (["host", "missing.rfsb"], ["missing.rfsb: no such bitstream file"]),
    (["features", "--network", "alexnet-cifar", "--qf", "0"], ["qf 0 outside 1..100"]),
    (["features", "--network", "alexnet-cifar", "--images", "missing.png"], ["missing.png"]),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, argv, words):
    one_line_error(refimpl(*argv, cwd=tmp_path), *words)
    assert not (tmp_path / "x.rfsb").exists()


def test_host_rejects_other_network_other_weights_and_damage(tmp_path):
    f = tmp_path / "a.rfsb"
    assert refimpl("edge", "--network", "alexnet-cifar", "--at", "pool5", "--codec", "raw", "--out", f).returncode == 0
    one_line_error(refimpl("host", f, "--network", "alexnet"), "from network 'alexnet-cifar'", "runs 'alexnet'")
    one_line_error(refimpl("host", f, "--weights", "synthetic", "--seed", "1"), str(f))
    data = f.read_bytes()
    (tmp_path / "cut.rfsb").write_bytes(data[:30])
    one_line_error(refimpl("host", tmp_path / "cut.rfsb"), "truncated in field")
    bad = bytearray(data)
    bad[-1] ^= 1
    (tmp_path / "bad.rfsb").write_bytes(bytes(bad))
    one_line_error(refimpl("host", tmp_path / "bad.rfsb"), "payload CRC-32 mismatch")
    (tmp_path / "pic.rfsb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(60))
    one_line_error(refimpl("host", tmp_path / "pic.rfsb"), "not a refimpl feature bitstream")


def test_features_on_alexnet_prints_every_column():
    p = refimpl("features", "--network", "alexnet", "--qf", "30")
    assert p.returncode == 0, p.stderr
    for col in ("output CxHxW", "raw (bytes)", "entropy (bits/value)", "non-zero (ratio)", "lossless (bytes)",
                "lossless ratio (x)", "QF", "JPEG abbreviated (bytes)", "JPEG full JFIF (bytes)", "ratio (x)",
                "max |error| (LSB)", "SQNR (dB)", "top-1 agreement"):
        assert col in p.stdout, col
    layers = [l.split()[0] for l in p.stdout.splitlines() if l.strip()]
    for name in ["input"] + [l.name for l in networks.get("alexnet").layers]:
        assert layers.count(name) == 2, name                    # one row in each table


def test_features_json_and_csv_carry_units(tmp_path):
    from PIL import Image
    pics = tmp_path / "pics"
    pics.mkdir()
    rgb = image.load(None, (3, 64, 64)).transpose(1, 2, 0)
    Image.fromarray(rgb).save(pics / "a.png")
    Image.fromarray(rgb[::-1].copy()).save(pics / "b.png")
    p = refimpl("features", "--network", "alexnet-cifar", "--images", pics, "--qf", "20,80", "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["frames"] == 2 and doc["qf"] == [20, 80] and len(doc["images"]) == 2
    # alexnet-cifar runs on its shipped trained weights by default, and the report says so
    assert "trained" in doc["weights"] and "alexnet-cifar.npz" in doc["weights"], doc["weights"]
    for key in ("raw_bytes", "entropy_bits", "nonzero", "lossless_bytes", "lossless_ratio", "bytes", "full_bytes",
                "ratio", "max_err_lsb", "sqnr_db", "top1_agreement"):
        assert key in doc["units"], key
    conv5 = next(r for r in doc["layers"] if r["layer"] == "conv5")
    assert conv5["raw_bytes"] == 128 * 7 * 7 * 2 and [j["qf"] for j in conv5["jpeg"]] == [20, 80]
    p = refimpl("features", "--network", "alexnet-cifar", "--qf", "50", "--format", "csv")
    rows = p.stdout.splitlines()
    assert rows[0].startswith("layer,shape,values") and len(rows) == 1 + 14


def test_fine_tuned_host_takes_a_stream_of_the_shipped_edge(tmp_path):
    """The paper's set-up: the edge keeps the shipped weights, the host runs the split-fine-tuned
    ones. Without --edge-weights the host refuses the stream (its whole-network CRC differs, and the
    line says what to do); with it, a lossless conv5 stream gives the top-5 of the unsplit fine-tuned
    network (its edge layers are the shipped ones), computed in-process."""
    from refimpl import trained
    ft = trained._data("alexnet-cifar-ft-conv5.npz")
    f = tmp_path / "conv5.rfsb"
    assert refimpl("edge", "--network", "alexnet-cifar", "--at", "conv5", "--codec", "lossless",
                   "--out", f).returncode == 0
    one_line_error(refimpl("host", f, "--weights", ft), "other weights", "--edge-weights")
    p = refimpl("host", f, "--weights", ft, "--edge-weights", "shipped", "--format", "json")
    assert p.returncode == 0, p.stderr
    spec = networks.get("alexnet-cifar")
    params = quantize.load_params(ft, spec)
    qnet = partition.quantize_for_split(spec, params, trained.calibration_set(spec)["pixels"])
    out = engine.run(qnet, quantize.pixels_to_int(image.load(None, spec.input_shape), spec))[-1].output.reshape(-1)
    order = sorted(range(out.size), key=lambda c: (-int(out[c]), c))[:5]
    want = [(c, int(out[c]) * 2.0 ** -qnet.layers[-1].out_frac) for c in order]
    assert [(t["class_index"], t["score"]) for t in json.loads(p.stdout)["top"]] == want
    one_line_error(refimpl("host", f, "--weights", ft, "--edge-weights", "synthetic"),
                   "other weights", "the given edge weights'")
    g = tmp_path / "alexnet.rfsb"
    assert refimpl("edge", "--network", "alexnet", "--at", "pool5", "--codec", "raw", "--out", g).returncode == 0
    one_line_error(refimpl("host", g, "--edge-weights", "shipped"), "network alexnet has no shipped trained weights")
