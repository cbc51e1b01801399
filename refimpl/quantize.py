"""The only float-to-integer code: weight, bias and activation formats.

Offline step (float64):
  * weights  -> int16 at w_frac, the largest frac at which max|w| still fits
    (per layer, or per output channel with ``per_channel``);
  * bias     -> int16 (or int32) at b_frac = min(acc_frac, largest frac that fits),
    so that aligning it to the accumulator is an exact left shift;
  * activations: out_frac of a conv/fc is the largest frac at which the float
    reference output (after ReLU) of the calibration frames fits int16;
    LRN and pools keep their input's format;
  * input pixels: x_int = (pixel << input_frac) - MEAN_Q, with
    MEAN_Q = round_half_up(mean * 2**input_frac) per channel.
Float -> int rounding here is half up: floor(v * 2**frac + 0.5), then saturation.

The float reference path (``float_forward``) runs the same layers in float64
on unquantized weights; it gives the calibration ranges and the per-layer SQNR.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field

import numpy as np

from . import fixedpoint as fx
from .errors import RefimplError
from .layout import as_batch, flatten_chw, im2col, lrn_window_sum, windows
from .spec import NetworkSpec, layer_shapes

FRAC_MIN, FRAC_MAX = -8, 24   # keeps every requantization shift within 24 + 24 + 8 = 56 < 62 bits
ENGINE_KINDS = ("conv", "fc", "maxpool", "lrn")
CALIBRATION = "calibration"   # qnet.cache key: (id(params), pixels, until, float_forward outputs)
FLOAT_MAXIMA = "float maxima"  # qnet.cache key: (id(params), {layer: (max |w| scalar or per row, max |b|)})
CALIBRATION_CACHE_FRAMES = 4  # calibrations of at most this many frames keep their float outputs
SYNTH_BIAS_STD = 0.1          # synthetic biases ~ N(0, 0.1**2), in output units
SYNTH_CHUNK = 1 << 18         # normals drawn at a time (1 MB of float32, cache-resident)


@dataclass(frozen=True)
class QLayer:
    """A layer's integer parameters and numeric contract.

    weights : int16 [Cout, Cin/groups, kh, kw] (conv) or [Nout, Nin] (fc); None otherwise.
    bias    : int16/int32 [Cout]; None for unweighted layers.
    w_frac  : int, or int64 [Cout] when quantized per output channel.
    """

    name: str
    kind: str
    in_frac: int
    out_frac: int
    w_frac: object = 0
    b_frac: int = 0
    bias_bits: int = 16
    acc_bits: int = fx.DEFAULT_ACC_BITS
    overflow: str = fx.DEFAULT_OVERFLOW
    rounding: str = fx.DEFAULT_ROUNDING
    relu: bool = False
    weights: object = field(default=None, compare=False, repr=False)
    bias: object = field(default=None, compare=False, repr=False)

    @property
    def acc_frac(self):
        """in_frac + w_frac: an int, or int64 [Cout] per channel."""
        return self.in_frac + np.asarray(self.w_frac) if np.ndim(self.w_frac) else self.in_frac + self.w_frac

    @property
    def shift(self):
        """Requantization shift s = in_frac + w_frac - out_frac (scalar or [Cout])."""
        return self.acc_frac - self.out_frac

    def contract(self) -> dict:
        """The numeric contract as JSON-ready data (layers.json / manifests)."""
        wf = self.w_frac.tolist() if np.ndim(self.w_frac) else int(self.w_frac)
        return dict(in_frac=int(self.in_frac), w_frac=wf if self.weights is not None else None,
                    b_frac=int(self.b_frac) if self.bias is not None else None,
                    bias_bits=self.bias_bits if self.bias is not None else None,
                    out_frac=int(self.out_frac), acc_bits=self.acc_bits, overflow=self.overflow,
                    rounding=self.rounding, relu=self.relu)


@dataclass(frozen=True)
class QNetwork:
    """A quantized network: spec, input mapping and one QLayer per layer."""

    spec: NetworkSpec
    layers: tuple
    mean_q: tuple                       # per-channel mean at input_frac
    cache: dict = field(default_factory=dict, compare=False, repr=False)   # engine-private

    @property
    def input_frac(self) -> int:
        return self.spec.input_frac

    def layer(self, name: str) -> QLayer:
        self.spec.layer(name)
        return next(q for q in self.layers if q.name == name)


# ---------------------------------------------------------------- formats
def to_fixed(v, frac, bits: int = fx.WORD_BITS):
    """floor(v * 2**frac + 0.5) saturated to ``bits``: (int64 array, saturations).

    frac may be an array broadcastable to v (per channel).  float64 throughout:
    the scaling by 2**frac is exact and floor is exact.
    """
    y = np.asarray(v, dtype=np.float64) * np.exp2(np.asarray(frac, dtype=np.float64))
    y += 0.5
    np.floor(y, out=y)
    lo, hi = fx.int_range(bits)
    count = int(np.count_nonzero(y < lo)) + int(np.count_nonzero(y > hi))
    np.clip(y, lo, hi, out=y)
    return y.astype(np.int64), count


def weights_to_int16(w: np.ndarray, frac, w_max=None) -> np.ndarray:
    """to_fixed(w, frac) as int16 (every value fits: frac comes from choose_frac of max|w|,
    or saturates), computed SYNTH_CHUNK values at a time with the same float64
    operations, so without to_fixed's full-size temporaries.
    w : float64 [Cout, ...]; frac an int or int64 [Cout] (per output channel);
    w_max : max |w| (scalar, or per output channel with a per-channel frac), optional.
    The clamp is skipped when w_max shows nothing saturates: floor(a + 1/2) <= hi for
    a = w_max * 2**frac implies floor(-a + 1/2) = -floor(a + 1/2) >= -hi > lo (the two
    floors are equal for every a >= 0), and rounding is monotone in w."""
    out = np.empty(w.shape, dtype=np.int16)
    scale = np.exp2(np.asarray(frac, dtype=np.float64))
    rows = max(1, SYNTH_CHUNK // max(1, w[0].size))
    lo, hi = fx.int_range(fx.WORD_BITS)
    clamp = w_max is None or bool(np.any(np.floor(np.asarray(w_max, dtype=np.float64) * scale + 0.5) > hi))
    for r0 in range(0, w.shape[0], rows):
        sc = scale[r0:r0 + rows].reshape((-1,) + (1,) * (w.ndim - 1)) if scale.ndim else scale
        y = w[r0:r0 + rows] * sc
        y += 0.5
        np.floor(y, out=y)
        if clamp:
            np.clip(y, lo, hi, out=y)
        out[r0:r0 + rows] = y
    return out


def max_abs(a: np.ndarray) -> float:
    """max |a| = max(-min a, max a), without an |a| temporary; SYNTH_CHUNK values at a
    time, so the second reduction reads the chunk from cache (VGG-16's 138 M float64
    weights: 0.14 -> 0.10 s)."""
    flat = np.asarray(a).reshape(-1)
    if not flat.size:
        return 0.0
    lo = hi = float(flat[0])
    for i in range(0, flat.size, SYNTH_CHUNK):
        chunk = flat[i:i + SYNTH_CHUNK]
        lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    return max(-lo, hi)


def choose_frac(max_abs: float, bits: int = fx.WORD_BITS) -> int:
    """Largest frac in [FRAC_MIN, FRAC_MAX] with round(max_abs * 2**frac) <= 2**(bits-1) - 1."""
    hi = (1 << (bits - 1)) - 1
    if max_abs <= 0:
        return FRAC_MAX
    frac = min(FRAC_MAX, (bits - 1) - math.floor(math.log2(max_abs)))
    while frac > FRAC_MIN and math.floor(max_abs * 2.0 ** frac + 0.5) > hi:
        frac -= 1
    return max(frac, FRAC_MIN)


def mean_q(spec: NetworkSpec) -> tuple:
    return tuple(int(math.floor(m * 2.0 ** spec.input_frac + 0.5)) for m in spec.input_mean)


def pixels_to_int(pixels: np.ndarray, spec: NetworkSpec) -> np.ndarray:
    """uint8 (..., 3, H, W) pixels -> int16 input feature map at spec.input_frac."""
    p = np.asarray(pixels)
    if p.dtype != np.uint8:
        raise RefimplError(f"pixels must be uint8, got {p.dtype}")
    m = np.array(mean_q(spec), dtype=np.int64).reshape(-1, 1, 1)
    x, _ = fx.saturate((p.astype(np.int64) << spec.input_frac) - m if spec.input_frac >= 0
                       else fx.round_shift(p.astype(np.int64), -spec.input_frac) - m)
    return x.astype(np.int16)


def pixels_to_float(pixels: np.ndarray, spec: NetworkSpec) -> np.ndarray:
    """uint8 pixels -> float64 (pixel - mean), the float reference input."""
    return np.asarray(pixels, dtype=np.float64) - np.asarray(spec.input_mean).reshape(-1, 1, 1)


# ---------------------------------------------------------------- parameters
def synthetic_params(spec: NetworkSpec, seed: int = 0, until: str | None = None) -> dict:
    """Deterministic float weights: He-normal (He et al., ICCV 2015:
    std = sqrt(2 / fan_in), fan_in = Cin/groups * kh * kw or Nin; unit normals
    drawn in float32 for speed), biases N(0, SYNTH_BIAS_STD**2).  Same seed,
    same arrays on every machine; ``until`` draws only the layers up to it,
    which are the same arrays as in the full draw.

    Each weight is float64(float32 normal) * std.  The normals are drawn
    SYNTH_CHUNK at a time into one reused buffer and scaled straight into the
    float64 array: the generator's stream, and so every value, is the same as
    one draw of the whole array, without its float32 and float64 temporaries."""
    rng = np.random.default_rng(seed)
    params = {}
    buf = np.empty(SYNTH_CHUNK, dtype=np.float32)
    for s in layer_shapes(spec)[:len(spec.until(until))]:      # one stream: a prefix is the same
        if not s.weight_shape:
            continue
        std = np.float64(math.sqrt(2.0 / s.reduction))
        w = np.empty(s.weight_shape, dtype=np.float64)
        flat = w.reshape(-1)
        for lo in range(0, flat.size, SYNTH_CHUNK):
            part = buf[:min(SYNTH_CHUNK, flat.size - lo)]
            rng.standard_normal(part.size, dtype=np.float32, out=part)
            np.multiply(part, std, out=flat[lo:lo + part.size])
        params[f"{s.layer.name}.weight"] = w
        params[f"{s.layer.name}.bias"] = rng.standard_normal(s.layer.out_channels) * SYNTH_BIAS_STD
    return params


def load_params(path, spec: NetworkSpec) -> dict:
    """Float weights from an .npz: keys '<layer>.weight' ([Cout, Cin/groups, kh, kw]
    or [Nout, Nin]) and '<layer>.bias' ([Cout]) for every conv/fc layer."""
    expected = {}
    for s in layer_shapes(spec):
        if s.weight_shape:
            expected[f"{s.layer.name}.weight"] = s.weight_shape
            expected[f"{s.layer.name}.bias"] = (s.layer.out_channels,)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic != b"PK\x03\x04":          # every .npz is a zip archive (numpy.savez)
            raise RefimplError(f"{path}: not an .npz weight file (no zip signature)")
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise RefimplError(f"{path}: a single .npy array, expected an .npz archive of named arrays")
        with npz:
            params = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such weight file") from None
    except IsADirectoryError:
        raise RefimplError(f"{path}: is a directory, expected an .npz weight file") from None
    except RefimplError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise RefimplError(f"{path}: not a readable .npz weight file ({exc})") from None
    for key in params:
        if key not in expected:
            raise RefimplError(f"{path}: unexpected key '{key}' for network {spec.name}")
    for key, shape in expected.items():
        if key not in params:
            raise RefimplError(f"{path}: missing key '{key}'")
        a = params[key]
        if tuple(a.shape) != tuple(shape):
            raise RefimplError(f"{path}: '{key}' has shape {tuple(a.shape)}, expected {tuple(shape)}")
        if a.dtype.kind not in "fiu":
            raise RefimplError(f"{path}: '{key}' has dtype {a.dtype}, expected a real number type")
        if not np.all(np.isfinite(a)):
            raise RefimplError(f"{path}: '{key}' contains NaN or infinity")
        params[key] = a.astype(np.float64)
    return params


# ---------------------------------------------------------------- float reference path
def _float_conv(x, w, b, layer):
    n = x.shape[0]
    g = layer.groups
    cols = im2col(x, layer.kernel, layer.stride, layer.pad)
    kg = cols.shape[1] // g
    mg = w.shape[0] // g
    wf = w.reshape(w.shape[0], -1)
    parts = [wf[i * mg:(i + 1) * mg] @ cols[:, i * kg:(i + 1) * kg] for i in range(g)]
    out = parts[0] if g == 1 else np.concatenate(parts, axis=1)
    ho = (x.shape[2] + 2 * layer.pad - layer.kernel) // layer.stride + 1
    out = out.reshape(n, w.shape[0], ho, -1)
    out += b.reshape(1, -1, 1, 1)                     # in place: the same sums, no full-size copy
    return out


def float_forward(spec: NetworkSpec, params: dict, x: np.ndarray, until: str | None = None) -> dict:
    """Float64 reference outputs {layer name: (N, C, H, W)} for input x (N, 3, H, W)."""
    x, _ = as_batch(np.asarray(x, dtype=np.float64))
    acts = {"input": x}
    for i, layer in enumerate(spec.until(until)):
        src = acts[spec.sources(i)[0]]
        if layer.kind == "conv":
            y = _float_conv(src, params[f"{layer.name}.weight"], params[f"{layer.name}.bias"], layer)
        elif layer.kind == "fc":
            y = (flatten_chw(src) @ params[f"{layer.name}.weight"].T + params[f"{layer.name}.bias"])[:, :, None, None]
        elif layer.kind == "maxpool":
            y = windows(src, layer.kernel, layer.stride, layer.pad, -np.inf).max(axis=(4, 5))
        elif layer.kind == "lrn":
            ssq = lrn_window_sum(src * src, layer.lrn_size)
            y = src * (layer.lrn_k + layer.lrn_alpha / layer.lrn_size * ssq) ** -layer.lrn_beta
        else:
            raise _geometry_only(spec, layer)
        acts[layer.name] = np.maximum(y, 0, out=y) if layer.relu else y    # y is this layer's own array
    return acts


def _geometry_only(spec: NetworkSpec, layer) -> RefimplError:
    return RefimplError(f"network {spec.name}: layer {layer.name} ({layer.kind}) is geometry-only; "
                        f"the bit-exact engine runs {', '.join(ENGINE_KINDS)} layers")


def check_supported(spec: NetworkSpec):
    """RefimplError unless every layer is one the bit-exact engine runs."""
    for layer in spec.layers:
        if layer.kind not in ENGINE_KINDS:
            raise _geometry_only(spec, layer)


# ---------------------------------------------------------------- whole network
def quantize_network(spec: NetworkSpec, params: dict, calib_pixels: np.ndarray, *, per_channel: bool = False,
                     bias_bits: int = 16, acc_bits: int = fx.DEFAULT_ACC_BITS,
                     overflow: str = fx.DEFAULT_OVERFLOW, rounding: str = fx.DEFAULT_ROUNDING,
                     until: str | None = None) -> QNetwork:
    """Integer network from float params and calibration frames uint8 (N, 3, H, W).

    ``until`` quantizes only the layers up to it (the QNetwork then holds that prefix).
    """
    check_supported(spec)
    fx.check_acc_bits(acc_bits)
    fx.check_overflow(overflow)
    fx.check_rounding(rounding)
    if bias_bits not in (16, 32):
        raise RefimplError(f"bias_bits {bias_bits} must be 16 or 32")
    acts = float_forward(spec, params, pixels_to_float(as_batch(calib_pixels)[0], spec), until)
    out_frac = {"input": spec.input_frac}
    layers = []
    maxima = {}
    for i, layer in enumerate(spec.until(until)):
        in_frac = out_frac[spec.sources(i)[0]]
        common = dict(name=layer.name, kind=layer.kind, in_frac=in_frac, acc_bits=acc_bits,
                      overflow=overflow, rounding=rounding, relu=layer.relu)
        if not layer.weighted:
            out_frac[layer.name] = in_frac
            layers.append(QLayer(out_frac=in_frac, **common))
            continue
        w = params[f"{layer.name}.weight"]
        b = params[f"{layer.name}.bias"]
        if per_channel:
            w_max = np.array([max_abs(r) for r in w.reshape(w.shape[0], -1)])
            w_frac = np.array([choose_frac(m) for m in w_max], dtype=np.int64)
        else:
            w_max = max_abs(w)
            w_frac = choose_frac(w_max)
        maxima[layer.name] = (w_max, float(np.abs(b).max()) if b.size else 0.0)
        wq = weights_to_int16(w, w_frac, w_max)
        acc_frac = in_frac + np.min(w_frac)
        b_frac = int(min(acc_frac, choose_frac(float(np.abs(b).max()), bias_bits)))
        bq, _ = to_fixed(b, b_frac, bias_bits)
        out_frac[layer.name] = choose_frac(float(np.abs(acts[layer.name]).max()))
        layers.append(QLayer(out_frac=out_frac[layer.name], w_frac=w_frac, b_frac=b_frac, bias_bits=bias_bits,
                             weights=wq, bias=bq.astype(np.int16 if bias_bits == 16 else np.int32),
                             **common))
    qnet = QNetwork(spec=spec, layers=tuple(layers), mean_q=mean_q(spec))
    qnet.cache[FLOAT_MAXIMA] = (id(params), maxima)           # report.clamp_warnings reads them back
    if as_batch(np.asarray(calib_pixels))[0].shape[0] <= CALIBRATION_CACHE_FRAMES:
        qnet.cache[CALIBRATION] = (id(params), np.asarray(calib_pixels).tobytes(), until, acts)
    return qnet


def reference_outputs(qnet: QNetwork, params: dict, pixels: np.ndarray, until: str | None = None) -> dict:
    """float_forward of ``pixels``: the calibration forward quantize_network already ran
    when they are its calibration frames (same params: the caller's), else a new one."""
    pid, key, cal_until, acts = qnet.cache.get(CALIBRATION, (None, None, None, None))
    if pid == id(params) and cal_until == until and key == np.asarray(pixels).tobytes():
        return acts
    return float_forward(qnet.spec, params, pixels_to_float(pixels, qnet.spec), until)


def sqnr_db(ref: np.ndarray, q: np.ndarray, frac: int) -> float:
    """10*log10(sum ref**2 / sum (ref - q * 2**-frac)**2) in dB; inf when identical."""
    ref = np.asarray(ref, dtype=np.float64)
    err = np.array(q, dtype=np.float64)              # the same elementwise steps, in one buffer
    err *= 2.0 ** -frac
    np.subtract(ref, err, out=err)
    noise = float(np.sum(np.square(err, out=err)))
    signal = float(np.sum(np.square(ref, out=err)))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)
