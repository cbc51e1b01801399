"""Golden hex files load with $readmemh in Icarus Verilog and in Verilator.

A generated module reads two golden files (16-bit bias words, 40-bit psum
words) into memories pre-filled with x and prints every word; each simulator's
print-out must equal the words in the files, the last word included
(Verilator drops a last word that has no newline after it).
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [("golden/smoke/tiles/conv1/t0000/bias.hex", 16), ("golden/smoke/tiles/conv1/t0000/psums.hex", 40)]


def words(rel):
    return [l for l in (ROOT / rel).read_text().splitlines() if l and not l.startswith("//")]


def module(tmp_path) -> Path:
    decl, body = [], []
    for i, (rel, bits) in enumerate(FILES):
        n = len(words(rel))
        decl.append(f"  reg [{bits - 1}:0] m{i} [0:{n - 1}];")
        body.append(f"    for (k = 0; k < {n}; k = k + 1) m{i}[k] = {{{bits}{{1'bx}}}};\n"
                    f"    $readmemh(\"{ROOT / rel}\", m{i});\n"
                    f"    for (k = 0; k < {n}; k = k + 1) $display(\"%h\", m{i}[k]);")
    src = tmp_path / "readmem.v"
    src.write_text("module readmem;\n  integer k;\n" + "\n".join(decl) + "\n  initial begin\n" + "\n".join(body)
                   + "\n    $finish;\n  end\nendmodule\n")
    return src


def expected():
    return [w for rel, _ in FILES for w in words(rel)]


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not on PATH (apt-get install iverilog)")
def test_icarus_readmemh(tmp_path):
    src = module(tmp_path)
    subprocess.run(["iverilog", "-o", str(tmp_path / "sim"), str(src)], check=True, timeout=120)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], capture_output=True, text=True, timeout=120).stdout
    got = [l for l in out.splitlines() if l and not l.startswith(("VCD", "readmem.v"))]
    assert got == expected()


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not on PATH (apt-get install verilator)")
def test_verilator_readmemh(tmp_path):
    src = module(tmp_path)
    build = subprocess.run(["verilator", "--binary", "-Wno-fatal", "-Wno-WIDTH", "--Mdir", str(tmp_path / "obj"),
                            "-o", "sim", str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    out = subprocess.run([str(tmp_path / "obj" / "sim")], capture_output=True, text=True, timeout=120).stdout
    got = [l for l in out.splitlines() if l and not l.startswith("-")]
    assert got == expected()
