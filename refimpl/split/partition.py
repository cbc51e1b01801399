"""Partitioned inference: the edge runs layers up to and including L and sends
L's encoded output; the host decodes it and runs the layers after L.

  edge   engine.run (bit-exact fixed point) up to L -> codecs.encode_map -> bitstream.write
  host   bitstream.read -> checks against its own network -> codecs.decode_map ->
         ``fixed``: the same bit-exact engine on the layers after L (so a lossless
                    split is bit-identical to the unsplit run), or
         ``float``: the float64 reference path (quantize.float_forward) on the
                    decoded map scaled by 2**-out_frac, as a server would run it.
The two ends are the same mechanism: L = "input" (host-only: the edge sends
the int16 input feature map, x = (pixel << input_frac) - MEAN_Q) and L = the
last layer (edge-only: the edge sends the class scores; the host runs nothing).

Both sides quantize the network with the same calibration frames: the shipped
calibration set of a trained network, else the embedded photograph
(``quantize_for_split``), so their formats agree whatever picture
the edge sees; the bitstream carries the partition layer's out_frac and a
CRC-32 of the quantized network, and the host refuses a stream that was made
with another network, layer, format or set of weights.
"""
from __future__ import annotations

import json
import zlib

import numpy as np

from .. import engine, image, quantize
from ..errors import RefimplError, check_choice
from ..quantize import QNetwork
from ..spec import NetworkSpec, layer_shapes
from . import bitstream, codecs

INPUT = "input"
MODES = ("fixed", "float")


def quantize_for_split(spec: NetworkSpec, params: dict, calib: np.ndarray | None = None) -> QNetwork:
    """The whole network quantized on ``calib`` (uint8 (N, 3, H, W), e.g. a shipped
    calibration set, refimpl.trained), or on the embedded photograph when None.
    Edge and host must pass the same frames (the weights CRC checks it)."""
    frames = image.load(None, spec.input_shape) if calib is None else calib
    return quantize.quantize_network(spec, params, frames)


def weights_crc(qnet: QNetwork) -> int:
    """CRC-32 over every layer in order: its numeric contract as sorted JSON, then its
    weights as big-endian int16 and its bias as big-endian int32 (weighted layers)."""
    key = ("split", "weights_crc")
    if key in qnet.cache:
        return qnet.cache[key]
    crc = 0
    for ql in qnet.layers:
        crc = zlib.crc32(json.dumps(dict(name=ql.name, **ql.contract()), sort_keys=True).encode(), crc)
        if ql.weights is not None:
            crc = zlib.crc32(np.asarray(ql.weights).astype(">i2").tobytes(), crc)
            crc = zlib.crc32(np.asarray(ql.bias).astype(">i4").tobytes(), crc)
    qnet.cache[key] = crc
    return crc


def split_points(spec: NetworkSpec) -> list:
    """Every place the network can be cut: 'input', then each layer."""
    return [INPUT] + [l.name for l in spec.layers]


def _index(spec: NetworkSpec, at: str) -> int:
    """-1 for 'input', else the layer's position; RefimplError for an unknown name."""
    points = split_points(spec)
    if at not in points:
        raise RefimplError(f"network {spec.name}: unknown partition layer '{at}' (split points: {', '.join(points)})")
    return points.index(at) - 1


def check_split_point(spec: NetworkSpec, at: str) -> str:
    _index(spec, at)
    return at


def map_format(qnet: QNetwork, at: str) -> tuple:
    """((C, H, W), out_frac) of the tensor at split point ``at``."""
    i = _index(qnet.spec, at)
    if i < 0:
        return tuple(qnet.spec.input_shape), qnet.input_frac
    return tuple(layer_shapes(qnet.spec)[i].out_shape), qnet.layers[i].out_frac


def edge_run(qnet: QNetwork, x_int: np.ndarray, at: str) -> np.ndarray:
    """Bit-exact engine up to and including ``at``: int16 (N, C, H, W)."""
    if _index(qnet.spec, at) < 0:
        return engine.checked_input(qnet, x_int, None)[0]
    return engine.run(qnet, x_int, until=at)[-1].output


def encode_fmap(qnet: QNetwork, fmap: np.ndarray, at: str, codec: str = "lossless", **options) -> bytes:
    """One frame's int16 (C, H, W) map at ``at`` -> bitstream.  options: qf, mapping,
    mosaic, abbreviated, optimize (jpeg); scan, predictor (lossless)."""
    shape, out_frac = map_format(qnet, at)
    if tuple(np.shape(fmap)) != shape:
        raise RefimplError(f"map at {at} must be {shape}, got {np.shape(fmap)}")
    fields, payload = codecs.encode_map(fmap, codec, **options)
    h = bitstream.Header(codec=codec, network=qnet.spec.name, layer=at, shape=shape, out_frac=out_frac,
                         weights_crc=weights_crc(qnet), **fields)
    return bitstream.write(h, payload)


def edge_encode(qnet: QNetwork, x_int: np.ndarray, at: str, codec: str = "lossless", **options):
    """Edge: int16 input (3, H, W) -> bitstream bytes; a batch (N, 3, H, W) -> [bytes]."""
    fmaps = edge_run(qnet, x_int, at)
    streams = [encode_fmap(qnet, f, at, codec, **options) for f in fmaps]
    return streams if np.ndim(x_int) == 4 else streams[0]


def host_decode(qnet: QNetwork, data: bytes, edge_qnet: QNetwork | None = None) -> tuple:
    """Host: bitstream -> (Header, int16 (C, H, W)), checked against the host's network.

    ``edge_qnet``: the network the edge ran, when the host's own differs after the cut (a
    host partition fine-tuned on the edge's coded features): the weights CRC is then
    checked against it, the map's shape and format against the host's."""
    h, payload = bitstream.read(data)
    spec = qnet.spec
    if h.network != spec.name:
        raise RefimplError(f"bitstream is from network '{h.network}', this host runs '{spec.name}'")
    if h.layer != INPUT and h.layer not in [l.name for l in spec.layers]:
        raise RefimplError(f"bitstream layer '{h.layer}' is not a split point of network {spec.name}")
    shape, out_frac = map_format(qnet, h.layer)
    if h.shape != shape:
        raise RefimplError(f"bitstream map at {h.layer} is {h.shape}, network {spec.name} makes {shape}")
    if h.out_frac != out_frac:
        raise RefimplError(f"bitstream map at {h.layer} has out_frac {h.out_frac}, this host's is {out_frac} "
                           "(different weights or calibration)")
    if edge_qnet is not None:
        if edge_qnet.spec.name != spec.name:
            raise RefimplError(f"the edge weights are for network '{edge_qnet.spec.name}', this host runs '{spec.name}'")
        if h.weights_crc != weights_crc(edge_qnet):
            raise RefimplError(f"bitstream was made with other weights (weights CRC-32 {h.weights_crc:08x}, "
                               f"the given edge weights' {weights_crc(edge_qnet):08x})")
    elif h.weights_crc != weights_crc(qnet):
        raise RefimplError(f"bitstream was made with other weights (weights CRC-32 {h.weights_crc:08x}, "
                           f"this host's {weights_crc(qnet):08x}; a host fine-tuned for a fixed edge "
                           "names the edge's weights with --edge-weights)")
    return h, codecs.decode_map(h, payload)


def _tail(spec: NetworkSpec, i: int, shape: tuple, frac: int) -> NetworkSpec:
    try:
        return NetworkSpec(name=spec.name, input_shape=shape, layers=spec.layers[i + 1:],
                           input_mean=spec.input_mean, input_frac=frac, description=f"{spec.name} after cut")
    except RefimplError as exc:
        raise RefimplError(f"network {spec.name}: cannot cut after layer {i}: a later layer reads "
                           f"across the cut ({exc})") from None


def host_run(qnet: QNetwork, fmap: np.ndarray, at: str, mode: str = "fixed", params: dict | None = None) -> dict:
    """Run the layers after ``at`` on int16 (N, C, H, W) (or (C, H, W)).

    Returns dict: ``scores`` float64 (N, K) class scores; in ``fixed`` mode also
    ``scores_int`` int16 (N, K) at ``out_frac`` (scores = scores_int * 2**-out_frac).
    """
    check_choice("mode", mode, MODES)
    spec = qnet.spec
    i = _index(spec, at)
    shape, frac = map_format(qnet, at)
    x = np.asarray(fmap)
    x = x[None] if x.ndim == 3 else x
    if i == len(spec.layers) - 1:
        out, out_frac = x, frac                                  # edge-only: the scores arrived
    elif mode == "fixed":
        tail = QNetwork(spec=_tail(spec, i, shape, frac), layers=qnet.layers[i + 1:], mean_q=qnet.mean_q,
                        cache=qnet.cache)
        out, out_frac = engine.run(tail, x.astype(np.int16))[-1].output, qnet.layers[-1].out_frac
    else:
        if params is None:
            raise RefimplError("float mode needs the network's float weights (params)")
        tail = _tail(spec, i, shape, frac)
        acts = quantize.float_forward(tail, params, x.astype(np.float64) * 2.0 ** -frac)
        return dict(scores=acts[spec.layers[-1].name].reshape(len(x), -1))
    ints = out.reshape(len(x), -1)
    return dict(scores=ints.astype(np.float64) * 2.0 ** -out_frac, scores_int=ints, out_frac=out_frac)


def host_decode_run(qnet: QNetwork, data, mode: str = "fixed", params: dict | None = None,
                    edge_qnet: QNetwork | None = None) -> dict:
    """Host: one bitstream (bytes) or several ([bytes], same layer) -> host_run's dict
    plus ``header`` (of the first) and ``fmap`` int16 (N, C, H, W), the decoded maps.
    ``edge_qnet`` as in host_decode."""
    many = isinstance(data, (list, tuple))
    decoded = [host_decode(qnet, d, edge_qnet) for d in (data if many else [data])]
    layers = {h.layer for h, _ in decoded}
    if len(layers) > 1:
        raise RefimplError(f"bitstreams cut at different layers: {sorted(layers)}")
    fmap = np.stack([f for _, f in decoded])
    out = host_run(qnet, fmap, decoded[0][0].layer, mode, params)
    out.update(header=decoded[0][0], fmap=fmap)
    return out


def top_k(scores: np.ndarray, k: int = 5) -> list:
    """[(class index, score)] of one frame's scores (K,), highest first; ties: lower index first."""
    s = np.asarray(scores).reshape(-1)
    order = np.lexsort((np.arange(s.size), -s))[:k]
    return [(int(c), float(s[c])) for c in order]
