"""RTL co-simulation of the 12x12 MAC array: tools/rtl/cosim_array.sh runs
tools/rtl/tb_array.v (array_ctrl.v + array_os.v, Icarus Verilog) on per-pass
golden streams and `refimpl compare`s the psums and outputs it writes.

Runs: the whole conv1 tile 0 of the smoke set (240 passes, the last channel
block 4 of 12 rows full), and group 1's first output tile of AlexNet conv2 in
two input-channel chunks (set array-alexnet-conv2: the RTL carries the psums
between them).  Both must match bit for bit with the cycle counts of the
cycle-level model.  The fault builds must fail, and the words they get wrong
are predicted here from the golden streams alone: a stuck multiplier leaves
its MAC at its start psum, a one-cycle input skew on column 3 multiplies step
k's weight by step k-1's input, a dropped carry makes the second chunk start
from 0.  Skipped when Icarus Verilog is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
COSIM = ROOT / "tools" / "rtl" / "cosim_array.sh"
TIMEOUT = 300


def run_cosim(tmp_path, **extra_env):
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH: install Icarus Verilog (Debian: apt-get install iverilog)")
    env = dict(os.environ, **{k: str(v) for k, v in extra_env.items()})
    env.setdefault("PYTHON", sys.executable)
    env.setdefault("REFIMPL", f"{sys.executable} -m refimpl")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(["bash", str(COSIM)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return proc, proc.stdout + proc.stderr


def compare_lines(out):
    """{dumped path: (status, words differing)} from refimpl compare's report."""
    res = {}
    for status, path, rest in re.findall(r"^(match|MISMATCH)\s+(\S+): (.*)$", out, re.M):
        n = re.match(r"(\d+) of \d+ words differ", rest)
        res[path] = (status, int(n.group(1)) if n else 0)
    return res


def first_mismatch(out, path):
    """(pass, row, col) of the first mismatch compare lists for a pass-grid file."""
    block = out.split(f"MISMATCH {path}:", 1)[1]
    m = re.search(r"pass=(\d+) row=(\d+) col=(\d+): expected", block)
    return tuple(int(v) for v in m.groups())


def hex_words(path, bits):
    words = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            v = int(line, 16)
            words.append(v - (1 << bits) if v >> (bits - 1) else v)
    return np.array(words, dtype=np.int64)


def cycles_checked(out):
    return [(int(a), int(b)) for a, b in re.findall(r"^cosim_array: cycles: chunk \d+: RTL (\d+) = model (\d+)$",
                                                    out, re.M)]


@pytest.fixture(scope="module")
def conv2_set(tmp_path_factory):
    from refimpl import vectors
    out = tmp_path_factory.mktemp("array") / "array-alexnet-conv2"
    vectors.build_set(vectors.load_set("array-alexnet-conv2"), out)
    return out


def tile_passes(folder, index):
    doc = json.loads((Path(folder) / "manifest.json").read_text())
    t = next(t for t in doc["layers"][0]["tiles"] if t["index"] == index)
    ps = t["passes"]
    load = {k: np.load(Path(folder) / f"{v}.npy").astype(np.int64) for k, v in ps["files"].items()}
    return t, ps, load


def kept_dir(out):
    m = re.search(r"^cosim_array: temp dir kept: (\S+)$", out, re.M)
    assert m, out
    return Path(m.group(1))


# ---------------------------------------------------------------- normal builds
def test_smoke_tile_matches_with_the_models_cycle_count(tmp_path):
    proc, out = run_cosim(tmp_path)                      # SET=smoke, generated with --passes all
    assert proc.returncode == 0, out
    stems = ["outputs", "passes/outputs", "passes/psums_end", "psums"]
    assert compare_lines(out) == {f"tiles/conv1/t0000/{s}.hex": ("match", 0) for s in stems}, out
    # 64 channels x 15 x 32 pixels: 6 x 40 passes of K = 75, 25 cycles of fill and drain (hand-derived)
    assert cycles_checked(out) == [(239 * 75 + 75 + 25, 18025)], out
    assert "tb_array: chunk 0: 240 passes x 75 steps, 18025 cycles" in out


def test_alexnet_conv2_chunk_pair_matches(conv2_set, tmp_path):
    proc, out = run_cosim(tmp_path, GOLDEN=conv2_set, TILE="conv2/308")
    assert proc.returncode == 0, out
    want = {f"tiles/conv2/t0308/{s}.hex" for s in ("passes/psums_end", "psums")}
    want |= {f"tiles/conv2/t0309/{s}.hex" for s in ("passes/psums_end", "psums", "passes/outputs", "outputs")}
    assert compare_lines(out) == {p: ("match", 0) for p in want}, out
    assert "group 1, channels 128:140, rows 0:2" in out
    assert cycles_checked(out) == [(3025, 3025), (3025, 3025)], out      # 4 x 600 + 600 + 25 each
    t, ps, _ = tile_passes(conv2_set, 309)
    assert (t["c0"], t["c1"], t["first_chunk"], t["last_chunk"], ps["total"]) == (72, 96, False, True, 5)


# ---------------------------------------------------------------- fault builds
def test_stuck_mac_is_caught(conv2_set, tmp_path):
    proc, out = run_cosim(tmp_path, GOLDEN=conv2_set, TILE="conv2/308", CHUNKS=1, FAULT="stuck", KEEP=1)
    assert proc.returncode == 1, out
    _, ps, g = tile_passes(conv2_set, 308)
    rtl = hex_words(kept_dir(out) / "rtl" / f"{ps['files']['psums_end']}.hex", 40).reshape(g["psums_end"].shape)
    # MAC (2, 5) keeps its start psum; every other MAC is right
    want = g["psums_end"].copy()
    want[:, 2, 5] = g["psums_start"][:, 2, 5]
    assert np.array_equal(rtl, want)
    differ = int((g["psums_end"][:, 2, 5] != g["psums_start"][:, 2, 5]).sum())
    assert compare_lines(out)[f"{ps['files']['psums_end']}.hex"] == ("MISMATCH", differ) and differ == 5
    assert first_mismatch(out, f"{ps['files']['psums_end']}.hex") == (0, 2, 5)


def test_operand_skew_off_by_one_is_caught(conv2_set, tmp_path):
    proc, out = run_cosim(tmp_path, GOLDEN=conv2_set, TILE="conv2/308", CHUNKS=1, FAULT="skew", KEEP=1)
    assert proc.returncode == 1, out
    _, ps, g = tile_passes(conv2_set, 308)
    rtl = hex_words(kept_dir(out) / "rtl" / f"{ps['files']['psums_end']}.hex", 40).reshape(g["psums_end"].shape)
    # column 3 sees step k-1's input with step k's weight; at step 0 the previous pass's last input
    # (passes are back to back: I = K = 600) or, on pass 0, the reset value 0
    x = g["x_stream"][:, :, 3]                                        # (P, K)
    late = np.concatenate([np.concatenate([[0], x[:-1, -1]])[:, None], x[:, :-1]], axis=1)
    want = g["psums_end"].copy()
    want[:, :, 3] = g["psums_start"][:, :, 3] + np.einsum("pkr,pk->pr", g["w_stream"], late)
    assert np.array_equal(rtl, want)
    assert compare_lines(out)[f"{ps['files']['psums_end']}.hex"][0] == "MISMATCH"
    assert first_mismatch(out, f"{ps['files']['psums_end']}.hex") == (0, 0, 3)


def test_dropped_psum_carry_is_caught(conv2_set, tmp_path):
    proc, out = run_cosim(tmp_path, GOLDEN=conv2_set, TILE="conv2/308", FAULT="carry", KEEP=1)
    assert proc.returncode == 1, out
    got = compare_lines(out)
    _, ps0, _ = tile_passes(conv2_set, 308)
    _, ps1, g = tile_passes(conv2_set, 309)
    assert got[f"{ps0['files']['psums_end']}.hex"] == ("match", 0)          # chunk 0 is right
    rtl = hex_words(kept_dir(out) / "rtl" / f"{ps1['files']['psums_end']}.hex", 40).reshape(g["psums_end"].shape)
    assert np.array_equal(rtl, g["psums_end"] - g["psums_start"])          # chunk 1 started from 0
    differ = int((g["psums_start"] != 0).sum())
    assert got[f"{ps1['files']['psums_end']}.hex"] == ("MISMATCH", differ) and differ == 12 * 54
    assert first_mismatch(out, f"{ps1['files']['psums_end']}.hex") == (0, 0, 0)


def test_bad_setup_is_one_line(conv2_set, tmp_path):
    for env, message in [(dict(FAULT="maybe"), "FAULT=maybe: use stuck, skew or carry"),
                         (dict(TILE="conv2/309"), "not a first input-channel chunk"),
                         (dict(SIM="xcelium"), "SIM=xcelium: use icarus or verilator")]:
        proc, out = run_cosim(tmp_path, GOLDEN=conv2_set, **env)
        assert proc.returncode == 2, out
        err = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("cosim_array: ") and message in err[0], out
