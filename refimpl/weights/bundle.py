"""The weight bundle: every layer's DRAM stream in one file, and its loader.

Layout (big-endian, every length before its payload; PNG-style trailer CRC):

  offset      size  field
  0           8     magic  b"\\x89RFWB\\r\\n\\x1a"  (\\x89 and \\r\\n\\x1a catch 7-bit and newline mangling)
  8           2     version, uint16 = 1
  10          4     H = header length, uint32
  14          H     header: UTF-8 JSON, keys sorted, no spaces (below)
  14+H        P     payload: per layer in network order, its stream then its
                    biases (float64 big-endian, [Cout]); P = sum of the lengths
  14+H+P      4     CRC-32 (zlib / PNG polynomial) of bytes 0 .. 14+H+P-1, uint32

Header: {"network": name, "source_sha256": sha256 of the float weights
compressed (null: synthetic), "search": the search record or null, "layers":
[one per conv/fc layer in order: "name", "kind", "weight_shape", "rows",
"cols", "w_frac", "codec" ("jpeg" | "lossless"), "qf" (jpeg, else null), "lo",
"hi" (the 8-bit mapping, jpeg), "predictor" (lossless, else null), "stream"
[offset, length] and "bias" [offset, length] into the payload]}.

The same inputs give the same bytes (no time stamps, sorted keys, the codec
is deterministic).  ``read`` checks everything a loader must trust and raises
one RefimplError, "<file>: damaged weight bundle (<what>)", otherwise.

Loading (``load_params``): each layer's int16 matrix is decoded and turned
into float weights ``w' * 2**-w_frac`` (exact in float64), with the float
biases as stored.  The quantizer (refimpl/quantize.py, per-layer formats)
then chooses w_frac again from max|w'|, and ``build`` only writes a layer
whose decoded weights give back the same w_frac, so the int16 weights the
engine runs on are exactly the decoder's output (checked again on load).
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .. import quantize
from ..errors import RefimplError
from ..spec import NetworkSpec, layer_shapes
from . import codec as wcodec
from . import mapping

MAGIC = b"\x89RFWB\r\n\x1a"
VERSION = 1
PREAMBLE = struct.Struct(">8sHI")          # magic, version, header length: 14 bytes
CRC = struct.Struct(">I")
MAX_HEADER = 1 << 24


@dataclass(frozen=True)
class LayerEntry:
    """One layer of a bundle: its coded weights, format and float biases."""

    name: str
    kind: str
    weight_shape: tuple
    w_frac: int
    code: wcodec.LayerCode
    bias: np.ndarray                        # float64 [Cout]


@dataclass(frozen=True)
class Bundle:
    network: str
    layers: tuple                           # LayerEntry, network order
    source_sha256: str | None = None
    search: dict | None = None

    def layer(self, name: str) -> LayerEntry:
        return next(e for e in self.layers if e.name == name)


def is_bundle(path) -> bool:
    """True when ``path`` is a readable file that starts with the bundle magic."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------- build
def _weighted(spec: NetworkSpec):
    return [s for s in layer_shapes(spec) if s.weight_shape]


def quantize_layer(params: dict, name: str) -> tuple:
    """(int16 weights, w_frac) of one layer exactly as quantize.quantize_network forms them (per-layer formats)."""
    w = np.asarray(params[f"{name}.weight"], dtype=np.float64)
    frac = quantize.choose_frac(quantize.max_abs(w))
    return quantize.weights_to_int16(w, frac), frac


def quantize_weights(spec: NetworkSpec, params: dict) -> dict:
    """{layer: (int16 weights, w_frac)} of every conv/fc layer (quantize_layer)."""
    return {s.layer.name: quantize_layer(params, s.layer.name) for s in _weighted(spec)}


def frac_kept(m: np.ndarray, w_frac: int) -> bool:
    """True when decoded int16 weights ``m`` give the quantizer back ``w_frac``."""
    return quantize.choose_frac(quantize.max_abs(m.astype(np.float64) * 2.0 ** -w_frac)) == w_frac


def encode_layer(wq: np.ndarray, w_frac: int, name: str, choice) -> wcodec.LayerCode:
    """One layer: ``choice`` is a quality 1..100 or 'lossless'.  RefimplError when the
    decoded weights would change the layer's w_frac (the quality is too low for it)."""
    m = mapping.to_matrix(wq)
    code = wcodec.encode_matrix(m, "lossless") if choice == "lossless" else wcodec.encode_matrix(m, "jpeg", choice)
    if code.codec == "jpeg" and not frac_kept(wcodec.decode_matrix(code), w_frac):
        raise RefimplError(f"layer {name}: at quality {choice} the decoded weights lose their largest magnitudes "
                           f"(max |w'| below 2**14 LSB), which would change w_frac {w_frac}; use a higher quality")
    return code


def build(spec: NetworkSpec, params: dict, choices: dict, source_sha256: str | None = None,
          search: dict | None = None, codes: dict | None = None) -> Bundle:
    """Bundle of ``params`` with ``choices`` {layer: qf 1..100 | 'lossless'} for every conv/fc layer.
    ``codes`` {layer: LayerCode} reuses streams already made (the search's)."""
    q = quantize_weights(spec, params)
    entries = []
    for s in _weighted(spec):
        name = s.layer.name
        if name not in choices:
            raise RefimplError(f"network {spec.name}: no quality given for layer {name}")
        wq, frac = q[name]
        code = (codes or {}).get(name) or encode_layer(wq, frac, name, choices[name])
        entries.append(LayerEntry(name, s.layer.kind, tuple(s.weight_shape), int(frac), code,
                                  np.asarray(params[f"{name}.bias"], dtype=np.float64)))
    return Bundle(spec.name, tuple(entries), source_sha256, search)


# ---------------------------------------------------------------- write / read
def _layer_doc(e: LayerEntry, stream_at: int, bias_at: int) -> dict:
    c = e.code
    return dict(name=e.name, kind=e.kind, weight_shape=list(e.weight_shape), rows=c.rows, cols=c.cols,
                w_frac=e.w_frac, codec=c.codec, qf=c.qf, lo=c.lo if c.codec == "jpeg" else None,
                hi=c.hi if c.codec == "jpeg" else None, predictor=c.predictor,
                stream=[stream_at, len(c.data)], bias=[bias_at, 8 * len(e.bias)])


def write(b: Bundle) -> bytes:
    """The bundle's bytes (deterministic)."""
    docs, parts, at = [], [], 0
    for e in b.layers:
        bias = np.asarray(e.bias, dtype=">f8").tobytes()
        docs.append(_layer_doc(e, at, at + len(e.code.data)))
        parts += [e.code.data, bias]
        at += len(e.code.data) + len(bias)
    header = json.dumps(dict(network=b.network, source_sha256=b.source_sha256, search=b.search, layers=docs),
                        sort_keys=True, separators=(",", ":")).encode()
    body = PREAMBLE.pack(MAGIC, VERSION, len(header)) + header + b"".join(parts)
    return body + CRC.pack(zlib.crc32(body))


def _damaged(where: str, what: str) -> RefimplError:
    return RefimplError(f"{where}: damaged weight bundle ({what})")


def _int(doc: dict, key: str, where: str, lo: int, hi: int) -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _damaged(where, f"layer {doc.get('name')!r}: '{key}' = {v!r} is not an integer in {lo}..{hi}")
    return v


def _span(doc: dict, key: str, where: str, size: int) -> tuple:
    v = doc.get(key)
    if (not isinstance(v, list) or len(v) != 2 or any(isinstance(x, bool) or not isinstance(x, int) for x in v)
            or v[0] < 0 or v[1] < 0 or v[0] + v[1] > size):
        raise _damaged(where, f"layer {doc.get('name')!r}: '{key}' span {v!r} outside the {size}-byte payload")
    return v[0], v[0] + v[1]


def read(data: bytes, where: str = "bundle") -> Bundle:
    """Parse and check a bundle's bytes; RefimplError naming ``where`` and the fault."""
    data = bytes(data)
    if len(data) < PREAMBLE.size + CRC.size or data[:len(MAGIC)] != MAGIC:
        raise RefimplError(f"{where}: not a refimpl weight bundle (no {MAGIC!r} signature)")
    _, version, hlen = PREAMBLE.unpack_from(data)
    if version != VERSION:
        raise RefimplError(f"{where}: weight bundle version {version}, this refimpl reads version {VERSION}")
    if zlib.crc32(data[:-CRC.size]) != CRC.unpack_from(data, len(data) - CRC.size)[0]:
        raise _damaged(where, "CRC-32 mismatch: the file was altered or truncated")
    if hlen > MAX_HEADER or PREAMBLE.size + hlen > len(data) - CRC.size:
        raise _damaged(where, f"header length {hlen} runs past the end")
    try:
        doc = json.loads(data[PREAMBLE.size:PREAMBLE.size + hlen].decode())
        layers = doc["layers"]
        network = doc["network"]
        assert isinstance(layers, list) and isinstance(network, str)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AssertionError):
        raise _damaged(where, "header is not the expected JSON") from None
    payload = data[PREAMBLE.size + hlen:-CRC.size]
    entries = []
    for d in layers:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise _damaged(where, "a layer record without a name")
        codec = d.get("codec")
        if codec not in wcodec.CODECS:
            raise _damaged(where, f"layer {d['name']!r}: unknown codec {codec!r}")
        shape = d.get("weight_shape")
        if not isinstance(shape, list) or not all(isinstance(x, int) and x > 0 for x in shape):
            raise _damaged(where, f"layer {d['name']!r}: bad weight_shape {shape!r}")
        rows, cols = _int(d, "rows", where, 1, 1 << 31), _int(d, "cols", where, 1, 1 << 31)
        if rows * cols != int(np.prod(shape)) or rows != shape[0]:
            raise _damaged(where, f"layer {d['name']!r}: {rows} x {cols} matrix does not hold weights {shape}")
        s0, s1 = _span(d, "stream", where, len(payload))
        b0, b1 = _span(d, "bias", where, len(payload))
        if b1 - b0 != 8 * shape[0]:
            raise _damaged(where, f"layer {d['name']!r}: {b1 - b0} bias bytes for {shape[0]} outputs")
        if codec == "jpeg":
            lo, hi = _int(d, "lo", where, -32768, 32767), _int(d, "hi", where, -32768, 32767)
            code = wcodec.LayerCode("jpeg", rows, cols, payload[s0:s1], qf=_int(d, "qf", where, 1, 100), lo=lo, hi=hi)
        else:
            if d.get("predictor") not in ("none", "left"):
                raise _damaged(where, f"layer {d['name']!r}: unknown predictor {d.get('predictor')!r}")
            code = wcodec.LayerCode("lossless", rows, cols, payload[s0:s1], predictor=d["predictor"])
        bias = np.frombuffer(payload[b0:b1], ">f8").astype(np.float64)
        if not np.all(np.isfinite(bias)):
            raise _damaged(where, f"layer {d['name']!r}: a bias is NaN or infinite")
        entries.append(LayerEntry(d["name"], str(d.get("kind")), tuple(shape), _int(d, "w_frac", where, -8, 24),
                                  code, bias))
    return Bundle(network, tuple(entries), doc.get("source_sha256"), doc.get("search"))


def read_file(path) -> Bundle:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such weight bundle") from None
    except OSError as exc:
        raise RefimplError(f"{path}: unreadable ({exc.strerror or exc})") from None
    return read(data, str(path))


# ---------------------------------------------------------------- use
def check_network(b: Bundle, spec: NetworkSpec, where: str):
    """RefimplError unless the bundle holds exactly the conv/fc layers of ``spec``, same shapes."""
    if b.network != spec.name:
        raise RefimplError(f"{where}: weight bundle of network '{b.network}', not '{spec.name}'")
    want = [(s.layer.name, tuple(s.weight_shape)) for s in _weighted(spec)]
    have = [(e.name, tuple(e.weight_shape)) for e in b.layers]
    if want != have:
        raise _damaged(where, f"its layers {have} are not those of network {spec.name} {want}")


def decoded(b: Bundle, where: str = "bundle") -> dict:
    """{layer: int16 weights in the layer's shape}, the decoder's output; RefimplError if a stream is bad."""
    out = {}
    for e in b.layers:
        try:
            m = wcodec.decode_matrix(e.code)
        except RefimplError as exc:
            raise _damaged(where, f"layer {e.name}: {exc}") from None
        if not frac_kept(m, e.w_frac):
            raise _damaged(where, f"layer {e.name}: decoded weights do not fit w_frac {e.w_frac}")
        out[e.name] = mapping.from_matrix(m, e.weight_shape)
    return out


def to_params(b: Bundle, spec: NetworkSpec, where: str = "bundle") -> dict:
    """Float params (quantize.load_params' keys) whose quantization is the decoded int16 weights."""
    check_network(b, spec, where)
    ints = decoded(b, where)
    params = {}
    for e in b.layers:
        params[f"{e.name}.weight"] = ints[e.name].astype(np.float64) * 2.0 ** -e.w_frac
        params[f"{e.name}.bias"] = np.array(e.bias, dtype=np.float64)
    return params


def cost_figures(b: Bundle) -> dict:
    """{layer: {'dram_bytes', 'decoded_pixels', 'weights', 'codec'}} for refimpl.cost.network_cost.

    dram_bytes     the layer's stream + side information, bytes (one pass over its weights)
    decoded_pixels samples the weight decoder produces for one pass: one 8-bit pixel a
                   weight for jpeg, one int16 value a weight for lossless (weights)
    """
    return {e.name: dict(dram_bytes=e.code.dram_bytes, decoded_pixels=e.code.rows * e.code.cols,
                         weights=e.code.rows * e.code.cols, codec=e.code.codec) for e in b.layers}
