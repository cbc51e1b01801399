"""Golden vectors of the on-chip weight decoder, one layer per entry.

An entry of a set definition (``[[weight_decoder]]`` in vectors/*.toml) names a
layer and its coding: ``qf = Q`` (JPEG at quality Q) or ``codec = "lossless"``;
with neither, the layer's stream is taken from the set's weights when they are
a weight bundle.  ``write`` puts, under weight_decoder/<name>/:

  source_weights   int16 [row][col]   the layer's int16 weights before coding (the
                                      matrix [Cout][Cin/groups*kh*kw] or [Nout][Nin])
  stream.jpg       the JPEG stream in DRAM (full JFIF, optimized Huffman tables);
                   lossless: stream.bin, the lossless payload (split/lossless.py)
  image            uint8 [row][col]   the decoded 8-bit image (jpeg only)
  weights          int16 [row][col]   the decoder's output, the weights the MAC array
                                      receives (the engine's QLayer.weights, reshaped)
The manifest entry carries the layer, codec, qf, the mapping (lo, hi: w' = lo +
floor((p * (hi - lo) * 2 + 255) / 510)), w_frac, the matrix shape, the weight
shape, the stream and DRAM bytes (stream + 11 bytes of side information).
"""
from __future__ import annotations

from ..errors import RefimplError
from . import bundle, codec, mapping

ENTRY_KEYS = {"name", "layer", "qf", "codec"}


def check_entry(entry: dict, where: str, spec) -> dict:
    bad = set(entry) - ENTRY_KEYS
    if bad:
        raise RefimplError(f"{where}: [[weight_decoder]] unknown key '{sorted(bad)[0]}'")
    if not isinstance(entry.get("name"), str) or not isinstance(entry.get("layer"), str):
        raise RefimplError(f"{where}: [[weight_decoder]] needs 'name' and 'layer' (strings)")
    layer = spec.layer(entry["layer"])
    if not layer.weighted:
        raise RefimplError(f"{where}: [[weight_decoder]] layer '{layer.name}' has no weights")
    if "codec" in entry:
        codec.check_codec(entry["codec"])
    if entry.get("codec", "jpeg") == "jpeg" and "qf" in entry:
        codec.check_qf(entry["qf"])
    if entry.get("codec") == "lossless" and "qf" in entry:
        raise RefimplError(f"{where}: [[weight_decoder]] '{entry['name']}': qf applies to codec jpeg only")
    return entry


def write(w, entry: dict, spec, params: dict, source_bundle=None, where: str = "set") -> dict:
    """Write one entry with the golden writer ``w`` (vectors._Writer); returns its manifest doc."""
    e = check_entry(entry, where, spec)
    name = e["layer"]
    wq, frac = bundle.quantize_layer(params, name)
    if "qf" in e or "codec" in e:
        code = bundle.encode_layer(wq, frac, name, "lossless" if e.get("codec") == "lossless" else e["qf"])
    elif source_bundle is not None:
        code = source_bundle.layer(name).code
    else:
        raise RefimplError(f"{where}: [[weight_decoder]] '{e['name']}' needs qf or codec "
                           f"(or a weight bundle as the set's weights)")
    stages = codec.decode_stages(code)
    stem = f"weight_decoder/{e['name']}"
    tag = f"weight_decoder={e['name']} layer={name} codec={code.codec}" + (f" q={code.qf}" if code.qf else "") \
        + f" w_frac={frac}"
    axes = ["row", "col"]
    files = dict(source_weights=w.tensor(f"{stem}/source_weights", mapping.to_matrix(wq), 16, axes,
                                         f"{tag} tensor=int16 weights before coding"))
    if code.codec == "jpeg":
        files["stream"] = w.raw(f"{stem}/stream.jpg", code.data, f"{tag} the JPEG stream in DRAM (full JFIF)")
        files["image"] = w.tensor(f"{stem}/image", stages["image"], 8, axes, f"{tag} tensor=decoded 8-bit image")
    else:
        files["stream"] = w.raw(f"{stem}/stream.bin", code.data,
                                f"{tag} predictor={code.predictor} the lossless payload in DRAM")
    files["weights"] = w.tensor(f"{stem}/weights", stages["matrix"], 16, axes,
                                f"{tag} tensor=decoded int16 weights (the MAC array's)")
    return dict(name=e["name"], layer=name, codec=code.codec, qf=code.qf, w_frac=int(frac),
                mapping=dict(kind="minmax", lo=code.lo, hi=code.hi) if code.codec == "jpeg" else None,
                predictor=code.predictor, matrix=[code.rows, code.cols], weight_shape=list(wq.shape),
                stream_bytes=len(code.data), dram_bytes=code.dram_bytes, files=files)
