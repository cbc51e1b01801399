"""Issue 8 section 2: every bad input is one line 'refimpl: error: ...' and exit 2, never a traceback.

Each case runs the CLI as a subprocess and checks the exit code and the single line.
"""
import struct
import zlib
from importlib import resources

import pytest

from clihelp import cli, one_error_line

PAPER = (resources.files("refimpl") / "profiles" / "paper-28nm.toml").read_text()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB pixels (the data is a few bytes only)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_negative_seed_on_the_command_line():
    code, out, err = cli("run", "--network", "alexnet-cifar", "--seed", "-1")
    assert one_error_line(code, err, "run: argument --seed: seed -1 must be >= 0") and out == ""


@pytest.mark.parametrize("value, shown", [("-1", "-1"), ("1.5", "1.5"), ('"7"', "'7'")])
def test_bad_seed_in_a_set_file(tmp_path, value, shown):
    (tmp_path / "s.toml").write_text(f'name = "s"\nnetwork = "alexnet-cifar"\nlayers = ["conv1"]\nseed = {value}\n')
    code, _, err = cli("golden", "--set", tmp_path / "s.toml", "--out", tmp_path / "g")
    assert one_error_line(code, err, f"s.toml: key 'seed' must be an integer >= 0, got {shown}")
    assert not (tmp_path / "g").exists()


def test_image_header_over_pillows_bomb_limit(tmp_path):
    """100000 x 100000: Pillow's DecompressionBombError inside open(), reported with our limit."""
    (tmp_path / "huge.png").write_bytes(png_header(100_000, 100_000))
    code, _, err = cli("run", "--network", "alexnet-cifar", "--image", tmp_path / "huge.png")
    assert one_error_line(code, err, "huge.png: image header claims 10,000,000,000 pixels, more than refimpl's "
                                     "limit of 67,108,864 pixels (refimpl.image.MAX_IMAGE_PIXELS)")


def test_image_header_over_our_limit_only(tmp_path):
    """9000 x 9000 = 81 M pixels: under Pillow's limits, over ours (8192 x 8192)."""
    (tmp_path / "big.png").write_bytes(png_header(9000, 9000))
    code, _, err = cli("run", "--network", "alexnet-cifar", "--image", tmp_path / "big.png")
    assert one_error_line(code, err, "big.png: image header claims 9000 x 9000 pixels, more than refimpl's limit")


def test_image_that_is_a_folder(tmp_path):
    code, _, err = cli("run", "--network", "alexnet-cifar", "--image", tmp_path)
    assert one_error_line(code, err, "is a folder, not an image file")


@pytest.mark.parametrize("old, new, message", [
    ("gbps = 12.8", "gbps = 1e-300", "key 'dram.gbps' = 1e-300 is outside the accepted range 1e-06..1e+06 (GB/s)"),
    ("gbps = 12.8", "gbps = nan", "key 'dram.gbps' must be a finite number, got nan"),
    ("gbps = 12.8", "gbps = inf", "key 'dram.gbps' must be a finite number, got inf"),
    ("gbps = 12.8", "gbps = 1e300", "key 'dram.gbps' = 1e+300 is outside the accepted range"),
    ("static_mw = 0.0", "static_mw = nan", "key 'energy.static_mw' must be a finite number, got nan"),
    ("static_mw = 0.0", "static_mw = -inf", "key 'energy.static_mw' must be a finite number, got -inf"),
    ("e_mac_pj = 0.575", "e_mac_pj = nan", "key 'energy.e_mac_pj' must be a finite number, got nan"),
    ("clock_mhz = 200.0", "clock_mhz = inf", "key 'array.clock_mhz' must be a finite number, got inf"),
    ("clock_mhz = 200.0", "clock_mhz = 1e-300", "key 'array.clock_mhz' = 1e-300 is outside the accepted range"),
    ("e_access_pj = 640.0", "e_access_pj = 1e30", "key 'dram.e_access_pj' = 1e+30 is outside the accepted range"),
    ("decoder_pixels_per_cycle = 1.0", "decoder_pixels_per_cycle = 1e-300",
     "key 'jpeg.decoder_pixels_per_cycle' = 1e-300 is outside the accepted range"),
    ("feature_kib = 128", "feature_kib = nan", "key 'buffer.feature_kib' must be a finite number, got nan"),
])
def test_profile_nan_inf_and_absurd_values(tmp_path, old, new, message):
    assert old in PAPER
    (tmp_path / "p.toml").write_text(PAPER.replace(old, new))
    code, out, err = cli("cost", "--profile", tmp_path / "p.toml")
    assert one_error_line(code, err, f"p.toml: {message}") and out == ""


@pytest.mark.parametrize("new, message", [("gbps = nan", "key 'dram.gbps' must be a finite number, got nan"),
                                          ("gbps = 1e-300", "key 'dram.gbps' = 1e-300 is outside")])
def test_profile_errors_in_a_tiled_run(tmp_path, new, message):
    (tmp_path / "p.toml").write_text(PAPER.replace("gbps = 12.8", new))
    code, out, err = cli("run", "--mode", "tiled", "--network", "alexnet-cifar", "--profile", tmp_path / "p.toml")
    assert one_error_line(code, err, f"p.toml: {message}") and out == ""


def test_bare_refimpl_prints_the_usage_once():
    code, out, err = cli()
    assert code == 2 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith("usage: refimpl ") and err.count("usage:") == 1
    assert lines[-1].startswith("refimpl: error: no command given (choose from: run, cost, ")
    assert "refimpl: error: refimpl" not in err


def test_unknown_option_names_the_subcommand_once():
    code, _, err = cli("cost", "--colour", "red")
    assert one_error_line(code, err, "refimpl: error: cost: unrecognized arguments: --colour red")


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "missing: no such folder"),
    (lambda d: d, "manifest.json: missing (not a golden set)"),
    (lambda d: (d / "f").write_text("x") and d / "f", "f: not a folder"),
])
def test_verify_unusable_folder_exits_2(tmp_path, make, message):
    code, out, err = cli("verify", make(tmp_path))
    assert one_error_line(code, err, message) and out == ""


def test_verify_damaged_set_still_exits_1(tmp_path):
    assert cli("golden", "--set", "smoke", "--out", tmp_path / "g")[0] == 0
    (tmp_path / "g" / "layers" / "conv1" / "output.hex").write_text("0000\n")
    code, out, _ = cli("verify", tmp_path / "g")
    assert code == 1 and "FAIL layers/conv1/output.hex:" in out


@pytest.mark.parametrize("argv, message", [
    (["golden", "--layers", ""], "--layers '' names no layer"),
    (["golden", "--layers", " , "], "names no layer"),
    (["golden", "--network", "vgg16"], "set default: unknown layers 'conv1', 'norm1', 'conv2'"),
    (["golden", "--set", "smoke", "--network", "vgg16"], "set smoke: unknown layer 'conv1' in network vgg16"),
    (["run", "--network", "alexnet-cifar", "--profile", "paper-28nm"], "--profile applies to --mode tiled or array only"),
    (["run", "--network", "alexnet-cifar", "--format", "xml"], "run: argument --format: invalid choice: 'xml'"),
    (["cost", "--columns", "speed"], "--columns: unknown column 'speed'"),
    (["cost", "--format", "json", "--columns", "all"], "--columns applies to the table and csv formats"),
    (["cost", "--columns", ",,"], "--columns ',,' names no column"),
    (["list", "boards"], "list: argument what: invalid choice: 'boards'"),
    (["golden", "--set", "nothere.toml"], "nothere.toml: no such set file"),
    (["golden", "--set", "smoke", "--out", "/"], "/: holds the current folder"),
    (["run", "--network", "alexnet-cifar", "--dump", "/dev/null"], "/dev/null: exists and is not a folder"),
])
def test_bad_options(tmp_path, argv, message):
    code, out, err = cli(*argv, cwd=tmp_path)
    assert one_error_line(code, err, message) and out == ""
    assert list(tmp_path.iterdir()) == []                  # nothing written, not even out/
