"""refimpl.scoreboard without a simulator: load_tile reads a golden tile as the manifest says,
and the scoreboard's report is refimpl compare's, line for line, for the same observed words."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from refimpl.cli import main
from refimpl.errors import RefimplError
from refimpl.scoreboard import Scoreboard, load_tile

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "golden" / "smoke"


def hex_ints(path, bits):
    """Words of a golden hex file, two's complement (an independent reader)."""
    vals = [int(l, 16) for l in map(str.strip, path.read_text().splitlines()) if l and not l.startswith("//")]
    return np.array([v - (1 << bits) if v >> (bits - 1) else v for v in vals], dtype=np.int64)


def test_load_tile_matches_the_manifest_and_the_hex_files():
    t = load_tile(SMOKE, "conv1", 0)
    doc = json.loads((SMOKE / "manifest.json").read_text())["layers"][0]["tiles"][0]
    p = doc["params"]
    assert t.parameters == dict(M=p["m"], TK=p["tk"], K=p["k"], STRIDE=p["stride"], IN_ROWS=p["in_rows"],
                                IN_COLS=p["in_cols"], OUT_ROWS=p["out_rows"], OUT_COLS=p["out_cols"], RELU=1,
                                ACC_BITS=40, BIAS_BITS=16, ROUNDING=0, OVERFLOW=0, FIRST_CHUNK=1, LAST_CHUNK=1)
    assert np.array_equal(t.inputs.reshape(-1), hex_ints(SMOKE / "tiles/conv1/t0000/inputs.hex", 16))
    assert np.array_equal(t.weights.reshape(-1), hex_ints(SMOKE / "tiles/conv1/t0000/weights.hex", 16))
    assert np.array_equal(t.init, hex_ints(SMOKE / "tiles/conv1/t0000/bias.hex", 16))
    assert t.shifts == [p["shift"]] * 64 and t.bias_shifts == [p["bias_shift"]] * 64
    assert t.files == {"psums": "tiles/conv1/t0000/psums", "outputs": "tiles/conv1/t0000/outputs"}


def observe_all(sb, stem, values, skip=()):
    for idx in np.ndindex(values.shape):
        if idx not in skip:
            sb.check(stem, idx, None if values[idx] is None else int(values[idx]))


def test_report_is_compares_report(tmp_path, capsys):
    t = load_tile(SMOKE, "conv1", 0)
    sb = Scoreboard(SMOKE, list(t.files.values()))
    psums = hex_ints(SMOKE / "tiles/conv1/t0000/psums.hex", 40).reshape(64, 15, 32)
    outputs = hex_ints(SMOKE / "tiles/conv1/t0000/outputs.hex", 16).reshape(64, 15, 32).astype(object)
    outputs[3, 4, 5] += 1
    outputs[0, 0, 1] = -1
    outputs[63, 14, 31] = None                                     # an X/Z word
    observe_all(sb, t.files["psums"], psums)
    observe_all(sb, t.files["outputs"], outputs)
    lines, ok = sb.report()
    assert not ok
    assert lines[0] == "MISMATCH tiles/conv1/t0000/outputs.hex: 3 of 30720 words differ (1 X/Z)"
    assert lines[1] == (f"  layer=conv1 tile=0 out_channel=0 row=0 col=1: expected "
                        f"0x{int(hex_ints(SMOKE / 'tiles/conv1/t0000/outputs.hex', 16)[1]):04x} "
                        f"({int(hex_ints(SMOKE / 'tiles/conv1/t0000/outputs.hex', 16)[1])}), got 0xffff (-1)")
    assert lines[3].endswith("got X/Z") and "out_channel=63 row=14 col=31" in lines[3]
    assert lines[4] == "match    tiles/conv1/t0000/psums.hex: 30720 words"
    sb.write_dumps(tmp_path / "rtl")
    assert main(["compare", str(SMOKE), str(tmp_path / "rtl")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [l for l in out if not l.startswith(("skipped", "compare:"))] == lines


def test_words_not_seen_once_fail(tmp_path):
    t = load_tile(SMOKE, "conv1", 0)
    sb = Scoreboard(SMOKE, [t.files["psums"]])
    psums = hex_ints(SMOKE / "tiles/conv1/t0000/psums.hex", 40).reshape(64, 15, 32)
    observe_all(sb, t.files["psums"], psums, skip={(1, 2, 3)})
    sb.check(t.files["psums"], (0, 0, 0), int(psums[0, 0, 0]))
    lines, ok = sb.report()
    assert not ok and lines == ["match    tiles/conv1/t0000/psums.hex: 30720 words",
                                "MISSING  tiles/conv1/t0000/psums.hex: 1 of 30720 words never observed",
                                "MISSING  tiles/conv1/t0000/psums.hex: 1 of 30720 words observed more than once"]


def test_damaged_set_and_unknown_tile_are_refused(tmp_path):
    with pytest.raises(RefimplError, match=r"no tile conv1/7 \(tiles: conv1/0\)"):
        load_tile(SMOKE, "conv1", 7)
    bad = tmp_path / "smoke"
    shutil.copytree(SMOKE, bad)
    (bad / "tiles/conv1/t0000/weights.hex").write_text("0000\n")
    with pytest.raises(RefimplError, match="golden set fails verification"):
        load_tile(bad, "conv1", 0)
