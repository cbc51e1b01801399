"""Golden sets: definitions (vectors/*.toml), the writer, and the manifest.

A set definition (TOML) names the network, image, weights, profile, which
layers, which tiles (none | first:N | all), which formats (hex, bin, npy),
which JPEG stage vectors to write and the numeric contract: acc_bits,
overflow, rounding, bias_bits, per_channel (the options of `refimpl run`;
`refimpl golden` overrides them with the flags of the same names).  ``build_set`` runs the network (tile by
tile where tiles are wanted) and writes, atomically:

  manifest.json
  layers/<layer>/{input,weights,bias,output}.<fmt>      one frame
  tiles/<layer>/t<NNNN>/{inputs,weights,bias,psums,outputs}.<fmt>
  jpeg/<name>/{samples,level_shifted,dct,quantized,symbols,entropy_unstuffed,
               entropy_stuffed}.<fmt> and image.jpg

Layouts (row-major): feature maps [C][H][W]; conv weights
[Cout][Cin/groups][kh][kw]; fc weights [Nout][Nin]; bias [Cout]; tile inputs
the zero-padded patch [tk][rows][cols]; tile weights [m][tk][kh][kw]; psums
and outputs [m][rows][cols].  Word widths: activations and weights 16,
bias 16 or 32, psums acc_bits (bin/npy: int64), JPEG samples 8.  A tile on
its first input-channel chunk starts from the aligned bias (its bias file);
a later chunk starts from the previous tile's psums (its manifest entry names
that file as psums_in); only the last chunk has outputs.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import __version__, cost, engine, features, image, networks, quantize, tiled
from . import fixedpoint as fx
from .array import golden as array_golden
from .dump import layer_record
from .errors import RefimplError
from .fileio import atomic_dir, check_output_dir, file_sha256
from .manifest import MANIFEST, SCHEMA_VERSION, sha256
from .profile import load_profile
from .report import clamp_warnings
from .schedule import choose_tiling
from .spec import layer_shapes
from .weights import load as wload
from .wordfile import to_bin, to_hex, to_npy

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    import tomli as tomllib

FORMATS = ("hex", "bin", "npy")
DEFAULT_SET = "default"
SYMBOL_FIELDS = ["block", "component", "is_dc", "symbol", "code", "code_length", "extra", "extra_length"]
# The numeric contract a set fixes (the same five options as `refimpl run`), with defaults
CONTRACT_DEFAULTS = dict(acc_bits=fx.DEFAULT_ACC_BITS, overflow=fx.DEFAULT_OVERFLOW, rounding=fx.DEFAULT_ROUNDING,
                         bias_bits=16, per_channel=False)
SET_KEYS = {"name", "description", "network", "image", "weights", "seed", "synthetic_weight_bits", "profile",
            "layers", "tiles", "passes", "formats", "jpeg", "split", "weight_decoder"} | set(CONTRACT_DEFAULTS)
COARSE_BIAS_FRAC = 8                  # coarse synthetic biases: multiples of 2**-8 (see coarse_params)


@dataclass(frozen=True)
class SetDef:
    name: str
    network: str
    description: str = ""
    image: str = "default"            # "default" (embedded photo) or a path relative to the set file
    weights: str = "synthetic"        # "synthetic" (seeded) or an .npz path relative to the set file
    seed: int = 0
    synthetic_weight_bits: int = 0    # 0: full precision; 2..8: coarse_params(bits)
    profile: str = "paper-28nm"
    layers: tuple | None = None       # None: every layer; (): none (JPEG vectors only)
    tiles: str = "none"               # none | first:N | all | I-J (tile indices I..J)
    passes: str = "none"              # none | first:N | all: per-pass array vectors of each tile (refimpl/array)
    formats: tuple = FORMATS
    jpeg: tuple = ()                  # ({"name", "source": "feature:<layer>" | "image", "quality", "subsampling"}, ...)
    base: str = "."                   # folder the relative paths start from
    acc_bits: int = fx.DEFAULT_ACC_BITS   # accumulator width, 32..62
    overflow: str = fx.DEFAULT_OVERFLOW   # saturate | wrap | error
    rounding: str = fx.DEFAULT_ROUNDING   # half_up | half_even | truncate
    bias_bits: int = 16                   # 16 or 32
    per_channel: bool = False             # weight fractional bits per output channel
    split: tuple = ()                 # feature-encoder entries, see refimpl/split/golden.py
    weight_decoder: tuple = ()        # weight-decoder entries, see refimpl/weights/golden.py


def contract_problem(key: str, value):
    """None if ``value`` is valid for contract option ``key``, else what it must be (for one error line)."""
    if key == "acc_bits":
        ok = isinstance(value, int) and not isinstance(value, bool) and fx.MIN_ACC_BITS <= value <= fx.MAX_ACC_BITS
        return None if ok else f"must be an integer {fx.MIN_ACC_BITS}..{fx.MAX_ACC_BITS}"
    if key == "bias_bits":
        ok = isinstance(value, int) and not isinstance(value, bool) and value in (16, 32)
        return None if ok else "must be 16 or 32"
    if key == "overflow":
        return None if value in fx.OVERFLOW_POLICIES else f"must be one of {', '.join(fx.OVERFLOW_POLICIES)}"
    if key == "rounding":
        return None if value in fx.ROUNDING_MODES else f"must be one of {', '.join(fx.ROUNDING_MODES)}"
    if key == "per_channel":
        return None if isinstance(value, bool) else "must be true or false"
    raise KeyError(key)


def _sets_dir():
    """vectors/ as shipped in the package (refimpl/sets), or in a source checkout."""
    shipped = resources.files("refimpl") / "sets"
    if shipped.is_dir():
        return shipped
    source = Path(__file__).resolve().parents[1] / "vectors"
    if source.is_dir():
        return source
    raise RefimplError("the standard golden-set definitions (refimpl/sets, vectors/ in a checkout) are missing: "
                       "reinstall refimpl")


def standard_sets() -> list:
    return sorted(p.name[:-5] for p in _sets_dir().iterdir() if p.name.endswith(".toml"))


def load_set(name_or_path: str) -> SetDef:
    """A standard set by name (vectors/NAME.toml, shipped in the package) or a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text, where, base = path.read_text(), str(path), str(path.resolve().parent)
        except FileNotFoundError:
            raise RefimplError(f"{path}: no such set file") from None
        except IsADirectoryError:
            raise RefimplError(f"{path}: is a folder, not a set .toml file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RefimplError(f"{path}: unreadable set definition ({exc.__class__.__name__})") from None
    else:
        res = _sets_dir() / f"{name_or_path}.toml"
        if not res.is_file():
            raise RefimplError(f"unknown golden set '{name_or_path}' (standard sets: {', '.join(standard_sets())})")
        text, where, base = res.read_text(), f"set {name_or_path}", str(_sets_dir())
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RefimplError(f"{where}: not valid TOML ({exc})") from None
    for key in doc:
        if key not in SET_KEYS:
            raise RefimplError(f"{where}: unknown key '{key}'")
    for key in ("name", "network"):
        if not isinstance(doc.get(key), str):
            raise RefimplError(f"{where}: missing key '{key}' (a string)")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RefimplError(f"{where}: key 'seed' must be an integer >= 0, got {seed!r}")
    layers = doc.get("layers")
    if layers is not None and not (isinstance(layers, list) and all(isinstance(n, str) and n for n in layers)):
        raise RefimplError(f"{where}: key 'layers' must be a list of layer names, got {layers!r}")
    jpeg = tuple(dict(j) for j in doc.get("jpeg", []))
    swb = doc.get("synthetic_weight_bits", 0)
    if swb != 0 and not (isinstance(swb, int) and not isinstance(swb, bool) and 2 <= swb <= 8):
        raise RefimplError(f"{where}: key 'synthetic_weight_bits' = {swb!r} must be an integer 2..8 "
                           f"(0: full precision)")
    contract = {key: doc.get(key, default) for key, default in CONTRACT_DEFAULTS.items()}
    for key, value in contract.items():
        problem = contract_problem(key, value)
        if problem:
            raise RefimplError(f"{where}: key '{key}' = {value!r} {problem}")
    return SetDef(name=doc["name"], network=doc["network"], description=doc.get("description", ""),
                  image=doc.get("image", "default"), weights=doc.get("weights", "synthetic"),
                  seed=seed, synthetic_weight_bits=swb,
                  profile=doc.get("profile", "paper-28nm"),
                  layers=tuple(doc["layers"]) if "layers" in doc else None, tiles=str(doc.get("tiles", "none")),
                  passes=str(doc.get("passes", "none")),
                  formats=tuple(doc.get("formats", FORMATS)), jpeg=jpeg, base=base, **contract,
                  split=tuple(dict(s) for s in doc.get("split", [])),
                  weight_decoder=tuple(dict(s) for s in doc.get("weight_decoder", [])))


def describe_sets() -> list:
    """[(name, network, description)] of the standard sets, by name."""
    out = []
    for name in standard_sets():
        sd = load_set(name)
        out.append((sd.name, sd.network, sd.description))
    return out


def default_out_dir(sd: SetDef, original: SetDef | None = None) -> str:
    """out/<set>, with a suffix per overridden choice, so an override never lands
    in the folder of the set as defined: out/<set>-<network> for another network,
    then -acc<bits>, -<overflow>, -<rounding>, -bias<bits>, -per-channel /
    -per-layer for each contract option that differs from the set's own."""
    parts = [sd.name]
    if original is not None:
        if sd.network != original.network:
            parts.append(sd.network)
        for key, text in (("acc_bits", "acc{}"), ("overflow", "{}"), ("rounding", "{}"), ("bias_bits", "bias{}")):
            if getattr(sd, key) != getattr(original, key):
                parts.append(text.format(getattr(sd, key)).replace("_", "-"))
        if sd.per_channel != original.per_channel:
            parts.append("per-channel" if sd.per_channel else "per-layer")
    return "out/" + "-".join(parts)


def golden_files(folder) -> set | None:
    """Files a previous golden build wrote into ``folder`` (its manifest says so), or None."""
    try:
        doc = json.loads((Path(folder) / MANIFEST).read_text())
        if not (isinstance(doc, dict) and str(doc.get("generator", "")).startswith("refimpl")
                and isinstance(doc.get("files"), list)):
            return None
        return {MANIFEST} | {e["path"] for e in doc["files"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def parse_tiles(text: str):
    """'none' -> 0, 'first:N' -> N, 'all' -> None (every tile), 'I-J' -> (I, J) (tile indices I..J)."""
    if text == "none":
        return 0
    if text == "all":
        return None
    if text.startswith("first:") and text[6:].isdigit() and int(text[6:]) > 0:
        return int(text[6:])
    lo, dash, hi = text.partition("-")
    if dash and lo.isdigit() and hi.isdigit() and int(lo) <= int(hi):
        return int(lo), int(hi)
    raise RefimplError(f"tiles '{text}' must be none, first:N (N > 0), all or I-J (tile indices, I <= J)")


def tile_selected(limit, index: int) -> bool:
    """Whether tile ``index`` is written under a parse_tiles selection."""
    if isinstance(limit, tuple):
        return limit[0] <= index <= limit[1]
    return limit is None or index < limit


def parse_formats(items) -> tuple:
    fmts = tuple(items)
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise RefimplError(f"format '{','.join(bad) or ''}' unknown (choose from: {', '.join(FORMATS)})")
    return tuple(f for f in FORMATS if f in fmts)


@dataclass
class _Writer:
    """Collects files in a temporary folder and their manifest entries."""

    root: Path
    formats: tuple
    header: str
    entries: list = field(default_factory=list)

    def _put(self, rel: str, data: bytes, meta: dict):
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries.append(dict(path=rel, bytes=len(data), sha256=sha256(data), **meta))

    def tensor(self, stem: str, a: np.ndarray, word_bits: int, axes: list, tag: str) -> str:
        a = np.ascontiguousarray(a)
        meta = dict(dtype=str(a.dtype), shape=list(a.shape), word_bits=word_bits, axes=axes, tag=tag)
        header = [f"{self.header} {tag}",
                  f"shape={'x'.join(map(str, a.shape)) or '0'} axes={','.join(axes)} word_bits={word_bits} "
                  f"two's complement, row-major, one word per line"]
        for fmt in self.formats:
            data = to_hex(a, word_bits, header) if fmt == "hex" else to_bin(a) if fmt == "bin" else to_npy(a)
            self._put(f"{stem}.{fmt}", data, dict(format=fmt, **meta))
        return stem

    def raw(self, rel: str, data: bytes, tag: str):
        self._put(rel, data, dict(format="raw", dtype="uint8", shape=[len(data)], word_bits=8, axes=["byte"], tag=tag))
        return rel


def _contract_tag(ql) -> str:
    wf = ql.contract()["w_frac"]
    q_w = f"{min(wf)}..{max(wf)}(per_channel)" if isinstance(wf, list) else wf
    bias = f" bias={ql.bias_bits}b" if ql.bias is not None else ""
    return (f"q_in={ql.in_frac} q_w={q_w} q_out={ql.out_frac} acc={ql.acc_bits}b{bias} "
            f"round={ql.rounding} ovf={ql.overflow} relu={int(ql.relu)}")


def coarse_params(params: dict, bits: int) -> dict:
    """Synthetic float params on coarse grids, so that exact rounding ties occur.

    Weights: per output channel, levels k * step with |k| <= L = 2**(bits-1) - 1
    and step = 2**ceil(log2(max|w_c| / L)) (k = floor(w/step + 0.5), clipped).
    quantize.choose_frac then maps step to 2**13 for max|k| = 2 or 3 (3-bit
    levels: 3 * 2**13 <= 32767 < 3 * 2**14, 2 * 2**14 = 32768 does not fit),
    so every int16 weight, and every product, is a multiple of 2**13.
    Biases: multiples of 2**-COARSE_BIAS_FRAC; with 32-bit bias words at
    b_frac >= 13 + COARSE_BIAS_FRAC (AlexNet: b_frac 22..23) the aligned bias
    is a multiple of 2**13 too.  The accumulator's low 13 bits are then zero
    and a requantization shift s drops an exact half with probability about
    2**-(s - 13) instead of 2**-s: round half to even and half up differ on
    thousands of outputs (counted in tests/test_golden.py) instead of none.
    """
    if not (isinstance(bits, int) and not isinstance(bits, bool) and 2 <= bits <= 8):
        raise RefimplError(f"synthetic_weight_bits {bits!r} must be an integer 2..8 (0: full precision)")
    levels = (1 << (bits - 1)) - 1
    out = {}
    for key, v in params.items():
        if key.endswith(".weight"):
            flat = v.reshape(v.shape[0], -1)
            peak = np.abs(flat).max(axis=1)
            step = np.exp2(np.ceil(np.log2(np.where(peak > 0, peak, 1.0) / levels)))[:, None]
            out[key] = (np.clip(np.floor(flat / step + 0.5), -levels, levels) * step).reshape(v.shape)
        else:
            out[key] = np.floor(v * 2.0 ** COARSE_BIAS_FRAC + 0.5) / 2.0 ** COARSE_BIAS_FRAC
    return out


def _weights_text(sd: SetDef) -> str:
    if sd.weights != "synthetic":
        return sd.weights
    bits = sd.synthetic_weight_bits
    coarse = f", coarse {bits}-bit levels (vectors.coarse_params)" if bits else ""
    return f"synthetic seed {sd.seed}{coarse}"


def _resolve(base: str, rel: str) -> str:
    p = Path(rel)
    return str(p if p.is_absolute() else Path(base) / p)


def check_layers(sd: SetDef, spec) -> None:
    """RefimplError naming the set's layers (and JPEG feature sources) missing from its network."""
    known = {l.name for l in spec.layers}
    wanted = list(sd.layers or ()) + [str(j.get("source", ""))[8:] for j in sd.jpeg
                                      if str(j.get("source", "")).startswith("feature:")]
    missing = [n for n in dict.fromkeys(wanted) if n not in known]
    if missing:
        raise RefimplError(f"set {sd.name}: unknown layer{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(repr(n) for n in missing)} in network {spec.name} "
                           f"(its layers: {', '.join(l.name for l in spec.layers)})")


def build_set(sd: SetDef, out_dir, force: bool = False, progress=None, warn=None) -> dict:
    """Run the set's network and write the golden folder atomically; returns the manifest.

    ``out_dir`` is replaced only when it is a previous golden set (or empty)
    unless ``force``.  ``progress(i, n, layer)`` is called before each layer
    runs; ``warn(text)`` gets format-clamping warnings.
    """
    spec = networks.get(sd.network)
    quantize.check_supported(spec)
    # a profile .toml path is relative to the set file, like its image and weights
    prof = load_profile(_resolve(sd.base, sd.profile) if sd.profile.endswith(".toml") else sd.profile)
    formats = parse_formats(sd.formats)
    limit = parse_tiles(sd.tiles)
    pass_limit = array_golden.parse_passes(sd.passes)
    if pass_limit != 0 and limit == 0:
        raise RefimplError(f"set {sd.name}: passes '{sd.passes}' needs tiles (its tiles are 'none')")
    check_layers(sd, spec)
    check_output_dir(out_dir, golden_files, force)
    names = [l.name for l in spec.layers] if sd.layers is None else list(sd.layers)
    jpeg_layers = [j.get("source", "")[8:] for j in sd.jpeg if str(j.get("source", "")).startswith("feature:")]
    order = [l.name for l in spec.layers]
    last = max((order.index(n) for n in names + jpeg_layers), default=len(order) - 1)
    until = order[last]
    pixels = image.load(None if sd.image == "default" else _resolve(sd.base, sd.image), spec.input_shape)
    weights_sha256 = None
    if sd.weights == "synthetic":
        params = quantize.synthetic_params(spec, sd.seed, until=until)
        if sd.synthetic_weight_bits:
            params = coarse_params(params, sd.synthetic_weight_bits)
    elif sd.synthetic_weight_bits:
        raise RefimplError(f"set {sd.name}: synthetic_weight_bits applies to synthetic weights only")
    else:
        params = wload.load_params(_resolve(sd.base, sd.weights), spec)
        weights_sha256 = file_sha256(_resolve(sd.base, sd.weights))
    for key in CONTRACT_DEFAULTS:             # a SetDef built in code, or changed by the command line
        problem = contract_problem(key, getattr(sd, key))
        if problem:
            raise RefimplError(f"set {sd.name}: {key} {getattr(sd, key)!r} {problem}")
    qnet = quantize.quantize_network(spec, params, pixels, per_channel=sd.per_channel, bias_bits=sd.bias_bits,
                                     acc_bits=sd.acc_bits, overflow=sd.overflow, rounding=sd.rounding, until=until)
    x = quantize.pixels_to_int(pixels, spec)

    selected = set(names)
    captured = {}
    previous = {}                 # layer -> psums of the tile just run (a later chunk's psums_in)

    def hook(d):
        if d.layer in selected and tile_selected(limit, d.tile.index):
            d.psums_in = None if d.tile.first_chunk else previous.get(d.layer)
            captured.setdefault(d.layer, []).append(d)
        previous[d.layer] = d.psums[0] if pass_limit != 0 else None

    if limit == 0:
        results = engine.run(qnet, x, until=until, progress=progress)
        shapes = layer_shapes(spec)
        for r, s, i in zip(results, shapes, range(len(results))):
            r.counters = cost.layer_counters(s, prof, len(spec.sources(i)))
    else:
        results = tiled.run(qnet, x, prof, until=until, hook=hook, progress=progress)
    shapes = {s.layer.name: s for s in layer_shapes(spec)}
    for text in clamp_warnings(qnet, results, params):
        if warn is not None:
            warn(text)

    with atomic_dir(out_dir, golden_files, force) as tmp:
        w = _Writer(tmp, formats, f"refimpl {__version__} golden set={sd.name} net={spec.name}")
        layer_docs = []
        for r, ql in zip(results, qnet.layers):
            if r.name not in selected:
                continue
            layer, s = spec.layer(r.name), shapes[r.name]
            tag = f"layer={r.name} {_contract_tag(ql)}"
            files = dict(input=w.tensor(f"layers/{r.name}/input", r.input[0], 16, ["channel", "row", "col"],
                                        f"{tag} tensor=input"))
            if layer.weighted:
                waxes = ["out_channel", "in_channel", "ky", "kx"] if layer.kind == "conv" else ["out", "in"]
                files["weights"] = w.tensor(f"layers/{r.name}/weights", ql.weights, 16, waxes, f"{tag} tensor=weights")
                files["bias"] = w.tensor(f"layers/{r.name}/bias", ql.bias, ql.bias_bits, ["out_channel"],
                                         f"{tag} tensor=bias")
            files["output"] = w.tensor(f"layers/{r.name}/output", r.output[0], 16, ["channel", "row", "col"],
                                       f"{tag} tensor=output")
            doc = layer_record(layer, s, ql, files)
            doc.update(per_channel=bool(np.ndim(ql.w_frac)), weight_shape=list(s.weight_shape),
                       acc_overflows=r.stats.acc_overflows,
                       saturations=r.stats.saturations, expected=cost.counters_record(r.counters, prof))
            if layer.weighted:
                doc["tiling"] = choose_tiling(s, prof).describe()
                doc["tiles"] = [_tile_doc(w, d, ql, layer, prof, tag, pass_limit)
                                for d in captured.get(r.name, [])]
            layer_docs.append(doc)
        jpeg_docs = [_jpeg_doc(w, j, results, pixels, sd) for j in sd.jpeg]
        extra = dict(split=_split_docs(w, sd, spec, pixels)) if sd.split else {}
        if sd.weight_decoder:
            extra["weight_decoder"] = _weight_decoder_docs(w, sd, spec, params)
        manifest = dict(schema=SCHEMA_VERSION, generator=f"refimpl {__version__}", set=sd.name,
                        description=sd.description, network=spec.name, profile=prof.name,
                        image=sd.image, weights=_weights_text(sd),
                        **({"weights_sha256": weights_sha256} if weights_sha256 else {}),
                        input_frac=qnet.input_frac, mean_q=list(qnet.mean_q), formats=list(formats),
                        tiles=sd.tiles, **({"passes": sd.passes} if pass_limit != 0 else {}), contract={k: getattr(sd, k) for k in CONTRACT_DEFAULTS},
                        layouts=dict(LAYOUTS, **PASS_LAYOUT) if pass_limit != 0 else LAYOUTS,
                        layers=layer_docs, jpeg=jpeg_docs, **extra,
                        files=sorted(w.entries, key=lambda e: e["path"]))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


LAYOUTS = {
    "feature map": "[channel][row][col] (one frame)",
    "conv weights": "[out_channel][in_channel within group][ky][kx]",
    "fc weights": "[out][in], in = flattened [channel][row][col]",
    "bias": "[out_channel], bias_bits wide, b_frac fractional bits",
    "tile inputs": "[in_channel][row][col] of the zero-padded input patch the tile reads: layer input channels "
                   "c0:c1 (absolute, the group offset included), padded rows y0*stride .. (y1-1)*stride+k-1",
    "tile weights": "[out_channel][in_channel][ky][kx], the tile's slice: layer weights [m0:m1][c0-g*cg : c1-g*cg] "
                    "(g = group, cg = in_channels/groups: weights index input channels within the group)",
    "tile psums": "[out_channel][row][col], acc_bits two's complement (bin/npy: int64), the accumulator after "
                  "the tile's input-channel chunk; a non-first chunk starts from the file named by its psums_in "
                  "(the previous tile's psums), a first chunk from the aligned bias",
    "tile outputs": "[out_channel][row][col], int16, on the tile's last input chunk",
    "jpeg": "blocks in the component's raster order; quantized in zig-zag order",
}
# added to LAYOUTS in sets written with passes (the others keep their bytes)
PASS_LAYOUT = {
    "tile passes": "tiles/L/tNNNN/passes/: w_stream [pass][step][row], x_stream [pass][step][col] (int16), "
                   "psums_start, psums_end [pass][row][col] (acc_bits), outputs [pass][row][col] (int16, last "
                   "chunk); pass order, padding and skew in each tile's 'passes' record",
}


def _weight_decoder_docs(w: _Writer, sd: SetDef, spec, params) -> list:
    """Weight-decoder vectors (refimpl/weights/golden.py) from the set's weights (a bundle's own streams
    for entries that give no coding)."""
    from .weights import bundle, golden
    src = None
    if sd.weights != "synthetic" and bundle.is_bundle(_resolve(sd.base, sd.weights)):
        src = bundle.read_file(_resolve(sd.base, sd.weights))
    return [golden.write(w, e, spec, params, src, f"set {sd.name}") for e in sd.weight_decoder]


def _split_docs(w: _Writer, sd: SetDef, spec, pixels) -> list:
    """Feature-encoder vectors (refimpl/split/golden.py): the network quantized as edge and host do."""
    from .split import golden, partition
    params = quantize.synthetic_params(spec, sd.seed) if sd.weights == "synthetic" \
        else wload.load_params(_resolve(sd.base, sd.weights), spec)
    qnet = partition.quantize_for_split(spec, params)
    x = quantize.pixels_to_int(pixels, spec)
    return [golden.write(w, s, qnet, x, f"set {sd.name}") for s in sd.split]


def _tile_doc(w: _Writer, d, ql, layer, prof, tag: str, pass_limit=0) -> dict:
    t = d.tile
    stem = f"tiles/{d.layer}/t{t.index:04d}"
    tt = f"{tag} tile={t.index} m={t.m0}:{t.m1} rows={t.y0}:{t.y1} in={t.c0}:{t.c1}"
    files = dict(inputs=w.tensor(f"{stem}/inputs", d.inputs[0], 16, ["in_channel", "row", "col"], f"{tt} tensor=inputs"),
                 weights=w.tensor(f"{stem}/weights", d.weights, 16, ["out_channel", "in_channel", "ky", "kx"],
                                  f"{tt} tensor=weights"))
    if t.first_chunk:
        files["bias"] = w.tensor(f"{stem}/bias", ql.bias[t.m0:t.m1], ql.bias_bits, ["out_channel"], f"{tt} tensor=bias")
    files["psums"] = w.tensor(f"{stem}/psums", d.psums[0], ql.acc_bits, ["out_channel", "row", "col"],
                              f"{tt} tensor=psums")
    if d.outputs is not None:
        files["outputs"] = w.tensor(f"{stem}/outputs", d.outputs[0], 16, ["out_channel", "row", "col"],
                                    f"{tt} tensor=outputs")
    shift = ql.shift
    params = dict(m=t.m1 - t.m0, tk=t.c1 - t.c0, k=layer.kernel if layer.kind == "conv" else 1,
                  stride=layer.stride if layer.kind == "conv" else 1,
                  in_rows=int(d.inputs.shape[2]), in_cols=int(d.inputs.shape[3]),
                  out_rows=int(d.psums.shape[2]), out_cols=int(d.psums.shape[3]),
                  shift=shift.tolist()[t.m0:t.m1] if np.ndim(shift) else int(shift),
                  bias_shift=(np.asarray(ql.acc_frac) - ql.b_frac).tolist()[t.m0:t.m1] if np.ndim(ql.acc_frac)
                  else int(ql.acc_frac - ql.b_frac),
                  relu=bool(ql.relu), acc_bits=ql.acc_bits, bias_bits=ql.bias_bits, rounding=ql.rounding,
                  overflow=ql.overflow)
    # a later input-channel chunk starts from the psums the previous chunk (the previous tile) ended with
    psums_in = None if t.first_chunk else f"tiles/{d.layer}/t{t.index - 1:04d}/psums"
    extra = {}
    if pass_limit != 0:
        extra["passes"] = array_golden.pass_doc(w, stem, tt, d, ql, layer, prof, getattr(d, "psums_in", None),
                                                pass_limit)
    return dict(index=t.index, group=t.group, m0=t.m0, m1=t.m1, y0=t.y0, y1=t.y1, c0=t.c0, c1=t.c1,
                first_chunk=t.first_chunk, last_chunk=t.last_chunk, load_weights=t.load_weights,
                psums_in=psums_in, params=params, expected=cost.counters_record(d.counters, prof), files=files,
                **extra)


def _jpeg_doc(w: _Writer, j: dict, results, pixels, sd: SetDef) -> dict:
    from . import jpeg
    name = j.get("name") or "jpeg"
    source = str(j.get("source", ""))
    quality = int(j.get("quality", 75))
    if source.startswith("feature:"):
        layer = source[8:]
        r = next(r for r in results if r.name == layer)
        u8, shift = features.to_samples(r.output[0])
        img = features.mosaic(u8)
        info = dict(layer=layer, sample_shift=shift, grid=list(features.grid(u8.shape[0])))
        subsampling = None
    elif source == "image":
        img = np.ascontiguousarray(pixels.transpose(1, 2, 0))
        info = {}
        subsampling = j.get("subsampling", "4:2:0")
    else:
        raise RefimplError(f"set {sd.name}: jpeg '{name}': source '{source}' must be 'image' or 'feature:<layer>'")
    tr = jpeg.trace_encoder(img, quality=quality, subsampling=subsampling)
    stem = f"jpeg/{name}"
    tag = f"jpeg={name} source={source} q={quality}"
    files = dict(image=w.tensor(f"{stem}/image", img, 8, ["row", "col"] + (["rgb"] if img.ndim == 3 else []),
                                f"{tag} tensor=encoder input (unsigned samples)"))
    for ci, comp in enumerate(tr.components):
        c = f"{stem}/c{comp.ident}"
        files[f"c{comp.ident}_level_shifted"] = w.tensor(f"{c}_level_shifted", comp.level_shifted.astype(np.int16), 16,
                                                         ["block", "v", "u"], f"{tag} comp={comp.ident} tensor=level_shifted")
        files[f"c{comp.ident}_dct"] = w.tensor(f"{c}_dct", comp.dct.astype(np.int32), 32, ["block", "v", "u"],
                                               f"{tag} comp={comp.ident} tensor=islow DCT (scaled by 8)")
        files[f"c{comp.ident}_quantized"] = w.tensor(f"{c}_quantized", comp.quantized.astype(np.int16), 16,
                                                     ["block", "zigzag"], f"{tag} comp={comp.ident} tensor=quantized")
    sym = tr.symbols
    table = np.stack([sym.block, sym.component, sym.is_dc, sym.symbol, tr.code, tr.code_length,
                      sym.extra, sym.extra_length], axis=1).astype(np.int32)
    files["symbols"] = w.tensor(f"{stem}/symbols", table, 32, ["symbol", "field"],
                                f"{tag} tensor=symbols fields={','.join(SYMBOL_FIELDS)}")
    files["entropy_unstuffed"] = w.tensor(f"{stem}/entropy_unstuffed", np.frombuffer(tr.entropy_unstuffed, np.uint8),
                                          8, ["byte"], f"{tag} tensor=entropy-coded segment before byte stuffing")
    files["entropy_stuffed"] = w.tensor(f"{stem}/entropy_stuffed", np.frombuffer(tr.entropy_stuffed, np.uint8),
                                        8, ["byte"], f"{tag} tensor=entropy-coded segment after byte stuffing")
    files["jpeg"] = w.raw(f"{stem}/image.jpg", tr.jpeg, f"{tag} the complete JPEG file")
    return dict(name=name, source=source, quality=quality, subsampling=subsampling, shape=list(img.shape),
                bytes=len(tr.jpeg), compression=round(img.size / len(tr.jpeg), 4), symbol_fields=SYMBOL_FIELDS,
                **info, files=files)
