"""Cross-check of refimpl's cycle model against SCALE-Sim (output-stationary), AlexNet conv1..conv5.

    pip install scalesim==3.0.0        # a dependency of this tool only, not of refimpl
    python tools/scalesim_compare.py [--markdown] [--profile paper-28nm] [--jobs N]
                                     [--timeout SECONDS] [--layers conv1,conv3]

What it does
  1. Reads the array size, buffer sizes, DRAM bandwidth and clock of a refimpl
     profile (``refimpl.profile.load_profile``); every value can be overridden on
     the command line, and if refimpl cannot be imported the options (defaulting
     to the paper-28nm values) are used instead.
  2. Writes a SCALE-Sim config (.cfg), a conv topology CSV and a (required,
     unused) layout CSV for AlexNet conv1..conv5 (BVLC/Caffe geometry) into a
     temporary directory, runs SCALE-Sim through its Python API, one layer per
     worker process, and reads each layer's COMPUTE_REPORT.csv.  The temporary
     directory is deleted afterwards; nothing is written into the repository.
  3. Computes our figures with ``refimpl.cost.network_cost`` and prints one
     table (``--markdown``: a Markdown table for the README).

Mapping our geometry onto SCALE-Sim
  * SCALE-Sim has no padding: it is given the padded ifmap (conv2 27+2*2 = 31,
    conv3..5 13+2*1 = 15), so its output sizes equal ours (27x27, 13x13).
  * SCALE-Sim has no groups: for conv2, conv4, conv5 (groups = 2) ONE group is
    simulated (Channels = Cin/2, Num Filter = Cout/2) and all its cycle counts
    are multiplied by 2 (the groups run one after the other on the array).
  * SCALE-Sim's word is 1 byte (``word_size = 1`` in single_layer_sim.run) and
    its SRAM sizes are in units of 1024 words; ours are 16-bit words.  So the
    SRAM "kB" values and the bandwidth (words/cycle) passed to SCALE-Sim are
    counts of OUR 16-bit words: feature buffer 128 KiB = 64 Ki words, split
    half ifmap (32) / half ofmap (32); weight buffer 64 KiB = 32 Ki words
    (FilterSramSzkB 32); 12.8 GB/s / 200 MHz = 64 B/cycle = 32 words/cycle.
  * SCALE-Sim gives the ifmap, filter and ofmap SRAMs separate DRAM interfaces,
    each with the full bandwidth (USER mode: ifmap uses IfmapSRAMBankBandwidth,
    filter FilterSRAMBankBandwidth, ofmap Bandwidth[0]); ours is one shared channel.

SCALE-Sim's OS model (scalesim 3.0.0, compute/systolic_compute_os.py and
topology_utils.calc_spatio_temporal_params): operand matrices are im2col'd;
Sr = output pixels (Ho*Wo) go to the array ROWS, Sc = filters to the COLUMNS,
T = K = Cin*kh*kw is the temporal dimension.  Folds = ceil(Sr/rows)*ceil(Sc/cols),
each fold takes T + rows + cols - 2 cycles (operands skewed in over rows-1 and
cols-1 cycles, outputs drained before the next fold starts), so with no stalls
SCALE-Sim reports Total Cycles = folds * (K + rows + cols - 2) - 1.
Ours: passes of 12 channels x 12 pixels, K cycles each, no fill/drain skew.
Stalls (memory/double_buffered_scratchpad_mem.service_memory_requests,
memory/read_buffer.py): each operand's SRAM is a double buffer (active half /
prefetch half, active_buf_frac 0.5) filled from DRAM in a FIXED order (ifmap:
row folds in turn; filter: column folds in turn), Bandwidth words per cycle per
interface.  A demanded word that is not in the active half triggers prefetches
until it is; the array then stalls as a whole by the largest delay of the three
operands.  A filter fold (K x cols words) larger than the active half is not
kept for the next row fold: the buffer cycles through the whole filter stream
again, which makes conv3..5 DRAM-bound in SCALE-Sim (a note names such layers).

Run time: about 5 minutes on 2 cores for conv1..conv5 (the per-cycle Python
loop of SCALE-Sim); --timeout (default 3600 s) bounds it, --jobs sets workers.

Compatibility shims applied inside the worker processes (semantics unchanged):
  * numpy >= 2.4 refuses ``int()`` of a 1-element 1-D array, which scalesim
    3.0.0 does as ``int(max(ndarray))`` in memory/read_buffer.py and
    memory/double_buffered_scratchpad_mem.py; those two modules get a ``max``
    that returns the single element as a scalar (what int() used to take).
  * ``tqdm(..., disable=True)`` is constructed once per simulated cycle line
    (about a third of SCALE-Sim's run time); with disable=True it is replaced by
    the bare iterable / a no-op bar.
  * read_buffer.new_prefetch grows the DRAM trace with np.concatenate, copying
    it on every prefetch (quadratic; conv3 did not finish in an hour); the
    trace is kept as appended chunks and joined once when read.
  Checked: conv5 (one group) gives identical COMPUTE_REPORT numbers with all
  shims under numpy 2.4 and with none under numpy 2.3.5; conv4 (one group)
  gives identical numbers with and without the trace shim.

Exit status: 0 on success, 1 if SCALE-Sim failed or hit --timeout, 2 if
scalesim is not installed or the options are invalid.
"""
from __future__ import annotations

import argparse
import builtins
import contextlib
import csv
import dataclasses
import importlib
import importlib.metadata
import math
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout, like tools/bench.py

SCALESIM_DIST = "scalesim"          # PyPI distribution name (https://pypi.org/project/scalesim/)
SCALESIM_TESTED = "3.0.0"           # the version this tool's config/report parsing was written against

# Fallback hardware values = refimpl/profiles/paper-28nm.toml (used only when refimpl is not importable
# and no option is given); the sources are in that file's comments.
FALLBACK_PROFILE = "paper-28nm"     # refimpl.profile.DEFAULT_PROFILE
FALLBACK_ROWS = 12                  # [array] rows: output channels in parallel
FALLBACK_COLS = 12                  # [array] cols: output pixels in parallel
FALLBACK_FEATURE_KIB = 128.0        # [buffer] feature_kib: ifmap tile + ofmap/psum tile
FALLBACK_WEIGHT_KIB = 64.0          # [buffer] weight_kib
FALLBACK_GBPS = 12.8                # [dram] gbps: LPDDR4 x32 at 3200 MT/s
FALLBACK_CLOCK_MHZ = 200.0          # [array] clock_mhz: Eyeriss JSSC 2017 core clock
WORD_BYTES = 2                      # 16-bit words: refimpl numeric contract (profile array.word_bits = 16)

# Share of our feature buffer given to SCALE-Sim's IFMAP SRAM; the rest is its OFMAP SRAM.  Our
# feature buffer holds the ifmap tile and the ofmap/psum tile (paper-28nm.toml, [buffer] comment);
# an even split is this tool's choice (SCALE-Sim needs two separate sizes).
DEFAULT_IFMAP_SHARE = 0.5

# SCALE-Sim config values that are not hardware sizes.  Sources: scalesim 3.0.0 scale_config.py
# (read_conf_file: every key below is read unconditionally) and the repository's configs/scale.cfg.
SS_IFMAP_OFFSET = 0                 # configs/scale.cfg IfmapOffset (address-space base of the ifmap)
SS_FILTER_OFFSET = 10000000         # configs/scale.cfg FilterOffset
SS_OFMAP_OFFSET = 20000000          # configs/scale.cfg OfmapOffset
SS_REQUEST_BUFFER = 512             # configs/scale.cfg Read/WriteRequestBuffer (used only with Ramulator)
SS_BANKS = 1                        # one bank: read_buffer.set_params asserts bandwidth % banks == 0
SS_BANK_PORTS = 2                   # scale_config default ifmap/filter_sram_bank_port (layout mode only)
SS_RUN_NAME = "refimpl_xcheck"      # [general] run_name: the report subdirectory SCALE-Sim creates

# AlexNet conv1..conv5, BVLC/Caffe geometry.  Source: BVLC reference deploy.prototxt (Krizhevsky et al.,
# NIPS 2012, Caffe's two-group convolutions), the same geometry as refimpl/networks/alexnet.py.
# name, input H=W, Cin, Cout, kernel, stride, pad, groups
ALEXNET_CONVS = (
    ("conv1", 227, 3, 96, 11, 4, 0, 1),
    ("conv2", 27, 96, 256, 5, 1, 2, 2),
    ("conv3", 13, 256, 384, 3, 1, 1, 1),
    ("conv4", 13, 384, 384, 3, 1, 1, 2),
    ("conv5", 13, 384, 256, 3, 1, 1, 2),
)


@dataclasses.dataclass(frozen=True)
class Conv:
    name: str
    hw: int
    cin: int
    cout: int
    k: int
    stride: int
    pad: int
    groups: int

    @property
    def padded(self) -> int:
        return self.hw + 2 * self.pad

    @property
    def out(self) -> int:
        return (self.padded - self.k) // self.stride + 1

    @property
    def window(self) -> int:           # K: products per output, per group
        return self.cin // self.groups * self.k * self.k

    @property
    def macs(self) -> int:
        return self.out * self.out * self.cout * self.window

    def topology_row(self) -> str:
        """One SCALE-Sim conv topology row (one group; padded ifmap; trailing comma required)."""
        # columns: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
        #          Num Filter, Strides  (topology_utils.load_arrays_conv drops the last field)
        return (f"{self.name},{self.padded},{self.padded},{self.k},{self.k},"
                f"{self.cin // self.groups},{self.cout // self.groups},{self.stride},")

    def folds(self, rows: int, cols: int) -> int:
        """SCALE-Sim OS folds of one group: output pixels on rows, filters on columns."""
        return math.ceil(self.out * self.out / rows) * math.ceil(self.cout // self.groups / cols)

    def formula_cycles(self, rows: int, cols: int) -> int:
        """SCALE-Sim's stall-free 'Total Cycles' for the whole layer (all groups)."""
        return self.groups * (self.folds(rows, cols) * (self.window + rows + cols - 2) - 1)


CONVS = tuple(Conv(*c) for c in ALEXNET_CONVS)

TOPOLOGY_HEADER = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,"
# layout_utils.load_layout_conv always opens the layout file; with IfmapCustomLayout/FilterCustomLayout
# False its rows are never read, so a header-only file (the header of layout_utils.write_layout_file) suffices.
LAYOUT_HEADER = ("Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,"
                 "Filter Height Intraline Factor,Filter Width Intraline Factor,Channel Intraline Factor,"
                 "Num Filter Intraline Factor,")


@dataclasses.dataclass(frozen=True)
class Hardware:
    source: str
    rows: int
    cols: int
    feature_kib: float
    weight_kib: float
    gbps: float
    clock_mhz: float
    ifmap_share: float

    @property
    def words_per_cycle(self) -> int:
        return max(1, int(self.gbps * 1e9 / (self.clock_mhz * 1e6) / WORD_BYTES))

    def sram_kwords(self) -> tuple:
        """(ifmap, filter, ofmap) SRAM sizes in SCALE-Sim 'kB' = 1024 SCALE-Sim words = 1024 of our words."""
        feature_kwords = self.feature_kib / WORD_BYTES
        ifmap = max(1, int(feature_kwords * self.ifmap_share))
        ofmap = max(1, int(feature_kwords - ifmap))
        return ifmap, max(1, int(self.weight_kib / WORD_BYTES)), ofmap


def scalesim_config(hw: Hardware) -> str:
    """SCALE-Sim 3.0.0 .cfg text (every section and key that scale_config.read_conf_file reads)."""
    ifmap, filt, ofmap = hw.sram_kwords()
    bw = hw.words_per_cycle
    return f"""[general]
run_name = {SS_RUN_NAME}

[architecture_presets]
ArrayHeight: {hw.rows}
ArrayWidth: {hw.cols}
IfmapSramSzkB: {ifmap}
FilterSramSzkB: {filt}
OfmapSramSzkB: {ofmap}
IfmapOffset: {SS_IFMAP_OFFSET}
FilterOffset: {SS_FILTER_OFFSET}
OfmapOffset: {SS_OFMAP_OFFSET}
Bandwidth: {bw}
Dataflow: os
ReadRequestBuffer: {SS_REQUEST_BUFFER}
WriteRequestBuffer: {SS_REQUEST_BUFFER}

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bw}
IfmapSRAMBankNum: {SS_BANKS}
IfmapSRAMBankPort: {SS_BANK_PORTS}
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bw}
FilterSRAMBankNum: {SS_BANKS}
FilterSRAMBankPort: {SS_BANK_PORTS}

[sparsity]
SparsitySupport: false

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


# ---------------------------------------------------------------- SCALE-Sim side (worker processes)

class _NoBar:
    def update(self, *_):
        pass

    def close(self):
        pass


class _AppendOnlyTrace:
    """Stand-in for ``read_buffer.trace_matrix`` (the DRAM read trace, cycle + addresses per row).

    scalesim's read_buffer.new_prefetch does ``trace = np.concatenate((trace, new_rows), axis=0)``
    once per prefetch, copying the whole trace each time: quadratic in the DRAM traffic (conv4 of
    AlexNet: 610 of 721 s).  Here that concatenation appends a chunk; any other use (indexing,
    np.amin/amax, savetxt) sees the same ndarray, built once.
    """

    def __init__(self, first):
        self.chunks = [first]

    def array(self):
        if len(self.chunks) > 1:
            import numpy as np
            self.chunks = [np.concatenate(self.chunks, axis=0)]
        return self.chunks[0]

    def __array_function__(self, func, types, args, kwargs):
        import numpy as np
        if (func is np.concatenate and not kwargs.get("axis", args[1] if len(args) > 1 else 0)
                and len(args[0]) == 2 and args[0][0] is self):
            self.chunks.append(np.asarray(args[0][1]))
            return self
        args = tuple(a.array() if isinstance(a, _AppendOnlyTrace) else a for a in args)
        return func(*args, **kwargs)

    def __array__(self, dtype=None, copy=None):
        a = self.array()
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, key):
        return self.array()[key]

    @property
    def shape(self):
        return self.array().shape


def _install_shims():
    """Compatibility/speed shims for scalesim 3.0.0 (see the module docstring); results unchanged."""
    import numpy as np
    import tqdm as tqdm_mod
    from scalesim.compute import systolic_compute_os
    from scalesim.memory import double_buffered_scratchpad_mem, read_buffer, write_buffer

    prefetch_active_buffer = read_buffer.read_buffer.prefetch_active_buffer

    def prefetch_active_buffer_chunked(self, start_cycle):
        out = prefetch_active_buffer(self, start_cycle)
        self.trace_matrix = _AppendOnlyTrace(self.trace_matrix)
        return out

    if not getattr(read_buffer.read_buffer, "_refimpl_shimmed", False):
        read_buffer.read_buffer.prefetch_active_buffer = prefetch_active_buffer_chunked
        read_buffer.read_buffer._refimpl_shimmed = True

    def scalar_max(*args, **kwargs):
        r = builtins.max(*args, **kwargs)
        return r.item() if isinstance(r, np.ndarray) and r.size == 1 else r

    def quiet_tqdm(iterable=None, *args, disable=False, **kwargs):
        if not disable:
            return tqdm_mod.tqdm(iterable, *args, disable=disable, **kwargs)
        return _NoBar() if iterable is None else iterable

    for mod in (read_buffer, double_buffered_scratchpad_mem):
        mod.max = scalar_max
    for mod in (read_buffer, write_buffer, double_buffered_scratchpad_mem, systolic_compute_os):
        mod.tqdm = quiet_tqdm


def _read_compute_report(path: Path) -> dict:
    """COMPUTE_REPORT.csv (simulator.generate_reports): one row per layer, columns
    LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %,
    Mapping Efficiency %, Compute Util %."""
    with open(path, newline="") as fh:
        rows = [[c.strip() for c in r] for r in csv.reader(fh) if r]
    header, data = rows[0], rows[1]
    rec = dict(zip(header, data))
    return dict(total_incl_prefetch=int(float(rec["Total Cycles (incl. prefetch)"])),
                total=int(float(rec["Total Cycles"])), stall=int(float(rec["Stall Cycles"])),
                overall_util=float(rec["Overall Util %"]), mapping_eff=float(rec["Mapping Efficiency %"]),
                compute_util=float(rec["Compute Util %"]))


def run_scalesim_layer(conv: Conv, hw: Hardware, workdir: str) -> dict:
    """Run SCALE-Sim on ONE group of ``conv`` inside ``workdir``; COMPUTE_REPORT values + run time.

    Runs in a worker process: SCALE-Sim prints progress and calls exit() on bad inputs, so its
    output goes to ``workdir``/scalesim.log and the working directory is ``workdir``.
    """
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    cfg, topo, layout = wd / "refimpl.cfg", wd / "alexnet_conv.csv", wd / "layout.csv"
    cfg.write_text(scalesim_config(hw))
    topo.write_text(TOPOLOGY_HEADER + "\n" + conv.topology_row() + "\n")
    layout.write_text(LAYOUT_HEADER + "\n")
    os.chdir(wd)
    t0 = time.monotonic()
    with open(wd / "scalesim.log", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        from scalesim.scale_sim import scalesim
        _install_shims()
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                       layout=str(layout), input_type_gemm=False)
        sim.run_scale(top_path=str(wd / "out"))
    rec = _read_compute_report(wd / "out" / SS_RUN_NAME / "COMPUTE_REPORT.csv")
    rec["seconds"] = time.monotonic() - t0
    return rec


def _worker(args):
    conv, hw, workdir = args
    try:
        return conv.name, run_scalesim_layer(conv, hw, workdir), None
    except BaseException as exc:      # SystemExit from scalesim's exit() included
        log = Path(workdir) / "scalesim.log"
        tail = log.read_text().strip().splitlines()[-3:] if log.exists() else []
        return conv.name, None, f"{type(exc).__name__}: {exc} {' | '.join(tail)}".strip()


def scalesim_cycles(convs, hw: Hardware, jobs: int, timeout: float, log=sys.stderr) -> tuple:
    """SCALE-Sim per-layer results, all groups included (one group simulated, counts x groups).

    Returns ({name: record}, {name: error}); records hold total, stall, compute (= total - stall),
    total_incl_prefetch, utilizations, per-group seconds and the groups factor.
    """
    results, errors = {}, {}
    # longest first: work ~ folds * (K + rows + cols) cycle lines, one Python step each
    order = sorted(convs, key=lambda c: -c.folds(hw.rows, hw.cols) * (c.window + hw.rows + hw.cols))
    with tempfile.TemporaryDirectory(prefix="scalesim_xcheck_") as tmp:
        pool = multiprocessing.Pool(processes=max(1, min(jobs, len(order))))
        try:
            pending = {c.name: (c, pool.apply_async(_worker, ((c, hw, os.path.join(tmp, c.name)),)))
                       for c in order}
            deadline = time.monotonic() + timeout
            for name, (conv, res) in pending.items():
                try:
                    _, rec, err = res.get(timeout=max(0.0, deadline - time.monotonic()))
                except multiprocessing.TimeoutError:
                    errors[name] = f"not finished within --timeout {timeout:g} s"
                    continue
                if err:
                    errors[name] = err
                    continue
                g = conv.groups
                results[name] = dict(
                    groups=g, seconds=rec["seconds"], total=g * rec["total"], stall=g * rec["stall"],
                    compute=g * (rec["total"] - rec["stall"]),
                    total_incl_prefetch=g * rec["total_incl_prefetch"],
                    overall_util=rec["overall_util"], mapping_eff=rec["mapping_eff"])
                print(f"  SCALE-Sim {name}: {rec['seconds']:.0f} s", file=log, flush=True)
        finally:
            pool.terminate()
            pool.join()
    return results, errors


# ---------------------------------------------------------------- our side

def hardware_from_args(args) -> tuple:
    """(Hardware, profile for our side, note): the refimpl profile's values, overridden by any
    explicit option; the same overrides are applied to the profile our figures are computed with."""
    prof, note = None, ""
    try:
        from refimpl import profile as rprofile
        prof = rprofile.load_profile(args.profile)
    except Exception as exc:          # refimpl missing, or a bad profile name/file
        note = f"refimpl profile unavailable ({type(exc).__name__}: {exc}); using command-line values"

    def pick(opt, from_prof, fallback):
        if opt is not None:
            return opt
        return from_prof() if prof is not None else fallback

    overridden = any(getattr(args, k) is not None
                     for k in ("rows", "cols", "feature_kib", "weight_kib", "gbps", "clock_mhz"))
    hw = Hardware(
        source=(prof.name if prof is not None else "command line") +
               (" + command-line overrides" if prof is not None and overridden else ""),
        rows=pick(args.rows, lambda: prof.array.rows, FALLBACK_ROWS),
        cols=pick(args.cols, lambda: prof.array.cols, FALLBACK_COLS),
        feature_kib=pick(args.feature_kib, lambda: prof.buffer.feature_kib, FALLBACK_FEATURE_KIB),
        weight_kib=pick(args.weight_kib, lambda: prof.buffer.weight_kib, FALLBACK_WEIGHT_KIB),
        gbps=pick(args.gbps, lambda: prof.dram.gbps, FALLBACK_GBPS),
        clock_mhz=pick(args.clock_mhz, lambda: prof.array.clock_mhz, FALLBACK_CLOCK_MHZ),
        ifmap_share=args.ifmap_share)
    if prof is not None and overridden:
        prof = dataclasses.replace(
            prof, name=prof.name + "+overrides",
            array=dataclasses.replace(prof.array, rows=hw.rows, cols=hw.cols, macs=hw.rows * hw.cols,
                                      clock_mhz=hw.clock_mhz),
            buffer=dataclasses.replace(prof.buffer, feature_kib=hw.feature_kib, weight_kib=hw.weight_kib),
            dram=dataclasses.replace(prof.dram, gbps=hw.gbps))
    return hw, prof, note


def our_cycles(prof) -> tuple:
    """({layer name: record from refimpl.cost.network_cost}, note)."""
    if prof is None:
        return {}, "our figures unavailable: no refimpl profile"
    try:
        from refimpl import cost, networks
        report = cost.network_cost(networks.get("alexnet"), prof)
    except Exception as exc:
        return {}, f"our figures unavailable ({type(exc).__name__}: {exc})"
    return {rec["name"]: rec for rec in report["layers"]}, ""


# ---------------------------------------------------------------- output

def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return f"{v:,}"


def build_rows(convs, ss: dict, ours: dict) -> list:
    rows, tot = [], dict(macs=0, ss_total=0, ss_pref=0, ss_comp=0, o_comp=0, o_total=0)
    complete = True
    for c in convs:
        s, o = ss.get(c.name), ours.get(c.name)
        macs = o["macs"] if o else c.macs
        r = dict(layer=c.name + (f" (x{c.groups} groups)" if c.groups > 1 else ""), macs=macs,
                 ss_total=s and s["total"], ss_pref=s and s["total_incl_prefetch"],
                 ss_comp=s and s["compute"], o_comp=o and o["compute_cycles"], o_total=o and o["cycles"])
        r["ratio_total"] = r["ss_total"] / r["o_total"] if s and o else None
        r["ratio_comp"] = r["ss_comp"] / r["o_comp"] if s and o else None
        rows.append(r)
        if s and o:
            for k in tot:
                tot[k] += r[k]
        else:
            complete = False
    if complete and rows:
        tot.update(layer="total", ratio_total=tot["ss_total"] / tot["o_total"],
                   ratio_comp=tot["ss_comp"] / tot["o_comp"])
        rows.append(tot)
    return rows


COLUMNS = (("layer", "layer"), ("macs", "MACs"), ("ss_total", "SCALE-Sim total"),
           ("ss_pref", "SCALE-Sim total incl. prefetch"), ("ss_comp", "SCALE-Sim compute-only"),
           ("o_comp", "ours compute"), ("o_total", "ours total"),
           ("ratio_total", "SCALE-Sim/ours total"), ("ratio_comp", "SCALE-Sim/ours compute"))


def render(rows, markdown: bool) -> str:
    cells = [[h for _, h in COLUMNS]] + [[r[k] if k == "layer" else _fmt(r[k]) for k, _ in COLUMNS]
                                         for r in rows]
    if markdown:
        out = ["| " + " | ".join(cells[0]) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + " |"]
        out += ["| " + " | ".join(r) + " |" for r in cells[1:]]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in cells)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    ap.add_argument("--profile", default=FALLBACK_PROFILE, help="refimpl profile name or .toml path")
    ap.add_argument("--rows", type=int, help="array rows (default: profile array.rows)")
    ap.add_argument("--cols", type=int, help="array cols (default: profile array.cols)")
    ap.add_argument("--feature-kib", type=float, help="feature buffer KiB (default: profile buffer.feature_kib)")
    ap.add_argument("--weight-kib", type=float, help="weight buffer KiB (default: profile buffer.weight_kib)")
    ap.add_argument("--gbps", type=float, help="DRAM GB/s (default: profile dram.gbps)")
    ap.add_argument("--clock-mhz", type=float, help="clock MHz (default: profile array.clock_mhz)")
    ap.add_argument("--ifmap-share", type=float, default=DEFAULT_IFMAP_SHARE,
                    help="share of the feature buffer given to SCALE-Sim's IFMAP SRAM, rest OFMAP (default 0.5)")
    ap.add_argument("--layers", default=",".join(c.name for c in CONVS), help="comma-separated subset of conv1..conv5")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="SCALE-Sim worker processes")
    ap.add_argument("--timeout", type=float, default=3600.0, help="wall-clock limit for all SCALE-Sim runs, s")
    args = ap.parse_args(argv)

    try:
        ss_version = importlib.metadata.version(SCALESIM_DIST)
        importlib.import_module("scalesim.scale_sim")
    except ImportError:
        print("error: SCALE-Sim is not installed (pip install scalesim)", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.layers.split(",") if n.strip()]
    by_name = {c.name: c for c in CONVS}
    bad = [n for n in names if n not in by_name]
    if bad or not names:
        print(f"error: --layers: unknown {', '.join(bad) or '(empty)'} (choose from {', '.join(by_name)})",
              file=sys.stderr)
        return 2
    if not 0 < args.ifmap_share < 1 or args.jobs < 1 or args.timeout <= 0:
        print("error: need 0 < --ifmap-share < 1, --jobs >= 1, --timeout > 0", file=sys.stderr)
        return 2
    convs = [by_name[n] for n in names]

    hw, prof, note = hardware_from_args(args)
    if note:
        print(note, file=sys.stderr)
    ifmap_kw, filt_kw, ofmap_kw = hw.sram_kwords()
    print(f"SCALE-Sim {ss_version} (tested with {SCALESIM_TESTED}); hardware from {hw.source}", file=sys.stderr)
    print("running SCALE-Sim ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    ss, errors = scalesim_cycles(convs, hw, args.jobs, args.timeout)
    wall = time.monotonic() - t0
    ours, our_note = our_cycles(prof)

    notes = [
        f"SCALE-Sim {ss_version}, dataflow os, array {hw.rows}x{hw.cols}; IfmapSramSzkB {ifmap_kw}, "
        f"FilterSramSzkB {filt_kw}, OfmapSramSzkB {ofmap_kw}, Bandwidth {hw.words_per_cycle} words/cycle per "
        f"interface (USER mode); 1 SCALE-Sim word = one of our 16-bit words "
        f"({hw.feature_kib:g} KiB feature, {hw.weight_kib:g} KiB weight, {hw.gbps:g} GB/s at {hw.clock_mhz:g} MHz).",
        "SCALE-Sim gets the padded ifmap (no padding in SCALE-Sim); grouped layers: one group simulated, "
        "its cycles x2.",
        "SCALE-Sim total = COMPUTE_REPORT 'Total Cycles' (compute + stalls); compute-only = total - 'Stall Cycles'; "
        "incl. prefetch = 'Total Cycles (incl. prefetch)' (adds the initial SRAM fill and final ofmap drain).",
        f"SCALE-Sim OS cycles without stalls = folds * (K + {hw.rows} + {hw.cols} - 2) - 1 per group; "
        "ours = passes * K (+ DRAM stalls).",
    ]
    checks = []
    for c in convs:
        if c.name in ss:
            f = c.formula_cycles(hw.rows, hw.cols)
            checks.append(f"{c.name} {'=' if f == ss[c.name]['compute'] else '!='} {f:,}")
    if checks:
        notes.append("formula check, SCALE-Sim compute-only vs folds*(K+rows+cols-2)-1: " + "; ".join(checks))
    # read_buffer keeps a fixed prefetch order with active/prefetch halves (single_layer_sim.run:
    # active_buf_frac = 0.5): a filter fold (K x cols words) larger than the active half is not
    # kept for the next row fold; the buffer cycles through the whole filter stream again.
    half_filter = filt_kw * 1024 // 2
    big = [f"{c.name} {c.window * hw.cols:,}" for c in convs if c.window * hw.cols > half_filter]
    if big:
        notes.append(f"filter fold K x {hw.cols} words above half the filter SRAM ({half_filter:,}): "
                     + ", ".join(big) + "; SCALE-Sim re-streams the filter operand from DRAM for every "
                     "row fold, so these layers are DRAM-bound in SCALE-Sim (ours chunks K to fit instead)")
    for c in convs:
        if c.name in ours and ours[c.name]["macs"] != c.macs:
            notes.append(f"warning: {c.name} MACs differ: ours {ours[c.name]['macs']:,}, "
                         f"this tool's geometry {c.macs:,}")
    if ss:
        notes.append("SCALE-Sim run time: " + ", ".join(f"{n} {ss[n]['seconds']:.0f} s" for n in names if n in ss)
                     + f"; wall {wall:.0f} s with {min(args.jobs, len(convs))} worker(s)")
    if our_note:
        notes.append(our_note)
    for n, e in errors.items():
        notes.append(f"SCALE-Sim {n} failed: {e}")

    rows = build_rows(convs, ss, ours)
    print(f"SCALE-Sim version: {ss_version}")
    print(render(rows, args.markdown))
    print()
    for n in notes:
        print(("- " if args.markdown else "") + n)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
