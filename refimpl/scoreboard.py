"""A scoreboard for testbenches that check RTL against a golden set while it runs.

Reads files only (the verified manifest and its word files, like
refimpl compare) and never imports the engine, and reports with compare's
own functions (compare.mismatch_line, compare.file_line), so a mismatch seen
live in a cocotb testbench reads exactly as ``refimpl compare`` would print it
for a dump of the same words:

    MISMATCH tiles/conv1/t0002/outputs.hex: 3 of 4096 words differ
      layer=conv1 tile=2 out_channel=5 row=0 col=7: expected 0x0012 (18), got 0x0011 (17)

Usage (plain Python, no simulator import; tools/rtl/cocotb/ drives mac_tile.v with it):

    t = load_tile(golden_dir, "conv1", 2)      # parameters and input words of one golden tile
    sb = Scoreboard(golden_dir, [t.files["psums"], t.files["outputs"]])
    sb.check(t.files["outputs"], (m, row, col), got)          # every word the monitor sees
    lines, ok = sb.report()                    # ok: every word seen once and equal

A word never observed, or observed twice, is an error too (a testbench that
drops outputs must not pass).

load_array_tile() is the same for the 12 x 12 array (tools/rtl/array_ctrl.v):
one first input-channel chunk with per-pass vectors (refimpl golden --passes),
all its passes or the first N of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .array.timing import tile_timing
from .compare import FileResult, file_line, mismatch_line
from .errors import RefimplError
from .manifest import verify
from .wordfile import WordFileError, hex_digits, read_words

ROUNDING = {"half_up": 0, "half_even": 1, "truncate": 2}     # mac_tile.v ROUNDING codes
OVERFLOW = {"saturate": 0, "wrap": 1, "error": 2}            # mac_tile.v OVERFLOW codes
# manifest tile params key -> mac_tile.v parameter
INT_PARAMS = {"m": "M", "tk": "TK", "k": "K", "stride": "STRIDE", "in_rows": "IN_ROWS", "in_cols": "IN_COLS",
              "out_rows": "OUT_ROWS", "out_cols": "OUT_COLS", "relu": "RELU", "acc_bits": "ACC_BITS",
              "bias_bits": "BIAS_BITS"}


def _entries(golden_dir: Path) -> tuple:
    """({stem: manifest entry}, manifest) of a verified golden set (npy preferred: exact and fast to read)."""
    verdict = verify(golden_dir)
    problems = verdict.invalid + verdict.problems
    if problems:
        raise RefimplError(f"{golden_dir}: golden set fails verification ({problems[0]}"
                           f"{f'; {len(problems) - 1} more' if len(problems) > 1 else ''})")
    out = {}
    for e in verdict.doc["files"]:
        stem, _, ext = e["path"].rpartition(".")
        if ext in ("npy", "bin", "hex") and (stem not in out or ext == "npy"):
            out[stem] = e
    return out, verdict.doc


def read_tensor(golden_dir: Path, entry: dict) -> np.ndarray:
    """The words of one manifest entry, as int64 of its shape."""
    path = golden_dir / entry["path"]
    try:
        words, _ = read_words(path.read_bytes(), entry["format"], tuple(entry["shape"]), entry["dtype"],
                              entry["word_bits"], str(path))
    except (OSError, WordFileError) as exc:
        raise RefimplError(f"{path}: {exc}") from None
    return np.asarray(words, dtype=np.int64).reshape(entry["shape"])


@dataclass
class Tile:
    """One golden tile: mac_tile.v parameters and the words its memories hold."""
    layer: str
    index: int
    parameters: dict            # mac_tile.v parameter name -> int
    inputs: np.ndarray          # (TK, IN_ROWS, IN_COLS) int16 patch
    weights: np.ndarray         # (M, TK, K, K) int16
    init: np.ndarray            # (M,) bias words (first chunk) or (M, OUT_ROWS, OUT_COLS) psums in
    shifts: list                # M requantization shifts (one per lane)
    bias_shifts: list           # M bias alignment shifts
    files: dict = field(default_factory=dict)   # 'psums', 'outputs' (last chunk only): golden stems


def _lanes(value, m: int, name: str, where: str) -> list:
    vals = value if isinstance(value, list) else [value] * m
    if len(vals) != m or not all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 62 for v in vals):
        raise RefimplError(f"{where}: {name} {value!r} is not an integer within -62..62 or a list of {m} of them")
    return vals


def _golden_tile(golden_dir: Path, layer: str, index: int) -> tuple:
    """(manifest entries, the tile's record, 'DIR: tile L/I') of a verified golden set."""
    entries, doc = _entries(golden_dir)
    tiles = {(l["name"], t["index"]): t for l in doc.get("layers", []) for t in l.get("tiles") or []}
    if (layer, index) not in tiles:
        raise RefimplError(f"{golden_dir}: no tile {layer}/{index} (tiles: "
                           f"{', '.join(f'{a}/{b}' for a, b in tiles) or 'none'})")
    return entries, tiles[layer, index], f"{golden_dir}: tile {layer}/{index}"


def load_tile(golden_dir, layer: str, index: int) -> Tile:
    """The tile ``index`` of ``layer`` in a verified golden set (RefimplError naming what is missing)."""
    golden_dir = Path(golden_dir)
    entries, t, where = _golden_tile(golden_dir, layer, index)
    p = t["params"]
    params = {name: int(p[key]) for key, name in INT_PARAMS.items()}
    params.update(ROUNDING=ROUNDING[p["rounding"]], OVERFLOW=OVERFLOW[p["overflow"]],
                  FIRST_CHUNK=int(t["first_chunk"]), LAST_CHUNK=int(t["last_chunk"]))
    f = t["files"]
    init_stem = f["bias"] if t["first_chunk"] else t["psums_in"]
    files = {"psums": f["psums"]} | ({"outputs": f["outputs"]} if t["last_chunk"] else {})
    return Tile(layer, index, params, read_tensor(golden_dir, entries[f["inputs"]]),
                read_tensor(golden_dir, entries[f["weights"]]), read_tensor(golden_dir, entries[init_stem]),
                _lanes(p["shift"], params["M"], "shift", where), _lanes(p["bias_shift"], params["M"], "bias_shift", where),
                files)


@dataclass
class ArrayTile:
    """The per-pass vectors of one golden tile (one first input-channel chunk) for array_ctrl.v.

    A set written with ``--passes all`` runs the whole tile (M, NPIX as the tile's); one written with
    ``--passes first:N`` runs its first N passes, which must lie in channel block 0 (N <= the pixel
    blocks): array_ctrl.v then runs a tile of min(M, ROWS) channels x N*COLS pixels (NPIX as the tile's
    when N is all the pixel blocks), whose passes are exactly those N."""
    layer: str
    index: int
    parameters: dict            # array_ctrl.v parameter name -> int
    w_stream: np.ndarray        # (P, K, ROWS) int16: step k of pass p entering the rows
    x_stream: np.ndarray        # (P, K, COLS) int16: entering the columns
    bias: np.ndarray            # (M,) bias words of the tile
    shifts: list                # M requantization shifts
    bias_shifts: list           # M bias alignment shifts
    cycles: int                 # start edge to the last write (refimpl/array/timing.py)
    whole: bool                 # all the tile's passes (the tile's psums/outputs files are checked too)
    out_cols: int               # tile output width: pixel q is (row q // out_cols, col q % out_cols)
    files: dict = field(default_factory=dict)   # 'psums_end', 'pass_outputs', 'psums', 'outputs': golden stems


def load_array_tile(golden_dir, layer: str, index: int) -> ArrayTile:
    """Tile ``index`` of ``layer`` with pass vectors in a verified golden set (RefimplError naming the problem)."""
    golden_dir = Path(golden_dir)
    entries, t, where = _golden_tile(golden_dir, layer, index)
    ps, p = t.get("passes"), t["params"]
    if not isinstance(ps, dict):
        raise RefimplError(f"{where} has no pass vectors (write the set with refimpl golden --passes all or first:N)")
    if not t["first_chunk"]:
        raise RefimplError(f"{where} is not a first input-channel chunk (the run starts from the bias; "
                           f"chunk sequences: tools/rtl/cosim_array.sh)")
    rows, cols, count, npb = ps["rows"], ps["cols"], ps["count"], ps["n_pixel_blocks"]
    whole = count == ps["total"]
    if not whole and count > npb:
        raise RefimplError(f"{where}: {count} of {ps['total']} passes written; a partial run must stay in channel "
                           f"block 0 (at most {npb} passes, or --passes all)")
    m = ps["m"] if whole else min(ps["m"], rows)
    npix = ps["pixels"] if whole or count == npb else count * cols
    params = dict(ROWS=rows, COLS=cols, M=m, NPIX=npix, ACC_BITS=int(p["acc_bits"]), BIAS_BITS=int(p["bias_bits"]),
                  ROUNDING=ROUNDING[p["rounding"]], OVERFLOW=OVERFLOW[p["overflow"]], RELU=int(bool(p["relu"])))
    pf, f = ps["files"], t["files"]
    files = {"psums_end": pf["psums_end"]} | ({"pass_outputs": pf["outputs"]} if t["last_chunk"] else {})
    if whole:
        files |= {"psums": f["psums"]} | ({"outputs": f["outputs"]} if t["last_chunk"] else {})
    timing = ps["timing"] if whole else tile_timing(count, ps["kc"], rows, cols).as_dict()
    return ArrayTile(layer, index, params, read_tensor(golden_dir, entries[pf["w_stream"]]),
                     read_tensor(golden_dir, entries[pf["x_stream"]]), read_tensor(golden_dir, entries[f["bias"]]),
                     _lanes(p["shift"], ps["m"], "shift", where), _lanes(p["bias_shift"], ps["m"], "bias_shift", where),
                     int(timing["cycles"]), whole, int(p["out_cols"]), files)


class Scoreboard:
    """Counts every observed word of the given golden tensors against its expected value."""

    def __init__(self, golden_dir, stems, max_report: int = 10):
        self.golden_dir, self.max_report = Path(golden_dir), max_report
        entries, _ = _entries(self.golden_dir)
        self.entries = {s: entries[s] for s in stems}
        self.want = {s: read_tensor(self.golden_dir, e) for s, e in self.entries.items()}
        self.got = {s: np.zeros(w.shape, np.int64) for s, w in self.want.items()}
        self.seen = {s: np.zeros(w.shape, np.int64) for s, w in self.want.items()}
        self.xz = {s: np.zeros(w.shape, bool) for s, w in self.want.items()}

    def check(self, stem: str, index: tuple, got: int | None):
        """One observed word at ``index`` (the tensor's axes); None is an X/Z word."""
        self.seen[stem][index] += 1
        self.xz[stem][index] = got is None
        self.got[stem][index] = 0 if got is None else got

    def results(self) -> list:
        """[FileResult] in path order, as compare reports them (rel = the golden hex path)."""
        out = []
        for stem, want in sorted(self.want.items()):
            e, rel = self.entries[stem], f"{stem}.hex"
            bad = np.flatnonzero(((self.got[stem] != want) | self.xz[stem]) & (self.seen[stem] > 0))
            r = FileResult(rel, want.size, int(bad.size), int(self.xz[stem].sum()))
            for i in bad[:self.max_report]:
                idx = np.unravel_index(int(i), want.shape)
                r.first.append(mismatch_line(rel, e["axes"], idx, want[idx], self.got[stem][idx], e["word_bits"],
                                             bool(self.xz[stem][idx])))
            out.append(r)
        return out

    def report(self) -> tuple:
        """(report lines, ok): compare's lines per tensor, then the words not seen exactly once."""
        lines, ok = [], True
        for r in self.results():
            lines.append(file_line(r))
            lines += [f"  {line}" for line in r.first]
            ok &= r.mismatches == 0
        for stem, seen in self.seen.items():
            for what, n in (("never observed", int((seen == 0).sum())), ("observed more than once",
                                                                          int((seen > 1).sum()))):
                if n:
                    lines.append(f"MISSING  {stem}.hex: {n} of {seen.size} words {what}")
                    ok = False
        return lines, ok

    def write_dumps(self, folder):
        """The observed words as hex files at the golden paths under ``folder`` ($writememh style,
        x digits for X/Z): what ``refimpl compare GOLDEN folder`` reads."""
        for stem, got in self.got.items():
            bits = int(self.entries[stem]["word_bits"])
            digits, mask = hex_digits(bits), (1 << bits) - 1
            words = ["x" * digits if z else f"{int(v) & mask:0{digits}x}"
                     for v, z in zip(got.reshape(-1), self.xz[stem].reshape(-1))]
            path = Path(folder) / f"{stem}.hex"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(w + "\n" for w in words))
