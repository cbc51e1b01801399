"""Cycles and energy per tile and per layer, from geometry and a profile alone.

Per tile (see schedule.py for the mapping and the tiling rule):
  macs          = m * p * kc              m out channels, p = rows*Wo pixels, kc = tk*kh*kw
  passes        = ceil(m / rows) * ceil(p / cols)
  compute       = passes * kc             cycles; one product per MAC per cycle, no fill/drain
  DRAM words    = input patch (tk x input rows x W, padding is generated, not loaded)
                + weights m * kc when not resident + outputs m * p on the last chunk
                  (weights only when buffer.features_in_dram is false: the maps then stay in
                  on-chip storage, and the fills and drains of the tile buffer go too)
  load          = max(ceil(DRAM bytes / (GB/s / clock)), ceil(weight words / decoder px per cycle))
  cycles        = max(compute, load) when double-buffered (the next tile's transfers
                  run under this tile's compute), compute + load otherwise; the
                  layer's first tile pays compute + load (nothing to hide behind)
  buffer reads  = kc * (ceil(p/cols) * m + ceil(m/rows) * p)   (a pass-cycle fetches one
                  weight per active row and one input per active column)
                + psum reloads m*p*PSUM_WORDS after the first chunk + outputs drained
  buffer writes = DRAM fills + psum spills m*p*PSUM_WORDS before the last chunk + outputs
  register      = macs (one psum register access per MAC)
Pool, LRN, add and average pool run on a post-processing unit with one lane per
MAC: cycles = ceil(outputs / macs) * window, one ALU op (charged as a MAC) per
window element; their tensors move through DRAM like a one-tile layer (unless
buffer.features_in_dram is false).
Energy (pJ) = macs*e_mac + reads*e_read + writes*e_write + register*e_reg
            + DRAM bytes / (access_bits/8) * e_access + decoded weights * e_dec
            + static_mw * latency.   Latency (s) = cycles / clock.

Compressed weights (a weight bundle, refimpl/weights/): ``weight_streams`` gives
per layer a WeightStream, the bytes of one pass over its weights in DRAM (the
bundle's stream and side information) and its codec.  A tile that loads w
weight words then moves ceil(w * dram_bytes / weights) bytes (the tile's share;
the ceiling adds < 1 byte a tile), and the weight decoder produces w samples:
  jpeg      one 8-bit pixel a weight at [jpeg] decoder_pixels_per_cycle and
            decoder_pj_per_pixel (paper-28nm.toml), plus the 8-bit -> int16
            mapping w' = lo + floor((p * r * 2 + 255) / 510): an 8x16 multiply,
            the division by the constant 510 as a 16x16 reciprocal multiply, and
            an add, charged as UNMAP_MACS = 2 MACs (2 x [energy] e_mac_pj, whose
            16x16 multiply and 40-bit add bound both steps)
  lossless  one int16 value a weight; the decoder is one pass of the feature
            lossless coder's two (split/lossless.py: histogram, then coding), so
            2 x [jpeg] lossless_values_per_cycle values per cycle and
            lossless_pj_per_value / 2 pJ a value
instead of the profile's weight_compression.  Layers without a stream keep
the profile's figures.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .schedule import PSUM_WORDS, Tiling, _ceil, choose_tiling, geometry, input_rows
from .spec import LayerShape, NetworkSpec, layer_shapes

BYTES_PER_WORD = 2      # 16-bit words
UNMAP_MACS = 2          # MAC-equivalents of the weight decoder's 8-bit -> int16 mapping, per weight (above)


@dataclass
class Counters:
    """Additive counts of one tile, layer or network (cycles in clock cycles, bytes in bytes)."""

    tiles: int = 0
    macs: int = 0
    mac_slots: int = 0           # cycles x array MACs: active + idle slots
    compute_cycles: int = 0
    cycles: int = 0              # compute + exposed transfer (stall) cycles
    buffer_reads: int = 0        # 16-bit words
    buffer_writes: int = 0
    register_accesses: int = 0
    dram_bytes: int = 0
    decoded_weights: int = 0     # words through the JPEG weight decoder
    alu_ops: int = 0             # post-processing (pool/LRN/add) operations

    def __iadd__(self, other):
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def scaled(self, k: int):
        return Counters(**{f.name: getattr(self, f.name) * k for f in fields(self)})

    @property
    def stall_cycles(self) -> int:
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class WeightStream:
    """A layer's weights as stored in DRAM (refimpl.weights.bundle.cost_figures gives one per layer).

    dram_bytes  bytes of one pass over all the layer's weights, side information included
    weights     weights of the layer (= samples the weight decoder produces in one pass)
    codec       'jpeg' or 'lossless' (which decoder figures apply)
    """

    dram_bytes: int
    weights: int
    codec: str = "jpeg"

    def decoder_pixels_per_cycle(self, profile) -> float:
        j = profile.jpeg
        return j.decoder_pixels_per_cycle if self.codec == "jpeg" else 2 * j.lossless_values_per_cycle

    def decoder_pj_per_pixel(self, profile) -> float:
        j = profile.jpeg
        if self.codec == "jpeg":
            return j.decoder_pj_per_pixel + UNMAP_MACS * profile.energy.e_mac_pj
        return j.lossless_pj_per_value / 2


def as_stream(value) -> WeightStream:
    """A WeightStream from itself or from a mapping with keys dram_bytes, weights[, codec]."""
    if isinstance(value, WeightStream):
        return value
    return WeightStream(int(value["dram_bytes"]), int(value["weights"]), str(value.get("codec", "jpeg")))


def tile_cycles(compute: int, dram_bytes: int, decoded: int, first: bool, profile,
                stream: WeightStream | None = None) -> int:
    """Cycles of one tile under the double-buffering rule."""
    clock_hz = round(profile.array.clock_mhz * 1e6)
    bytes_per_s = round(profile.dram.gbps * 1e9)
    rate = stream.decoder_pixels_per_cycle(profile) if stream else profile.jpeg.decoder_pixels_per_cycle
    load = max(_ceil(dram_bytes * clock_hz, bytes_per_s), math.ceil(decoded / rate))
    if first or not profile.buffer.double_buffered:
        return compute + load
    return max(compute, load)


def weight_dram_bytes(words: int, profile, stream: WeightStream | None = None) -> int:
    """DRAM bytes of ``words`` weights: the stream's share, else 2 bytes / weight_compression."""
    if not words:
        return 0
    if stream is not None:
        return _ceil(words * stream.dram_bytes, stream.weights)
    return math.ceil(words * BYTES_PER_WORD / profile.jpeg.weight_compression)


def mac_tile(m: int, p: int, kc: int, in_words: int, w_words: int, out_words: int,
             first_chunk: bool, last_chunk: bool, first_tile: bool, profile,
             stream: WeightStream | None = None) -> Counters:
    """Counters of one MAC-array tile from its dimensions and its DRAM words."""
    rows, cols = profile.array.rows, profile.array.cols
    macs = m * p * kc
    compute = _ceil(m, rows) * _ceil(p, cols) * kc
    fill, drain = (in_words, out_words) if profile.buffer.features_in_dram else (0, 0)
    dram = BYTES_PER_WORD * (fill + drain) + weight_dram_bytes(w_words, profile, stream)
    spill = m * p * PSUM_WORDS
    return Counters(
        tiles=1, macs=macs, mac_slots=compute * profile.array.macs, compute_cycles=compute,
        cycles=tile_cycles(compute, dram, w_words, first_tile, profile, stream),
        buffer_reads=kc * (_ceil(p, cols) * m + _ceil(m, rows) * p) + (0 if first_chunk else spill) + drain,
        buffer_writes=fill + w_words + (0 if last_chunk else spill) + out_words,
        register_accesses=macs, dram_bytes=dram, decoded_weights=w_words)


def mac_layer_analytic(shape: LayerShape, profile, tiling: Tiling | None = None,
                       stream: WeightStream | None = None) -> Counters:
    """Sum over tile classes, no data: every output-channel tile of a given size
    (with its multiplicity, times the groups) costs the same for a given
    (row tile, input chunk); row tiles differ by border clipping, chunks by
    first/last and size, so those two are enumerated."""
    g = geometry(shape)
    t = tiling or choose_tiling(shape, profile)
    full, rest = divmod(g.mg, t.tm)
    m_sizes = [(t.tm, full)] * (full > 0) + [(rest, 1)] * (rest > 0)
    total = Counters()
    for hi in range(t.n_h):
        y0, y1 = hi * t.th, min((hi + 1) * t.th, g.ho)
        r0, r1 = input_rows(g, y0, y1)
        p = (y1 - y0) * g.wo
        for ki in range(t.n_k):
            tk = min(t.tk, g.cg - ki * t.tk)
            kc = tk * g.k * g.k
            first, last = ki == 0, ki == t.n_k - 1
            for m, m_count in m_sizes:
                w_words = m * kc if (t.n_k > 1 or hi == 0) else 0
                c = mac_tile(m, p, kc, tk * (r1 - r0) * g.w, w_words, m * p if last else 0,
                             first, last, False, profile, stream)
                total += c.scaled(m_count * g.groups)
    # prologue: the layer's first tile (group 0, first channel tile, row tile 0, chunk 0)
    # also pays its load, which nothing before it hides
    m, tk = min(t.tm, g.mg), min(t.tk, g.cg)
    y1 = min(t.th, g.ho)
    r0, r1 = input_rows(g, 0, y1)
    args = (m, y1 * g.wo, tk * g.k * g.k, tk * (r1 - r0) * g.w, m * tk * g.k * g.k,
            m * y1 * g.wo if t.n_k == 1 else 0, True, t.n_k == 1)
    total.cycles += mac_tile(*args, True, profile, stream).cycles - mac_tile(*args, False, profile, stream).cycles
    return total


def post_layer(shape: LayerShape, profile, n_inputs: int = 1) -> Counters:
    """Pool / LRN / add / average pool on the post-processing unit (one tile)."""
    layer = shape.layer
    window = {"maxpool": layer.kernel ** 2, "avgpool": layer.kernel ** 2, "lrn": layer.lrn_size, "add": 1}[layer.kind]
    outputs = math.prod(shape.out_shape)
    inputs = math.prod(shape.in_shape) * n_inputs
    compute = _ceil(outputs, profile.array.macs) * window
    fill, drain = (inputs, outputs) if profile.buffer.features_in_dram else (0, 0)
    dram = BYTES_PER_WORD * (fill + drain)
    return Counters(tiles=1, mac_slots=compute * profile.array.macs, compute_cycles=compute,
                    cycles=tile_cycles(compute, dram, 0, True, profile),
                    buffer_reads=outputs * window + drain, buffer_writes=fill + outputs,
                    dram_bytes=dram, alu_ops=outputs * window)


def layer_counters(shape: LayerShape, profile, n_inputs: int = 1, stream: WeightStream | None = None) -> Counters:
    if shape.layer.weighted:
        return mac_layer_analytic(shape, profile, stream=stream)
    return post_layer(shape, profile, n_inputs)


def energy_pj(c: Counters, profile, stream: WeightStream | None = None) -> dict:
    """Energy by component in pJ, and the total (``stream``: the layer's weight decoder figures)."""
    e = profile.energy
    latency = c.cycles / profile.clock_hz
    parts = dict(
        mac=c.macs * e.e_mac_pj + c.alu_ops * e.e_mac_pj,
        buffer=c.buffer_reads * e.e_buffer_read_pj + c.buffer_writes * e.e_buffer_write_pj,
        register=c.register_accesses * e.e_register_pj,
        dram=c.dram_bytes / (profile.dram.access_bits // 8) * profile.dram.e_access_pj,
        weight_decoder=c.decoded_weights * (stream.decoder_pj_per_pixel(profile) if stream
                                            else profile.jpeg.decoder_pj_per_pixel),
        static=e.static_mw * 1e-3 * latency * 1e12,
    )
    parts["total"] = sum(parts.values())
    return parts


def counters_record(c: Counters, profile, stream: WeightStream | None = None) -> dict:
    """Every counter of ``c`` plus stall cycles, utilisation, energy by component
    (pJ) and latency (s), JSON-ready (reports and golden manifests)."""
    rec = asdict(c)
    rec.update(stall_cycles=c.stall_cycles,
               utilization=(c.macs / (profile.array.macs * c.cycles)) if c.cycles else 0.0,
               energy_pj=energy_pj(c, profile, stream), latency_s=c.cycles / profile.clock_hz)
    return rec


def _record(name, kind, c: Counters, profile, tiling: str, stream: WeightStream | None = None) -> dict:
    return dict(name=name, type=kind, tiling=tiling, **counters_record(c, profile, stream))


def network_cost(spec: NetworkSpec, profile, until: str | None = None, weight_streams: dict | None = None) -> dict:
    """Per-layer and total cost: {"network", "profile", "layers": [...], "total": {...}}.

    weight_streams : optional {layer name: WeightStream or a mapping with dram_bytes,
        weights[, codec]} (refimpl.weights.bundle.cost_figures of a weight bundle):
        those layers move their compressed bytes and pay their weight decoder; each
        of their records then adds ``weight_dram_bytes`` (bytes of weights moved in
        the frame), ``weight_codec`` and ``weight_stream_bytes`` (one pass), and the
        total's energy is the sum of the layers' energies.
    """
    layers = spec.until(until)
    shapes = layer_shapes(spec)[:len(layers)]
    streams = {k: as_stream(v) for k, v in (weight_streams or {}).items()}
    records, total = [], Counters()
    for i, s in enumerate(shapes):
        st = streams.get(s.layer.name) if s.layer.weighted else None
        c = layer_counters(s, profile, len(spec.sources(i)), st)
        total += c
        tiling = choose_tiling(s, profile).describe() if s.layer.weighted else "post-processing unit"
        rec = _record(s.layer.name, s.layer.kind, c, profile, tiling, st)
        if st is not None:
            bare = mac_layer_analytic(s, profile, stream=WeightStream(0, st.weights, st.codec))
            rec.update(weight_dram_bytes=c.dram_bytes - bare.dram_bytes, weight_codec=st.codec,
                       weight_stream_bytes=st.dram_bytes)
        records.append(rec)
    tot = _record("total", "", total, profile, "")
    del tot["name"], tot["type"], tot["tiling"]
    if streams:
        tot["energy_pj"] = {k: sum(r["energy_pj"][k] for r in records) for k in tot["energy_pj"]}
    return dict(network=spec.name, profile=profile.name, clock_mhz=profile.array.clock_mhz,
                units=dict(cycles="clock cycles", compute_cycles="clock cycles", stall_cycles="clock cycles",
                           mac_slots="MAC units x cycles", dram_bytes="bytes", buffer_reads="16-bit words",
                           buffer_writes="16-bit words", register_accesses="psum register accesses",
                           decoded_weights="16-bit words", alu_ops="post-processing operations",
                           utilization="MACs / (array MACs x cycles)", energy_pj="pJ", latency_s="s",
                           **(dict(weight_dram_bytes="bytes", weight_stream_bytes="bytes (one pass over the weights)")
                              if streams else {})),
                layers=records, total=tot)


