"""Ratio tables: bytes per frame of each partition point and codec.

CSV with the header ``layer,codec,qf,bytes_per_frame,ratio,top1_pct,origin``
(the interface agreed with the accuracy experiments, README "System model"):
one row per (layer, codec[, qf]); ``layer`` a layer of the network or
``input``; ``codec`` raw | lossless | jpeg (at the 1%-loss QF) | jpeg-ft (the
same after split fine-tuning); ``qf`` empty for raw/lossless; bytes_per_frame
the mean bitstream size in bytes, header and side information included;
ratio = 16-bit raw bytes / bytes_per_frame; top1_pct empty when unmeasured;
origin a short free text.  Either of bytes_per_frame and ratio may be empty
(the other gives it); when both are given they must agree with the network's
raw bytes within RATIO_TOLERANCE, which catches a table made for another
network.

Three sources: ``measured`` (refimpl/data/experiments/ratios-alexnet-cifar.csv,
written by ``refimpl experiment``), ``paper`` (built here for a shipped network:
the paper's figures where it gives them, elsewhere alexnet-cifar's measured
ratio of the same stage, every row with its origin) and a user's FILE.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from .. import networks
from ..errors import RefimplError
from ..spec import NetworkSpec
from ..split import bitstream
from . import stages

COLUMNS = ("layer", "codec", "qf", "bytes_per_frame", "ratio", "top1_pct", "origin")
CODECS = ("raw", "lossless", "jpeg", "jpeg-ft")
RATIO_TOLERANCE = 0.01          # |ratio * bytes_per_frame / raw bytes - 1| <= 1 %: tables round their ratios
MEASURED = "data/experiments/ratios-alexnet-cifar.csv"      # inside the package

# The paper's figures (Ko et al., AVSS 2018)
PAPER_INPUT_JPEG = 15.0         # section 4.2: "even with 15x compression of the input features" (QF of 1 % loss)
PAPER_CONV5_JPEG = 28.0         # sections 1 and 3.3: conv5 features "by 28x with 1% accuracy loss"
PAPER_FT_GAIN = 1.11            # section 3.3: fine tuning "further enhances the compression ratio by 11%"

@dataclass(frozen=True)
class Row:
    layer: str
    codec: str
    qf: int | None
    bytes_per_frame: float | None
    ratio: float | None
    top1_pct: float | None
    origin: str


@dataclass(frozen=True)
class Table:
    rows: tuple
    source: str          # file path, 'paper (alexnet)', ...

    def find(self, layer: str, codec: str) -> list:
        return [r for r in self.rows if r.layer == layer and r.codec == codec]


def _number(where: str, key: str, text: str, lo: float, hi: float, integer=False, positive=False):
    if text.strip() == "":
        return None
    try:
        v = int(text) if integer else float(text)
    except ValueError:
        raise RefimplError(f"{where}: {key} '{text}' is not {'an integer' if integer else 'a number'}") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise RefimplError(f"{where}: {key} {text} must be a finite number > 0" if positive else
                           f"{where}: {key} {text} must be a finite number")
    if not lo <= v <= hi:
        raise RefimplError(f"{where}: {key} {text} outside {lo:g}..{hi:g}")
    return v


def parse_rows(lines, where: str) -> tuple:
    reader = csv.reader(lines)
    try:
        head = next(reader)
    except StopIteration:
        raise RefimplError(f"{where}: empty ratio table (header {','.join(COLUMNS)})") from None
    except csv.Error as exc:
        raise RefimplError(f"{where}: not a CSV file ({exc})") from None
    if tuple(h.strip() for h in head) != COLUMNS:
        raise RefimplError(f"{where}: header must be {','.join(COLUMNS)}, got {','.join(head)}")
    rows, seen = [], set()
    try:
        for n, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            at = f"{where}: line {n}"
            if len(cells) != len(COLUMNS):
                raise RefimplError(f"{at}: {len(cells)} fields, the header has {len(COLUMNS)}")
            layer, codec, qf, nbytes, ratio, top1, origin = (c.strip() for c in cells)
            if not layer:
                raise RefimplError(f"{at}: empty layer")
            if codec not in CODECS:
                raise RefimplError(f"{at}: unknown codec '{codec}' (choose from: {', '.join(CODECS)})")
            q = _number(at, "qf", qf, 1, 100, integer=True)
            if q is not None and codec in ("raw", "lossless"):
                raise RefimplError(f"{at}: qf must be empty for codec {codec}")
            b = _number(at, "bytes_per_frame", nbytes, 0, 1e15, positive=True)
            r = _number(at, "ratio", ratio, 0, 1e9, positive=True)
            t = _number(at, "top1_pct", top1, 0, 100)
            if b is None and r is None:
                raise RefimplError(f"{at}: bytes_per_frame and ratio are both empty (give at least one)")
            if not origin:
                raise RefimplError(f"{at}: empty origin (say where the row comes from)")
            key = (layer, codec, q)
            if key in seen:
                raise RefimplError(f"{at}: a second row for layer {layer}, codec {codec}"
                                   + (f", qf {q}" if q is not None else ""))
            seen.add(key)
            rows.append(Row(layer, codec, q, b, r, t, origin))
    except csv.Error as exc:
        raise RefimplError(f"{where}: not a CSV file ({exc})") from None
    if not rows:
        raise RefimplError(f"{where}: ratio table has a header and no rows")
    return tuple(rows)


def read_table(path) -> Table:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise RefimplError(f"{p}: no such ratio table") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RefimplError(f"{p}: unreadable ratio table ({exc})") from None
    return Table(parse_rows(text.splitlines(), str(p)), str(p))


def measured_path() -> Path:
    return Path(str(resources.files("refimpl") / MEASURED))


def read_measured(required: bool = True) -> Table | None:
    """The measured alexnet-cifar table, or one line saying it is not there (None when not required)."""
    p = measured_path()
    if not p.is_file():
        if not required:
            return None
        raise RefimplError(f"{p}: measured ratio table missing (it ships with refimpl, written by "
                           "refimpl experiment; the paper table needs it too); reinstall refimpl or use --ratios FILE")
    return read_table(p)


def to_csv(table: Table) -> str:
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in table.rows:
        w.writerow([r.layer, r.codec, "" if r.qf is None else r.qf,
                    "" if r.bytes_per_frame is None else f"{r.bytes_per_frame:.6g}",
                    "" if r.ratio is None else f"{r.ratio:.6g}", "" if r.top1_pct is None else f"{r.top1_pct:g}",
                    r.origin])
    return buf.getvalue()


# ---------------------------------------------------------------- sizes
def raw_bytes(spec: NetworkSpec, layer: str) -> int:
    """16-bit raw bytes of the map at ``layer`` (2 bytes a value, no header)."""
    return 2 * math.prod(stages.map_shape(spec, layer))


def header_bytes(spec: NetworkSpec, layer: str, codec: str) -> int:
    """Bitstream header bytes of a map at ``layer`` (refimpl/split/bitstream.py)."""
    return bitstream.header_size(bitstream.Header(codec="jpeg" if codec == "jpeg-ft" else codec, network=spec.name,
                                                  layer=layer, shape=stages.map_shape(spec, layer), out_frac=0))


def resolve(spec: NetworkSpec, table: Table, row: Row) -> Row:
    """``row`` with both bytes_per_frame and ratio filled in against ``spec``'s raw size; RefimplError when
    the two disagree (a table made for another network)."""
    raw = raw_bytes(spec, row.layer)
    if row.bytes_per_frame is None:
        return replace(row, bytes_per_frame=raw / row.ratio)
    if row.ratio is None:
        return replace(row, ratio=raw / row.bytes_per_frame)
    implied = row.ratio * row.bytes_per_frame
    if abs(implied / raw - 1) > RATIO_TOLERANCE:
        raise RefimplError(f"{table.source}: layer {row.layer} codec {row.codec}: ratio {row.ratio:g} x "
                           f"{row.bytes_per_frame:g} bytes = {implied:,.0f} raw bytes, but {spec.name}'s {row.layer} "
                           f"has {raw:,} (a table for another network?)")
    return row


# ---------------------------------------------------------------- the paper table
def _borrow(measured: Table, stage: str, codec: str):
    """(ratio, top1, origin) of alexnet-cifar's stage ``stage`` for ``codec``, or None."""
    if not stage:
        return None
    cifar = {key: (lab, cut) for lab, cut, key in stages.STAGES["alexnet-cifar"]}
    if stage not in cifar:
        return None
    label, cut = cifar[stage]
    net = networks.get("alexnet-cifar")
    for layer in dict.fromkeys((cut, label)):
        found = measured.find(layer, codec)
        if len(found) == 1:
            found = [resolve(net, measured, found[0])]
        elif len(found) > 1:
            found = [pick_jpeg(net, measured, found)]
        if found:
            r = found[0]
            return r.ratio, r.top1_pct, (f"alexnet-cifar {layer} {codec}" + (f" q{r.qf}" if r.qf is not None else "")
                                         + f" ({r.origin})")
    return None


def paper_table(spec: NetworkSpec, measured: Table | None = None) -> Table:
    """The ``paper`` table of a shipped network: raw rows exact (16-bit words + header); the input
    picture at 15x (jpeg); the conv5 stage at 28x (jpeg) and 28 x 1.11 (jpeg-ft); every other
    lossless/jpeg entry borrowed from alexnet-cifar's stage with the same key (``measured``, default the
    shipped measured table: ratio and its measured top-1 on the 10,000 test images), each row with its
    origin.  The measured table missing is one line (read_measured)."""
    measured = measured if measured is not None else read_measured()
    rows = []
    for p in stages.points(spec):
        if p.kind == "edge-only":
            continue
        raw = raw_bytes(spec, p.layer)
        hdr = header_bytes(spec, p.layer, "raw")
        rows.append(Row(p.layer, "raw", None, float(raw + hdr), raw / (raw + hdr), None,
                        f"exact: {raw:,} bytes of 16-bit words + {hdr}-byte bitstream header"))
        if p.kind == "host-only":
            rows.append(Row(p.layer, "jpeg", None, None, PAPER_INPUT_JPEG, None,
                            "paper section 4.2: input picture 15x against 16 bits, QF of 1 % loss"))
            continue
        for codec in ("lossless", "jpeg", "jpeg-ft"):
            if p.stage == "s5" and codec in ("jpeg", "jpeg-ft"):
                ratio = PAPER_CONV5_JPEG * (PAPER_FT_GAIN if codec == "jpeg-ft" else 1.0)
                how = "28x at 1 % loss (sections 1, 3.3)" + (", x1.11 after fine-tuning (section 3.3)"
                                                              if codec == "jpeg-ft" else "")
                where = "" if spec.name == "alexnet" else "; AlexNet's conv5 figure used for this network's last conv stage"
                rows.append(Row(p.layer, codec, None, None, ratio, None, f"paper conv5 stage: {how}{where}"))
                continue
            if codec == "jpeg-ft":
                continue                    # fine-tuning figures exist for the conv5 stage only
            got = _borrow(measured, p.stage, codec)
            if got is None:
                continue
            ratio, top1, origin = got
            rows.append(Row(p.layer, codec, None, None, ratio, top1, f"{origin}, ratio and top-1 of the same stage"
                            if spec.name != "alexnet-cifar" else origin))
    return Table(tuple(rows), f"paper ({spec.name}, measured alexnet-cifar elsewhere)")


# ---------------------------------------------------------------- choosing a row
def pick_jpeg(spec: NetworkSpec, table: Table, rows: list) -> Row:
    """Of several jpeg rows of one layer, the 1%-loss operating point: the largest ratio whose top-1 is
    within 1 point of the layer's lossless (else raw) top-1."""
    layer = rows[0].layer
    ref = [r.top1_pct for c in ("lossless", "raw") for r in table.find(layer, c) if r.top1_pct is not None]
    if not ref or any(r.top1_pct is None for r in rows):
        raise RefimplError(f"{table.source}: {len(rows)} jpeg rows for layer {layer} and no top-1 to choose "
                           "the 1 %-loss point (give one jpeg row, or top1_pct on every jpeg row and a lossless row)")
    ok = [r for r in rows if r.top1_pct >= ref[0] - 1.0]
    if not ok:
        raise RefimplError(f"{table.source}: no jpeg row of layer {layer} is within 1 point of its lossless "
                           f"top-1 {ref[0]:g} %")
    return resolve(spec, table, max(ok, key=lambda r: resolve(spec, table, r).ratio))


def lookup(spec: NetworkSpec, table: Table, layer: str, codec: str) -> Row:
    """The row the model uses for (layer, codec): jpeg-ft falls back to jpeg where no fine-tuned figure
    exists (fine-tuning is done for one partition layer); RefimplError naming the table when missing."""
    found = table.find(layer, codec)
    if not found and codec == "jpeg-ft":
        found = table.find(layer, "jpeg")
    if not found:
        raise RefimplError(f"{table.source}: no row for layer {layer}, codec {codec} "
                           f"(network {spec.name} is cut there; layers in the table: "
                           f"{', '.join(dict.fromkeys(r.layer for r in table.rows))})")
    if len(found) == 1:
        return resolve(spec, table, found[0])
    if found[0].codec == "jpeg-ft":
        return max((resolve(spec, table, r) for r in found), key=lambda r: r.ratio)
    return pick_jpeg(spec, table, found)
