"""Golden vectors of the feature encoder, stage by stage, for RTL teams.

One entry of a set definition (``[[split]]`` in vectors/*.toml) names a
partition layer and the codec options; ``write`` puts, under split/<name>/:

  feature_map                 int16 [C][H][W]    the edge's output at the layer (one frame)
  samples                     uint8 [C][H][W]    8-bit mapping (shift or minmax)
  mosaic                      uint8 [row][col]   the JPEG encoder's picture
  jpeg_level_shifted, jpeg_dct, jpeg_quantized, jpeg_symbols, jpeg_entropy_unstuffed,
  jpeg_entropy_stuffed        the JPEG encoder's stages on the mosaic (as jpeg/ of other sets)
  jpeg_full.jpg               the full JFIF stream (byte-identical to Pillow's)
  jpeg.rfsb                   the bitstream with the JPEG payload (abbreviated or full, as set)
  lossless_coded              int16 [C][H][W]    values after point transform and prediction
  lossless_units              int16 [unit][64]   coding units in scan order
  lossless_symbols            int32 [symbol][field] unit, symbol, code, code_length, extra, extra_length
  lossless.rfsb               the bitstream with the lossless payload
The manifest entry carries the options, the mapping and mosaic parameters,
every header field of both bitstreams and their sizes.
"""
from __future__ import annotations

import numpy as np

from .. import jpeg
from ..errors import RefimplError
from . import bitstream, codecs, lossless, mapping, mosaic, partition

ENTRY_KEYS = {"name", "layer", "qf", "mapping", "mosaic", "container", "optimize", "scan", "predictor"}
LOSSLESS_SYMBOL_FIELDS = ["unit", "symbol", "code", "code_length", "extra", "extra_length"]
JPEG_SYMBOL_FIELDS = ["block", "component", "is_dc", "symbol", "code", "code_length", "extra", "extra_length"]


def check_entry(entry: dict, where: str) -> dict:
    bad = set(entry) - ENTRY_KEYS
    if bad:
        raise RefimplError(f"{where}: [[split]] unknown key '{sorted(bad)[0]}'")
    if not isinstance(entry.get("name"), str) or not isinstance(entry.get("layer"), str):
        raise RefimplError(f"{where}: [[split]] needs 'name' and 'layer' (strings)")
    e = {**dict(qf=50, mapping="shift", mosaic="packed", container="abbreviated", optimize=False, scan="chw",
                predictor="left"), **entry}
    codecs.check_qf(e["qf"])
    mapping.check_mapping(e["mapping"])
    mosaic.check_mosaic(e["mosaic"])
    lossless.check_scan(e["scan"])
    lossless.check_predictor(e["predictor"])
    if e["container"] not in ("abbreviated", "full"):
        raise RefimplError(f"{where}: [[split]] container '{e['container']}' must be abbreviated or full")
    return e


def _header_doc(data: bytes) -> dict:
    vals, where, end = bitstream.parse_fields(data)
    return dict(bytes=len(data), header_bytes=end, payload_bytes=len(data) - end,
                fields={k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in vals.items()},
                offsets={k: list(v) for k, v in where.items()})


def write(w, entry: dict, qnet, x_int: np.ndarray, where: str = "set") -> dict:
    """Write one [[split]] entry with the golden writer ``w`` (vectors._Writer); returns its manifest doc."""
    e = check_entry(entry, where)
    at = partition.check_split_point(qnet.spec, e["layer"])
    fmap = partition.edge_run(qnet, x_int, at)[0]
    stem = f"split/{e['name']}"
    tag = f"split={e['name']} layer={at} q_out={partition.map_format(qnet, at)[1]}"
    files = dict(feature_map=w.tensor(f"{stem}/feature_map", fmap, 16, ["channel", "row", "col"],
                                      f"{tag} tensor=feature map"))
    u8, mp = mapping.to_samples(fmap, e["mapping"])
    img, lay = mosaic.to_mosaic(u8, e["mosaic"])
    files["samples"] = w.tensor(f"{stem}/samples", u8, 8, ["channel", "row", "col"],
                                f"{tag} tensor=8-bit samples mapping={e['mapping']}")
    files["mosaic"] = w.tensor(f"{stem}/mosaic", img, 8, ["row", "col"], f"{tag} tensor=mosaic {e['mosaic']}")
    tr = jpeg.trace_encoder(img, quality=e["qf"], subsampling=None, optimize=e["optimize"])
    comp = tr.components[0]
    jt = f"{tag} jpeg q={e['qf']}"
    files["jpeg_level_shifted"] = w.tensor(f"{stem}/jpeg_level_shifted", comp.level_shifted.astype(np.int16), 16,
                                           ["block", "v", "u"], f"{jt} tensor=level_shifted")
    files["jpeg_dct"] = w.tensor(f"{stem}/jpeg_dct", comp.dct.astype(np.int32), 32, ["block", "v", "u"],
                                 f"{jt} tensor=islow DCT (scaled by 8)")
    files["jpeg_quantized"] = w.tensor(f"{stem}/jpeg_quantized", comp.quantized.astype(np.int16), 16,
                                       ["block", "zigzag"], f"{jt} tensor=quantized")
    s = tr.symbols
    table = np.stack([s.block, s.component, s.is_dc, s.symbol, tr.code, tr.code_length, s.extra,
                      s.extra_length], axis=1).astype(np.int32)
    files["jpeg_symbols"] = w.tensor(f"{stem}/jpeg_symbols", table, 32, ["symbol", "field"],
                                     f"{jt} tensor=symbols fields={','.join(JPEG_SYMBOL_FIELDS)}")
    for key in ("entropy_unstuffed", "entropy_stuffed"):
        files[f"jpeg_{key}"] = w.tensor(f"{stem}/jpeg_{key}", np.frombuffer(getattr(tr, key), np.uint8), 8,
                                        ["byte"], f"{jt} tensor={key}")
    files["jpeg_full"] = w.raw(f"{stem}/jpeg_full.jpg", tr.jpeg, f"{jt} the full JFIF stream")
    jstream = partition.encode_fmap(qnet, fmap, at, "jpeg", qf=e["qf"], mapping=e["mapping"], mosaic=e["mosaic"],
                                    abbreviated=e["container"] == "abbreviated", optimize=e["optimize"])
    files["jpeg_bitstream"] = w.raw(f"{stem}/jpeg.rfsb", jstream, f"{jt} bitstream ({e['container']})")
    k, r, coded = lossless.coded_values(fmap, e["predictor"])
    units = lossless.scan_units(coded, e["scan"])
    st = lossless.symbols(units)
    lt = lossless.huffman_table(st["symbol"])
    lt_tag = f"{tag} lossless scan={e['scan']} predictor={e['predictor']} k={k}"
    files["lossless_coded"] = w.tensor(f"{stem}/lossless_coded", coded, 16, ["channel", "row", "col"],
                                       f"{lt_tag} tensor=values after point transform and prediction")
    files["lossless_units"] = w.tensor(f"{stem}/lossless_units", units.astype(np.int16), 16, ["unit", "position"],
                                       f"{lt_tag} tensor=coding units in scan order")
    sym = np.stack([st["unit"], st["symbol"], lt.codes[st["symbol"]], lt.lengths[st["symbol"]], st["extra"],
                    st["extra_length"]], axis=1).astype(np.int32)
    files["lossless_symbols"] = w.tensor(f"{stem}/lossless_symbols", sym, 32, ["symbol", "field"],
                                         f"{lt_tag} tensor=symbols fields={','.join(LOSSLESS_SYMBOL_FIELDS)}")
    lstream = partition.encode_fmap(qnet, fmap, at, "lossless", scan=e["scan"], predictor=e["predictor"])
    files["lossless_bitstream"] = w.raw(f"{stem}/lossless.rfsb", lstream, f"{lt_tag} bitstream")
    return dict(name=e["name"], layer=at, options={k_: e[k_] for k_ in sorted(ENTRY_KEYS - {"name", "layer"})},
                shape=list(fmap.shape), raw_bytes=2 * fmap.size,
                mapping=dict(kind=mp.kind, shift=mp.shift, lo=mp.lo, hi=mp.hi),
                mosaic=dict(kind=lay.kind, grid_rows=lay.grid_rows, grid_cols=lay.grid_cols, cell_h=lay.cell_h,
                            cell_w=lay.cell_w),
                lossless=dict(point_transform_k=k, residues=r.tolist(), huffman_bits=list(lt.spec.bits),
                              huffman_values=list(lt.spec.values), symbol_fields=LOSSLESS_SYMBOL_FIELDS),
                jpeg_symbol_fields=JPEG_SYMBOL_FIELDS,
                bitstreams=dict(jpeg=_header_doc(jstream), lossless=_header_doc(lstream)),
                weights_crc=f"{partition.weights_crc(qnet):08x}", files=files)
