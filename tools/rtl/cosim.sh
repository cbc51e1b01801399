#!/usr/bin/env bash
# cosim.sh -- RTL co-simulation of one MAC-array tile against refimpl.
#
# Generates the "smoke" golden set, picks its first complete tile (first and
# last input-channel chunk, with an outputs file), simulates tools/rtl/mac_tile.v
# on that tile's inputs/weights/bias with Icarus Verilog, dumps the RTL outputs
# under the same relative path and runs `refimpl compare` on the two folders.
# Exits with compare's status: 0 full match, 1 mismatch, 2 unusable input
# (this script also exits 2 when it cannot set the run up).
#
# Environment:
#   FAULT=1   build the RTL with -DFAULT (requantization truncates: a deliberate bug)
#   KEEP=1    keep the temp dir (its path is printed)
#   PYTHON    interpreter for the manifest step and `-m refimpl` (default python3)
#   REFIMPL   command to run refimpl (default: `refimpl` if on PATH, else
#             "$PYTHON -m refimpl" with this checkout on PYTHONPATH)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
SET="smoke"                                       # golden set simulated (brief: the smoke set)

die() { echo "cosim: $*" >&2; exit 2; }

if [[ -n "${REFIMPL:-}" ]]; then
    read -r -a REFIMPL_CMD <<< "$REFIMPL"
elif command -v refimpl >/dev/null 2>&1; then
    REFIMPL_CMD=(refimpl)
else
    REFIMPL_CMD=("$PYTHON" -m refimpl)
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
command -v iverilog >/dev/null 2>&1 || die "iverilog not on PATH (Debian: apt-get install iverilog)"
command -v vvp >/dev/null 2>&1 || die "vvp not on PATH (it comes with iverilog)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cosim.XXXXXX")"
cleanup() {
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "cosim: temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# (2) golden set
echo "cosim: ${REFIMPL_CMD[*]} golden --set $SET --out $TMP/golden"
if ! "${REFIMPL_CMD[@]}" golden --set "$SET" --out "$TMP/golden" > "$TMP/golden.log" 2>&1; then
    cat "$TMP/golden.log" >&2
    die "refimpl golden failed"
fi

# (3) first complete tile of the manifest: one line each of layer, tile index,
# inputs/weights/bias/outputs stems, then the iverilog -P options
SELECT_PY='
import json, os, sys
gdir = sys.argv[1]
def fail(msg):
    print("manifest: " + msg, file=sys.stderr)
    sys.exit(2)
man = json.load(open(os.path.join(gdir, "manifest.json")))
pick = None
for layer in man.get("layers", []):
    for tile in layer.get("tiles", []):
        if tile.get("first_chunk") is True and tile.get("last_chunk") is True \
                and (tile.get("files") or {}).get("outputs"):
            pick = (layer, tile)
            break
    if pick:
        break
if pick is None:
    fail("no tile with first_chunk and last_chunk true and an outputs file")
layer, tile = pick
p, files = tile["params"], tile["files"]
where = "layer %s tile %s" % (layer.get("name"), tile.get("index"))
# manifest key -> testbench parameter
names = {"m": "M", "tk": "TK", "k": "K", "stride": "STRIDE", "in_rows": "IN_ROWS",
         "in_cols": "IN_COLS", "out_rows": "OUT_ROWS", "out_cols": "OUT_COLS", "shift": "SHIFT",
         "bias_shift": "BIAS_SHIFT", "relu": "RELU", "acc_bits": "ACC_BITS", "bias_bits": "BIAS_BITS"}
missing = [key for key in names if key not in p]
if missing:
    fail("%s: params lack %s" % (where, ", ".join(missing)))
v = {key: int(p[key]) for key in names if isinstance(p[key], (int, bool))}   # relu: bool -> 0/1
if len(v) != len(names):
    fail("%s: non-integer params %s (per-channel shift is not supported by mac_tile)"
         % (where, sorted(set(names) - set(v))))
if p.get("rounding", "half_up") != "half_up":
    fail("%s: rounding %r, mac_tile implements half_up only" % (where, p["rounding"]))
if p.get("overflow", "saturate") != "saturate":
    fail("%s: overflow %r, mac_tile implements saturate only" % (where, p["overflow"]))
if not 32 <= v["acc_bits"] <= 62:                       # refimpl MIN_ACC_BITS..MAX_ACC_BITS
    fail("%s: acc_bits %d outside 32..62" % (where, v["acc_bits"]))
if v["bias_bits"] not in (16, 32):
    fail("%s: bias_bits %d not 16 or 32" % (where, v["bias_bits"]))
if v["in_rows"] < (v["out_rows"] - 1) * v["stride"] + v["k"] or \
        v["in_cols"] < (v["out_cols"] - 1) * v["stride"] + v["k"]:
    fail("%s: input patch smaller than the outputs need" % where)
words = {"inputs": v["tk"] * v["in_rows"] * v["in_cols"], "weights": v["m"] * v["tk"] * v["k"] ** 2,
         "bias": v["m"], "outputs": v["m"] * v["out_rows"] * v["out_cols"]}
for kind, n in words.items():
    stem = files.get(kind)
    if not stem:
        fail("%s: no %s file" % (where, kind))
    path = os.path.join(gdir, stem + ".hex")
    if not os.path.isfile(path):
        fail("%s: %s missing (the testbench reads hex)" % (where, path))
    got = sum(1 for line in open(path) if line.strip() and not line.lstrip().startswith("//"))
    if got != n:
        fail("%s: %s has %d words, expected %d" % (where, path, got, n))
print(layer.get("name"))
print(tile.get("index"))
for kind in ("inputs", "weights", "bias", "outputs"):
    print(files[kind])
for key, name in names.items():
    print("-Ptb_mac_tile.%s=%d" % (name, v[key]))
'
SEL="$("$PYTHON" -c "$SELECT_PY" "$TMP/golden")" || die "cannot use $TMP/golden/manifest.json"
mapfile -t LINES <<< "$SEL"
LAYER="${LINES[0]}"; TILE="${LINES[1]}"
IN_STEM="${LINES[2]}"; W_STEM="${LINES[3]}"; B_STEM="${LINES[4]}"; OUT_STEM="${LINES[5]}"
PARAMS=("${LINES[@]:6}")
echo "cosim: tile: layer $LAYER tile $TILE ($OUT_STEM) ${PARAMS[*]#-Ptb_mac_tile.}"

# (4) compile and simulate
DEFINES=()
BUILD="normal"
if [[ "${FAULT:-0}" == 1 ]]; then
    DEFINES=(-DFAULT)
    BUILD="FAULT (truncating requantization)"
fi
echo "cosim: iverilog build: $BUILD"
iverilog -g2012 -Wall -o "$TMP/sim" -s tb_mac_tile "${PARAMS[@]}" ${DEFINES[@]+"${DEFINES[@]}"} \
    "$HERE/tb_mac_tile.v" "$HERE/mac_tile.v" > "$TMP/iverilog.log" 2>&1 \
    || { cat "$TMP/iverilog.log" >&2; die "iverilog failed"; }

# (5) RTL dump at the golden outputs' relative path
RTL_OUT="$TMP/rtl/$OUT_STEM.hex"
mkdir -p "$(dirname "$RTL_OUT")"
vvp -n "$TMP/sim" "+INPUTS=$TMP/golden/$IN_STEM.hex" "+WEIGHTS=$TMP/golden/$W_STEM.hex" \
    "+BIAS=$TMP/golden/$B_STEM.hex" "+OUTPUTS=$RTL_OUT" > "$TMP/vvp.log" 2>&1 \
    || { cat "$TMP/vvp.log" >&2; die "simulation failed"; }
[[ -s "$RTL_OUT" ]] || { cat "$TMP/vvp.log" >&2; die "simulation wrote no outputs"; }
grep '^tb_mac_tile:' "$TMP/vvp.log" | sed 's/^/cosim: /' || true

# (6) compare; its exit status is ours
echo "cosim: ${REFIMPL_CMD[*]} compare $TMP/golden $TMP/rtl"
set +e
"${REFIMPL_CMD[@]}" compare "$TMP/golden" "$TMP/rtl"
STATUS=$?
set -e
echo "cosim: compare exit status $STATUS"
exit "$STATUS"
