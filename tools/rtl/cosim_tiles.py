"""cosim_tiles.py GOLDEN_DIR SELECTION CFG_DIR -- the tiles cosim.sh simulates.

Reads GOLDEN_DIR/manifest.json only (no refimpl import: the co-simulation
checks refimpl from the outside).  SELECTION is LAYER/INDEX, a comma-separated
list of them, "all", or "" (the manifest's first tile).  For each tile it
checks the params and the word counts of the hex files the testbench reads,
writes the per-lane shift files (CFG_DIR/LAYER/tNNNN/{shifts,bias_shifts}.hex,
signed 8-bit words, one per lane: a per-layer shift is repeated on every lane)
and prints one tab-separated line:

    layer  index  inputs.hex  weights.hex  +BIAS=|+PSUMS_IN=path  psums_stem
    outputs_stem  shifts.hex  bias_shifts.hex  summary  -Ptb_mac_tile.NAME=value ...

psums_stem and outputs_stem are the golden files the tile produces (outputs_stem
is "-" on a tile that is not its output tile's last input-channel chunk).
Any problem: one line on stderr, exit 2.
"""
import json
import os
import sys

ROUNDING = {"half_up": 0, "half_even": 1, "truncate": 2}     # mac_tile ROUNDING codes
OVERFLOW = {"saturate": 0, "wrap": 1, "error": 2}            # mac_tile OVERFLOW codes
MAX_SHIFT = 62                                               # mac_tile MAX_SHIFT (8-bit signed shift words)
# manifest params key -> testbench parameter (integers)
INT_PARAMS = {"m": "M", "tk": "TK", "k": "K", "stride": "STRIDE", "in_rows": "IN_ROWS", "in_cols": "IN_COLS",
              "out_rows": "OUT_ROWS", "out_cols": "OUT_COLS", "relu": "RELU", "acc_bits": "ACC_BITS",
              "bias_bits": "BIAS_BITS"}


def fail(msg):
    print(f"cosim: manifest: {msg}", file=sys.stderr)
    sys.exit(2)


def hex_words(path, where, expected):
    if not os.path.isfile(path):
        fail(f"{where}: {path} missing (the testbench reads hex)")
    with open(path) as f:
        got = sum(1 for line in f if line.strip() and not line.lstrip().startswith("//"))
    if got != expected:
        fail(f"{where}: {path} has {got} words, expected {expected}")
    return path


def lane_shifts(value, m, name, where):
    """A scalar or per-channel list -> m ints within +-MAX_SHIFT."""
    if isinstance(value, list):
        if len(value) != m or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            fail(f"{where}: {name} is a list of {len(value)} values, expected {m} integers (one per lane)")
        shifts = value
    elif isinstance(value, int) and not isinstance(value, bool):
        shifts = [value] * m
    else:
        fail(f"{where}: {name} {value!r} is not an integer or a list of integers")
    if any(abs(s) > MAX_SHIFT for s in shifts):
        fail(f"{where}: {name} outside -{MAX_SHIFT}..{MAX_SHIFT} (mac_tile's 8-bit shift words)")
    return shifts


def write_shifts(path, shifts):
    with open(path, "w") as f:
        f.write("".join(f"{s & 0xff:02x}\n" for s in shifts))


def tile_line(gdir, cfg, layer, tile):
    where = f"layer {layer.get('name')} tile {tile.get('index')}"
    p, files = tile.get("params") or {}, tile.get("files") or {}
    missing = [k for k in list(INT_PARAMS) + ["shift", "bias_shift", "rounding", "overflow"] if k not in p]
    if missing:
        fail(f"{where}: params lack {', '.join(missing)}")
    v = {k: int(p[k]) for k in INT_PARAMS if isinstance(p[k], (int, bool))}      # relu: bool -> 0/1
    if len(v) != len(INT_PARAMS):
        fail(f"{where}: non-integer params {sorted(set(INT_PARAMS) - set(v))}")
    if p["rounding"] not in ROUNDING:
        fail(f"{where}: rounding {p['rounding']!r} is not one of {', '.join(ROUNDING)}")
    if p["overflow"] not in OVERFLOW:
        fail(f"{where}: overflow {p['overflow']!r} is not one of {', '.join(OVERFLOW)}")
    if not 32 <= v["acc_bits"] <= 62:                       # refimpl MIN_ACC_BITS..MAX_ACC_BITS
        fail(f"{where}: acc_bits {v['acc_bits']} outside 32..62")
    if v["bias_bits"] not in (16, 32):
        fail(f"{where}: bias_bits {v['bias_bits']} not 16 or 32")
    if v["in_rows"] < (v["out_rows"] - 1) * v["stride"] + v["k"] or \
            v["in_cols"] < (v["out_cols"] - 1) * v["stride"] + v["k"]:
        fail(f"{where}: input patch smaller than the outputs need")
    first, last = tile.get("first_chunk"), tile.get("last_chunk")
    if not isinstance(first, bool) or not isinstance(last, bool):
        fail(f"{where}: first_chunk / last_chunk missing")
    m, pixels = v["m"], v["out_rows"] * v["out_cols"]
    inputs = hex_words(os.path.join(gdir, f"{files.get('inputs')}.hex"), where, v["tk"] * v["in_rows"] * v["in_cols"])
    weights = hex_words(os.path.join(gdir, f"{files.get('weights')}.hex"), where, m * v["tk"] * v["k"] ** 2)
    if first:
        if not files.get("bias"):
            fail(f"{where}: first chunk without a bias file")
        init = "+BIAS=" + hex_words(os.path.join(gdir, files["bias"] + ".hex"), where, m)
    else:
        if not tile.get("psums_in"):
            fail(f"{where}: a later input-channel chunk without psums_in")
        init = "+PSUMS_IN=" + hex_words(os.path.join(gdir, tile["psums_in"] + ".hex"), where, m * pixels)
    for kind in ("psums", "outputs") if last else ("psums",):
        if not files.get(kind):
            fail(f"{where}: no {kind} file")
        hex_words(os.path.join(gdir, files[kind] + ".hex"), where, m * pixels)
    shifts = lane_shifts(p["shift"], m, "shift", where)
    bias_shifts = lane_shifts(p["bias_shift"], m, "bias_shift", where)
    d = os.path.join(cfg, str(layer.get("name")), f"t{int(tile['index']):04d}")
    os.makedirs(d, exist_ok=True)
    write_shifts(os.path.join(d, "shifts.hex"), shifts)
    write_shifts(os.path.join(d, "bias_shifts.hex"), bias_shifts)
    opts = [f"-Ptb_mac_tile.{name}={v[key]}" for key, name in INT_PARAMS.items()]
    opts += [f"-Ptb_mac_tile.ROUNDING={ROUNDING[p['rounding']]}", f"-Ptb_mac_tile.OVERFLOW={OVERFLOW[p['overflow']]}",
             f"-Ptb_mac_tile.FIRST_CHUNK={int(first)}", f"-Ptb_mac_tile.LAST_CHUNK={int(last)}"]

    def span(s):
        return str(s[0]) if min(s) == max(s) else f"{min(s)}..{max(s)}"
    summary = (f"m={m} tk={v['tk']} k={v['k']} stride={v['stride']} out={v['out_rows']}x{v['out_cols']} "
               f"acc_bits={v['acc_bits']} bias_bits={v['bias_bits']} rounding={p['rounding']} "
               f"overflow={p['overflow']} shift={span(shifts)} bias_shift={span(bias_shifts)} "
               f"chunk={'first' if first else 'later'},{'last' if last else 'not last'}")
    return "\t".join([str(layer.get("name")), str(tile["index"]), inputs, weights, init, files["psums"],
                      files["outputs"] if last else "-",
                      os.path.join(d, "shifts.hex"), os.path.join(d, "bias_shifts.hex"), summary] + opts)


def main(gdir, selection, cfg):
    try:
        with open(os.path.join(gdir, "manifest.json")) as f:
            man = json.load(f)
    except (OSError, ValueError) as exc:
        fail(f"cannot read {gdir}/manifest.json ({exc.__class__.__name__})")
    tiles = [(layer, tile) for layer in man.get("layers", []) for tile in layer.get("tiles", [])]
    if not tiles:
        fail(f"{gdir}: the set has no tiles (its 'tiles' key is none)")
    if selection == "all":
        picked = tiles
    elif selection == "":
        picked = tiles[:1]
    else:
        by_name = {f"{layer.get('name')}/{tile.get('index')}": (layer, tile) for layer, tile in tiles}
        picked = []
        for item in selection.split(","):
            if item not in by_name:
                fail(f"TILE {item!r} is not a tile of {gdir} (LAYER/INDEX, e.g. {next(iter(by_name))})")
            picked.append(by_name[item])
    for layer, tile in picked:
        print(tile_line(gdir, cfg, layer, tile))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        fail("usage: cosim_tiles.py GOLDEN_DIR SELECTION CFG_DIR")
    main(*sys.argv[1:])
