"""Feature-encoder golden set: regenerates byte for byte, and every stage checks out
against an independent computation (Pillow, the direct loops, the host decoder)."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jpeg_oracle import pillow_jpeg
from refimpl import engine, image, networks, quantize, vectors
from refimpl.split import bitstream, lossless, mapping, mosaic, partition

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "split-encoder"


def tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_hex(path: Path, bits: int, shape) -> np.ndarray:
    words = [int(l, 16) for l in path.read_text().splitlines() if l and not l.startswith("//")]
    v = np.array(words, dtype=np.int64)
    v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v) if bits > 8 else v
    return v.reshape(shape)


def test_checked_in_split_set_regenerates_byte_for_byte(tmp_path):
    vectors.build_set(vectors.load_set("split-encoder"), tmp_path / "s")
    want, got = tree(GOLDEN), tree(tmp_path / "s")
    assert sorted(got) == sorted(want)
    assert [k for k in want if want[k] != got[k]] == []


@pytest.fixture(scope="module")
def manifest():
    return json.loads((GOLDEN / "manifest.json").read_text())


@pytest.fixture(scope="module")
def cifar():
    spec = networks.get("alexnet-cifar")
    qnet = partition.quantize_for_split(spec, quantize.synthetic_params(spec, 0))
    x = quantize.pixels_to_int(image.load(None, spec.input_shape), spec)
    return qnet, {r.name: r.output[0] for r in engine.run(qnet, x)}


def test_every_stage_of_each_entry(manifest, cifar):
    qnet, outputs = cifar
    assert [e["name"] for e in manifest["split"]] == ["conv5-q30", "pool5-q50"]
    for e in manifest["split"]:
        d = GOLDEN / "split" / e["name"]
        fmap = read_hex(d / "feature_map.hex", 16, e["shape"])
        assert np.array_equal(fmap, outputs[e["layer"]])                  # the engine's output at the cut
        opt = e["options"]
        u8 = read_hex(d / "samples.hex", 8, e["shape"])
        want_u8, _ = mapping.to_samples(fmap.astype(np.int16), opt["mapping"])
        assert np.array_equal(u8, want_u8)
        img = read_hex(d / "mosaic.hex", 8, mosaic.layout(opt["mosaic"], tuple(e["shape"])).shape)
        assert np.array_equal(img, mosaic.mosaic_naive(u8.astype(np.uint8), opt["mosaic"]))
        pillow_opts = dict(quality=opt["qf"], optimize=True) if opt["optimize"] else dict(quality=opt["qf"])
        assert (d / "jpeg_full.jpg").read_bytes() == pillow_jpeg(Image.fromarray(img.astype(np.uint8), "L"),
                                                                  **pillow_opts)
        k, r, coded = lossless.coded_values(fmap.astype(np.int16), opt["predictor"])
        assert np.array_equal(read_hex(d / "lossless_coded.hex", 16, e["shape"]), coded)
        units = lossless.scan_units(coded, opt["scan"])
        sym = read_hex(d / "lossless_symbols.hex", 32, (-1, 6))
        naive = lossless.symbols_naive(units)
        assert [tuple(row) for row in sym[:, [0, 1, 4, 5]].tolist()] == [tuple(t) for t in naive]
        for name in ("lossless", "jpeg"):
            data = (d / f"{name}.rfsb").read_bytes()
            assert e["bitstreams"][name]["bytes"] == len(data)
            h, dec = partition.host_decode(qnet, data)
            assert h.layer == e["layer"]
            if name == "lossless":
                assert np.array_equal(dec, fmap)
        payload = bitstream.read((d / "jpeg.rfsb").read_bytes())[1]
        full = (d / "jpeg_full.jpg").read_bytes()
        assert payload == full if opt["container"] == "full" else len(payload) < len(full)
