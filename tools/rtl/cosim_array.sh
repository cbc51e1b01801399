#!/usr/bin/env bash
# cosim_array.sh -- RTL co-simulation of the 12x12 MAC array against refimpl.
#
# Generates a golden set with per-pass vectors (refimpl golden --passes all), or
# takes one already written, picks an output tile (all its input-channel chunks)
# from its manifest (tools/rtl/cosim_array.py), simulates tools/rtl/tb_array.v
# (array_ctrl.v + array_os.v) on the tile's per-pass streams, dumps the psums and
# outputs the array wrote (per pass and per tile) under the golden files'
# relative paths, runs `refimpl compare` on the two folders and checks that the
# RTL's cycle count of every chunk equals the manifest's array timing
# (refimpl/array/timing.py, the count of the cycle-level model).
# Exit status: 0 full match and equal cycles; 1 mismatch (compare's 1) or a
# cycle count that differs; 2 unusable input or a run that cannot be set up.
#
# Environment:
#   SET=NAME    golden set to generate (default smoke; a standard name or a .toml)
#   GOLDEN=DIR  use this golden set folder instead (read only; written with --passes all)
#   TILE=L/I    the output tile's first chunk (default: the manifest's first tile with passes)
#   CHUNKS=N    run only its first N input-channel chunks (default all; without the last, no outputs)
#   FAULT=...   a deliberate bug: stuck (MAC (2,5)'s multiplier stuck at 0), skew (column 3's
#               inputs one cycle late), carry (the psum carry between chunks dropped)
#   SIM=...     icarus (default) or verilator (Verilator 5: --binary, much faster on long runs)
#   KEEP=1      keep the temp dir (its path is printed)
#   PYTHON, REFIMPL   as for cosim.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
SET="${SET:-smoke}"
SIM="${SIM:-icarus}"

die() { echo "cosim_array: $*" >&2; exit 2; }

if [[ -n "${REFIMPL:-}" ]]; then
    read -r -a REFIMPL_CMD <<< "$REFIMPL"
elif command -v refimpl >/dev/null 2>&1; then
    REFIMPL_CMD=(refimpl)
else
    REFIMPL_CMD=("$PYTHON" -m refimpl)
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
case "$SIM" in
    icarus) command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1 \
                || die "iverilog/vvp not on PATH (Debian: apt-get install iverilog)" ;;
    verilator) command -v verilator >/dev/null 2>&1 || die "verilator not on PATH (Debian: apt-get install verilator)" ;;
    *) die "SIM=$SIM: use icarus or verilator" ;;
esac
DEFINES=()
BUILD="normal"
case "${FAULT:-}" in
    "") ;;
    stuck) DEFINES=(-DFAULT_STUCK); BUILD="FAULT_STUCK (MAC row 2 col 5: multiplier stuck at 0)" ;;
    skew) DEFINES=(-DFAULT_SKEW); BUILD="FAULT_SKEW (column 3: inputs one cycle late)" ;;
    carry) DEFINES=(-DFAULT_CARRY); BUILD="FAULT_CARRY (psum carry between chunks dropped)" ;;
    *) die "FAULT=$FAULT: use stuck, skew or carry" ;;
esac

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cosim_array.XXXXXX")"
cleanup() {
    if [[ "${KEEP:-0}" == 1 ]]; then echo "cosim_array: temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if [[ -n "${GOLDEN:-}" ]]; then
    [[ -f "$GOLDEN/manifest.json" ]] || die "GOLDEN=$GOLDEN: no manifest.json there"
    GDIR="$(cd "$GOLDEN" && pwd)"
    echo "cosim_array: golden set $GDIR (given)"
else
    GDIR="$TMP/golden"
    echo "cosim_array: ${REFIMPL_CMD[*]} golden --set $SET --passes all --format hex --out $GDIR"
    if ! "${REFIMPL_CMD[@]}" golden --set "$SET" --passes all --format hex --out "$GDIR" > "$TMP/golden.log" 2>&1; then
        cat "$TMP/golden.log" >&2
        die "refimpl golden failed"
    fi
fi

RUN="$("$PYTHON" "$HERE/cosim_array.py" "$GDIR" "${TILE:-}" "$TMP/cfg" "$TMP/rtl")" || exit 2
field() { printf '%s\n' "$RUN" | sed -n "s/^$1\t//p"; }
read -r -a PARAMS <<< "$(field PARAMS)"
read -r -a PLUSARGS <<< "$(field PLUSARGS)"
IFS=, read -r -a EXPECTED <<< "$(field CYCLES)"
echo "cosim_array: run: $(field SUMMARY)"
echo "cosim_array: $SIM build: $BUILD"

SRC=("$HERE/tb_array.v" "$HERE/array_ctrl.v" "$HERE/array_os.v")
if [[ "$SIM" == icarus ]]; then
    iverilog -g2012 -Wall -o "$TMP/sim" -s tb_array "${PARAMS[@]}" ${DEFINES[@]+"${DEFINES[@]}"} "${SRC[@]}" \
        > "$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; die "iverilog failed"; }
    RUNCMD=(vvp -n "$TMP/sim")
else
    GPARAMS=()
    for p in "${PARAMS[@]}"; do GPARAMS+=("-G${p#-Ptb_array.}"); done
    verilator --binary -j 2 -Wno-fatal -Wno-lint -Wno-style --top-module tb_array -Mdir "$TMP/obj" \
        "${GPARAMS[@]}" ${DEFINES[@]+"${DEFINES[@]}"} "${SRC[@]}" > "$TMP/build.log" 2>&1 \
        || { cat "$TMP/build.log" >&2; die "verilator failed"; }
    RUNCMD=("$TMP/obj/Vtb_array")
fi
"${RUNCMD[@]}" "${PLUSARGS[@]}" > "$TMP/sim.log" 2>&1 || { cat "$TMP/sim.log" >&2; die "simulation failed"; }
grep '^tb_array:' "$TMP/sim.log" | sed 's/^/cosim_array: /' || true
mapfile -t GOT < <(sed -n 's/^tb_array: chunk [0-9]*: .*, \([0-9]*\) cycles$/\1/p' "$TMP/sim.log")
CYCLE_STATUS=0
for i in "${!EXPECTED[@]}"; do
    if [[ "${GOT[$i]:-}" == "${EXPECTED[$i]}" ]]; then
        echo "cosim_array: cycles: chunk $i: RTL ${GOT[$i]} = model ${EXPECTED[$i]}"
    else
        echo "cosim_array: CYCLES DIFFER: chunk $i: RTL ${GOT[$i]:-none}, model ${EXPECTED[$i]}"
        CYCLE_STATUS=1
    fi
done

echo "cosim_array: ${REFIMPL_CMD[*]} compare $GDIR $TMP/rtl"
set +e
"${REFIMPL_CMD[@]}" compare "$GDIR" "$TMP/rtl"
STATUS=$?
set -e
[[ "$STATUS" == 0 && "$CYCLE_STATUS" != 0 ]] && STATUS=1
echo "cosim_array: exit status $STATUS"
exit "$STATUS"
