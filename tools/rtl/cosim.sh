#!/usr/bin/env bash
# cosim.sh -- RTL co-simulation of MAC-array tiles against refimpl.
#
# Generates a golden set (or takes one already written), picks tiles from its
# manifest, simulates tools/rtl/mac_tile.v on each tile's inputs, weights and
# bias (first input-channel chunk) or the previous chunk's psums (a later
# chunk) with Icarus Verilog, parameterised from the tile's "params" (geometry,
# acc_bits, bias_bits, rounding, overflow, per-channel shift and bias shift),
# dumps what the tile produces (its psums, and its int16 outputs on its last
# chunk) under the golden files' relative paths and runs `refimpl compare` on
# the two folders.  Exits with compare's status: 0 full match, 1 mismatch,
# 2 unusable input (this script also exits 2 when it cannot set the run up).
#
# Environment:
#   SET=NAME    golden set to generate (default smoke; a standard name or a .toml)
#   GOLDEN=DIR  use this golden set folder instead of generating one (read only)
#   TILE=...    tiles to simulate: LAYER/INDEX, a comma-separated list of them, or
#               all (default: the manifest's first tile)
#   FAULT=1     build the RTL with -DFAULT (the requantizer rounds with the wrong
#               mode: a deliberate bug); FAULT=overflow: -DFAULT_OVERFLOW (the
#               accumulator uses the wrong overflow policy, saturate <-> wrap)
#   KEEP=1      keep the temp dir (its path is printed)
#   PYTHON      interpreter for the manifest step and `-m refimpl` (default python3)
#   REFIMPL     command to run refimpl (default: `refimpl` if on PATH, else
#               "$PYTHON -m refimpl" with this checkout on PYTHONPATH)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
SET="${SET:-smoke}"

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

# (2) golden set: generated, or the one given
if [[ -n "${GOLDEN:-}" ]]; then
    [[ -f "$GOLDEN/manifest.json" ]] || die "GOLDEN=$GOLDEN: no manifest.json there"
    GDIR="$(cd "$GOLDEN" && pwd)"
    echo "cosim: golden set $GDIR (given)"
else
    GDIR="$TMP/golden"
    echo "cosim: ${REFIMPL_CMD[*]} golden --set $SET --out $GDIR"
    if ! "${REFIMPL_CMD[@]}" golden --set "$SET" --out "$GDIR" > "$TMP/golden.log" 2>&1; then
        cat "$TMP/golden.log" >&2
        die "refimpl golden failed"
    fi
fi

# (3) the tiles, one tab-separated line each (tools/rtl/cosim_tiles.py)
SEL="$("$PYTHON" "$HERE/cosim_tiles.py" "$GDIR" "${TILE:-}" "$TMP/cfg")" || exit 2
mapfile -t TILES <<< "$SEL"

DEFINES=()
BUILD="normal"
case "${FAULT:-0}" in
    0|"") ;;
    1|rounding) DEFINES=(-DFAULT); BUILD="FAULT (the requantizer rounds with the wrong mode)" ;;
    overflow) DEFINES=(-DFAULT_OVERFLOW); BUILD="FAULT_OVERFLOW (the wrong accumulator overflow policy)" ;;
    *) die "FAULT=$FAULT: use 1 (or rounding) or overflow" ;;
esac
echo "cosim: iverilog build: $BUILD"

# (4) compile and simulate each tile, dumping at the golden file's relative path
for line in "${TILES[@]}"; do
    IFS=$'\t' read -r -a F <<< "$line"
    LAYER="${F[0]}"; INDEX="${F[1]}"; INPUTS="${F[2]}"; WEIGHTS="${F[3]}"; INIT="${F[4]}"
    PSUMS="${F[5]}"; OUTPUTS="${F[6]}"; SHIFTS="${F[7]}"; BSHIFTS="${F[8]}"; SUMMARY="${F[9]}"
    PARAMS=("${F[@]:10}")
    echo "cosim: tile: layer $LAYER tile $INDEX ($PSUMS, $OUTPUTS) $SUMMARY"
    SIM="$TMP/sim-$LAYER-$INDEX"
    iverilog -g2012 -Wall -o "$SIM" -s tb_mac_tile "${PARAMS[@]}" ${DEFINES[@]+"${DEFINES[@]}"} \
        "$HERE/tb_mac_tile.v" "$HERE/mac_tile.v" > "$TMP/iverilog.log" 2>&1 \
        || { cat "$TMP/iverilog.log" >&2; die "iverilog failed"; }
    DUMPS=("+PSUMS=$TMP/rtl/$PSUMS.hex")
    [[ "$OUTPUTS" == - ]] || DUMPS+=("+OUTPUTS=$TMP/rtl/$OUTPUTS.hex")
    mkdir -p "$(dirname "$TMP/rtl/$PSUMS.hex")"
    vvp -n "$SIM" "+INPUTS=$INPUTS" "+WEIGHTS=$WEIGHTS" "$INIT" "+SHIFTS=$SHIFTS" "+BIAS_SHIFTS=$BSHIFTS" \
        "${DUMPS[@]}" > "$TMP/vvp.log" 2>&1 \
        || { cat "$TMP/vvp.log" >&2; die "simulation of layer $LAYER tile $INDEX failed"; }
    [[ -s "$TMP/rtl/$PSUMS.hex" ]] || { cat "$TMP/vvp.log" >&2; die "simulation wrote no psums"; }
    grep '^tb_mac_tile:' "$TMP/vvp.log" | sed 's/^/cosim: /' || true
    rm -f "$SIM"
done

# (5) compare; its exit status is ours
echo "cosim: ${REFIMPL_CMD[*]} compare $GDIR $TMP/rtl"
set +e
"${REFIMPL_CMD[@]}" compare "$GDIR" "$TMP/rtl"
STATUS=$?
set -e
echo "cosim: compare exit status $STATUS"
exit "$STATUS"
