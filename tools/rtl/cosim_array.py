"""cosim_array.py GOLDEN_DIR SELECTION CFG_DIR RTL_DIR -- the run cosim_array.sh simulates.

Reads GOLDEN_DIR/manifest.json only (no refimpl import: the co-simulation
checks refimpl from the outside).  SELECTION is LAYER/INDEX, the first
input-channel chunk of an output tile (default: the manifest's first tile
with pass vectors); the run takes that tile and its later chunks (the
following tiles with the same group, channels and rows, up to its last
chunk; only the first N with environment CHUNKS=N), each with all its passes
written (refimpl golden --passes all).
Checks the word counts of the files the testbench reads, writes the per-channel
shift files (CFG_DIR/{shifts,bias_shifts}.hex, signed 8-bit words) and the
folders of the dumps under RTL_DIR, and prints four lines:

    PARAMS    -Ptb_array.NAME=value ...            (iverilog; cosim_array.sh turns them into -G for Verilator)
    PLUSARGS  +NAME=value ...
    CYCLES    the cycles of each chunk in the manifest's array timing, comma-separated
    SUMMARY   layer, tiles, geometry and numerics, for the log

Any problem: one line on stderr, exit 2.
"""
import json
import os
import sys

ROUNDING = {"half_up": 0, "half_even": 1, "truncate": 2}
OVERFLOW = {"saturate": 0, "wrap": 1, "error": 2}
MAX_SHIFT = 62                      # 8-bit signed shift words, as tools/rtl/mac_tile.v


def fail(msg):
    print(f"cosim_array: manifest: {msg}", file=sys.stderr)
    sys.exit(2)


def hex_file(gdir, stem, where, expected):
    path = os.path.join(gdir, f"{stem}.hex")
    if not os.path.isfile(path):
        fail(f"{where}: {path} missing (the testbench reads hex)")
    with open(path) as f:
        got = sum(1 for line in f if line.strip() and not line.lstrip().startswith("//"))
    if got != expected:
        fail(f"{where}: {path} has {got} words, expected {expected}")
    return path


def lane_shifts(value, m, name, where):
    shifts = value if isinstance(value, list) else [value] * m
    if len(shifts) != m or not all(isinstance(s, int) and not isinstance(s, bool) for s in shifts):
        fail(f"{where}: {name} {value!r} is not an integer or a list of {m} integers")
    if any(abs(s) > MAX_SHIFT for s in shifts):
        fail(f"{where}: {name} outside -{MAX_SHIFT}..{MAX_SHIFT} (8-bit shift words)")
    return shifts


def write_words(path, words, digits):
    mask = (1 << (4 * digits)) - 1
    with open(path, "w") as f:
        f.write("".join(f"{w & mask:0{digits}x}\n" for w in words))


def main(gdir, selection, cfg, rtl):
    try:
        with open(os.path.join(gdir, "manifest.json")) as f:
            man = json.load(f)
    except (OSError, ValueError) as exc:
        fail(f"cannot read {gdir}/manifest.json ({exc.__class__.__name__})")
    tiles = [(layer, tile) for layer in man.get("layers", []) for tile in layer.get("tiles", [])]
    with_passes = [(layer, tile) for layer, tile in tiles if isinstance(tile.get("passes"), dict)]
    if not with_passes:
        fail(f"{gdir}: no tile has pass vectors (write the set with refimpl golden --passes all)")
    if selection:
        by_name = {f"{layer.get('name')}/{tile.get('index')}": (layer, tile) for layer, tile in tiles}
        if selection not in by_name:
            fail(f"TILE {selection!r} is not a tile of {gdir} (LAYER/INDEX, e.g. "
                 f"{with_passes[0][0].get('name')}/{with_passes[0][1].get('index')})")
        layer, tile = by_name[selection]
    else:
        layer, tile = with_passes[0]
    name = layer.get("name")
    where = f"layer {name} tile {tile.get('index')}"
    if not tile.get("first_chunk"):
        fail(f"{where}: not a first input-channel chunk (the run starts from the bias; "
             f"pick the output tile's first chunk)")
    chunks = [tile]
    siblings = {t.get("index"): t for t in layer.get("tiles", [])}
    while not chunks[-1].get("last_chunk"):
        nxt = siblings.get(chunks[-1]["index"] + 1)
        if nxt is None or (nxt.get("group"), nxt.get("m0"), nxt.get("y0")) != (tile.get("group"), tile.get("m0"),
                                                                              tile.get("y0")):
            break                              # the set holds only the first chunks: run those, no outputs
        chunks.append(nxt)
    limit = os.environ.get("CHUNKS", "")
    if limit:
        if not limit.isdigit() or int(limit) < 1:
            fail(f"CHUNKS={limit}: must be an integer >= 1")
        chunks = chunks[:int(limit)]
    p = tile.get("params") or {}
    for key in ("acc_bits", "bias_bits", "rounding", "overflow", "relu", "shift", "bias_shift"):
        if key not in p:
            fail(f"{where}: params lack {key}")
    if p["rounding"] not in ROUNDING or p["overflow"] not in OVERFLOW:
        fail(f"{where}: rounding {p['rounding']!r} / overflow {p['overflow']!r} unknown")
    m = None
    for t in chunks:
        ps = t.get("passes")
        w = f"layer {name} tile {t.get('index')}"
        if not isinstance(ps, dict):
            fail(f"{w}: no pass vectors")
        if ps.get("count") != ps.get("total"):
            fail(f"{w}: only {ps.get('count')} of {ps.get('total')} passes written (the RTL runs whole tiles: "
                 f"--passes all)")
        if m is None:
            m, npix, rows, cols = ps["m"], ps["pixels"], ps["rows"], ps["cols"]
        elif (ps["m"], ps["pixels"], ps["rows"], ps["cols"]) != (m, npix, rows, cols):
            fail(f"{w}: pass grid differs from the first chunk's")
    passes = chunks[0]["passes"]["total"]
    kmax = max(t["passes"]["kc"] for t in chunks)
    params = dict(ROWS=rows, COLS=cols, M=m, NPIX=npix, KMAX=kmax, ACC_BITS=int(p["acc_bits"]),
                  BIAS_BITS=int(p["bias_bits"]), ROUNDING=ROUNDING[p["rounding"]], OVERFLOW=OVERFLOW[p["overflow"]],
                  RELU=int(bool(p["relu"])), CHUNKS=len(chunks), LAST=int(bool(chunks[-1].get("last_chunk"))))
    os.makedirs(cfg, exist_ok=True)
    shifts = os.path.join(cfg, "shifts.hex")
    bias_shifts = os.path.join(cfg, "bias_shifts.hex")
    write_words(shifts, lane_shifts(p["shift"], m, "shift", where), 2)
    write_words(bias_shifts, lane_shifts(p["bias_shift"], m, "bias_shift", where), 2)
    if not (tile.get("files") or {}).get("bias"):
        fail(f"{where}: first chunk without a bias file")
    plus = [f"+BIAS={hex_file(gdir, tile['files']['bias'], where, m)}", f"+BIAS_SHIFTS={bias_shifts}",
            f"+SHIFTS={shifts}"]
    dumps = []
    for c, t in enumerate(chunks):
        ps, files, w = t["passes"], t.get("files") or {}, f"layer {name} tile {t.get('index')}"
        k = ps["kc"]
        plus += [f"+K{c}={k}", f"+W{c}={hex_file(gdir, ps['files']['w_stream'], w, passes * k * rows)}",
                 f"+X{c}={hex_file(gdir, ps['files']['x_stream'], w, passes * k * cols)}"]
        hex_file(gdir, ps["files"]["psums_end"], w, passes * rows * cols)
        hex_file(gdir, files["psums"], w, m * npix)
        dumps += [("PSUMS_END%d" % c, ps["files"]["psums_end"]), ("PSUMS%d" % c, files["psums"])]
    if params["LAST"]:
        last = chunks[-1]
        hex_file(gdir, last["passes"]["files"]["outputs"], where, passes * rows * cols)
        hex_file(gdir, last["files"]["outputs"], where, m * npix)
        dumps += [("PASS_OUTPUTS", last["passes"]["files"]["outputs"]), ("OUTPUTS", last["files"]["outputs"])]
    for key, stem in dumps:
        path = os.path.join(rtl, f"{stem}.hex")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        plus.append(f"+{key}={path}")
    print("PARAMS\t" + " ".join(f"-Ptb_array.{k}={v}" for k, v in params.items()))
    print("PLUSARGS\t" + " ".join(plus))
    print("CYCLES\t" + ",".join(str(t["passes"]["timing"]["cycles"]) for t in chunks))
    print(f"SUMMARY\tlayer {name} tiles {','.join(str(t['index']) for t in chunks)} (group {tile.get('group')}, "
          f"channels {tile.get('m0')}:{tile.get('m1')}, rows {tile.get('y0')}:{tile.get('y1')}): {passes} passes "
          f"of {rows}x{cols}, K={'/'.join(str(t['passes']['kc']) for t in chunks)}, acc_bits={p['acc_bits']} "
          f"rounding={p['rounding']} overflow={p['overflow']}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        fail("usage: cosim_array.py GOLDEN_DIR SELECTION CFG_DIR RTL_DIR")
    main(*sys.argv[1:])
