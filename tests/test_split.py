"""Partitioned inference (refimpl.split): mapping, mosaic, codecs, bitstream, split runs."""
import math
import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from jpeg_oracle import pillow_jpeg, pillow_pixels
from refimpl import engine, features, image, jpeg, networks, quantize
from refimpl.errors import RefimplError
from refimpl.split import bitstream, codecs, lossless, mapping, mosaic, partition
from refimpl.split.analysis import encoder_cost, entropy_bits

SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 20), st.integers(1, 20))


def int16_maps(sparse=True):
    """(C, H, W) int16 maps over the whole range, with zero runs and both extremes."""
    elems = st.one_of(st.just(0), st.just(-32768), st.just(32767), st.integers(-32768, 32767)) if sparse \
        else st.integers(-32768, 32767)
    return SHAPES.flatmap(lambda s: hnp.arrays(np.int16, s, elements=elems))


# ---------------------------------------------------------------- mapping
@settings(max_examples=60, deadline=None)
@given(int16_maps())
def test_minmax_mapping_is_round_half_up_of_the_exact_scale(x):
    u8, p = mapping.to_samples(x, "minmax")
    lo, hi = int(x.min()), int(x.max())
    assert (p.lo, p.hi) == (lo, hi)
    r = hi - lo
    for v, u in zip(x.reshape(-1).tolist()[:200], u8.reshape(-1).tolist()[:200]):
        want = 0 if r == 0 else int(Fraction((v - lo) * 255, r) + Fraction(1, 2))    # floor(exact + 1/2)
        assert u == want
    back = mapping.from_samples(u8, p).astype(np.int64)
    for u, b in zip(u8.reshape(-1).tolist()[:200], back.reshape(-1).tolist()[:200]):
        assert b == lo + int(Fraction(u * r, 255) + Fraction(1, 2))
    assert np.abs(back - x).max() <= -(-r // 510)


@settings(max_examples=60, deadline=None)
@given(int16_maps())
def test_shift_mapping_is_features_to_samples_and_inverts_by_left_shift(x):
    u8, p = mapping.to_samples(x, "shift")
    want, s = features.to_samples(x)
    assert p.shift == s and np.array_equal(u8, want)
    back = mapping.from_samples(u8, p).astype(np.int64)
    assert np.array_equal(back, np.clip(u8.astype(np.int64) << s, -32768, 32767))
    ok = (x >= 0) & (x.astype(np.int64) <= (255 << s))              # neither clipped below nor above
    assert np.all(np.abs(back - x)[ok] <= (1 << s) // 2)


# ---------------------------------------------------------------- mosaic
@settings(max_examples=40, deadline=None)
@given(SHAPES.flatmap(lambda s: hnp.arrays(np.uint8, s)), st.sampled_from(mosaic.MOSAICS))
def test_mosaic_matches_the_loop_and_inverts(u8, kind):
    img, lay = mosaic.to_mosaic(u8, kind)
    assert np.array_equal(img, mosaic.mosaic_naive(u8, kind))
    assert img.shape == lay.shape
    assert np.array_equal(mosaic.from_mosaic(img, lay, u8.shape), u8)
    if kind == "aligned":
        assert lay.cell_h % 8 == 0 and lay.cell_w % 8 == 0


def test_alexnet_conv5_mosaic_geometry():
    assert mosaic.layout("packed", (256, 13, 13)).shape == (208, 208)
    assert mosaic.layout("aligned", (256, 13, 13)).shape == (256, 256)


# ---------------------------------------------------------------- lossless
def test_lossless_symbols_by_hand():
    x = np.zeros((1, 1, 64), np.int16)
    x[0, 0, 2] = 5                 # two zeros, then 5: run 2, size 3, bits 101
    x[0, 0, 20] = -3               # 17 zeros: ZRL, then run 1, size 2, bits of -4 = ..100 -> 00
    x[0, 0, 21] = -32768           # ESC, then run 0 size 15, bits 0
    st_ = lossless.symbols(lossless.scan_units(x, "chw"))
    got = list(zip(st_["symbol"].tolist(), st_["extra"].tolist(), st_["extra_length"].tolist()))
    assert got == [(0x23, 5, 3), (0xF0, 0, 0), (0x12, 0, 2), (0x10, 0, 0), (0x0F, 0, 15), (0x00, 0, 0)]


@settings(max_examples=80, deadline=None)
@given(int16_maps(), st.sampled_from(lossless.SCANS))
def test_lossless_symbols_match_the_loop_and_round_trip(x, scan):
    units = lossless.scan_units(x, scan)
    s = lossless.symbols(units)
    got = list(zip(s["unit"].tolist(), s["symbol"].tolist(), s["extra"].tolist(), s["extra_length"].tolist()))
    assert got == lossless.symbols_naive(units)
    assert np.array_equal(lossless.decode(lossless.encode(x, scan), x.shape, scan), x)


@settings(max_examples=60, deadline=None)
@given(int16_maps(sparse=False), st.sampled_from(lossless.SCANS), st.sampled_from(lossless.PREDICTORS),
       st.integers(0, 15))
def test_lossless_round_trips_dense_maps_any_predictor_and_low_bits(x, scan, predictor, k):
    x = (x.astype(np.int64) >> k << k).astype(np.int16)         # common low bits: point transform k or more
    data = lossless.encode(x, scan, predictor)
    if k * x[0].size > 16:                                      # worth its 2-byte residue per channel
        assert data[0] >= k
    assert np.array_equal(lossless.decode(data, x.shape, scan, predictor), x)


@settings(max_examples=40, deadline=None)
@given(int16_maps(sparse=False))
def test_left_prediction_is_the_modulo_2_16_difference(x):
    d = lossless.predict(x, "left")
    c, h, w = x.shape
    for ch in range(c):
        for y in range(h):
            prev = 0
            for col in range(w):
                v = int(x[ch, y, col])
                assert int(d[ch, y, col]) == ((v - prev + 32768) % 65536) - 32768
                prev = v
    assert np.array_equal(lossless.unpredict(d, "left"), x)


def test_point_transform_of_the_input_map():
    spec = networks.get("alexnet")
    x = quantize.pixels_to_int(image.load(None, spec.input_shape), spec)
    k, r, y = lossless.point_transform(x)
    means = [int(np.floor(m * 128 + 0.5)) for m in spec.input_mean]     # MEAN_Q, input_frac 7
    assert k == 7 and r.tolist() == [(-m) % 128 for m in means]
    assert np.array_equal(lossless.inverse_point_transform(y, k, r), x)


def test_lossless_every_int16_value():
    x = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16).reshape(16, 64, 64)
    for scan in lossless.SCANS:
        for predictor in lossless.PREDICTORS:
            data = lossless.encode(x, scan, predictor)
            assert np.array_equal(lossless.decode(data, x.shape, scan, predictor), x)


def test_lossless_table_is_libjpegs_optimal_table_and_bits_add_up():
    rng = np.random.default_rng(3)
    x = (rng.integers(-300, 300, (8, 9, 11)) * (rng.random((8, 9, 11)) < 0.3)).astype(np.int16)
    x[0, 0, 0] = 1                                              # odd: point transform k = 0
    data = lossless.encode(x, "chw", "none")
    assert data[0] == 0
    data = data[1:]
    s = lossless.symbols(lossless.scan_units(x, "chw"))
    t = jpeg.optimal_table(np.bincount(s["symbol"], minlength=256), False)
    n_sym = len(t.spec.values)
    assert data[:16] == bytes(t.spec.bits) and data[16:16 + n_sym] == bytes(t.spec.values)
    bits = int(t.lengths[s["symbol"]].astype(np.int64).sum() + s["extra_length"].astype(np.int64).sum())
    assert len(data) == 16 + n_sym + -(-bits // 8)


def test_lossless_rejects_corrupt_payloads():
    x = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    data = lossless.encode(x, "chw")
    for bad in (b"", b"\x10" + data[1:], data[:10], data[:-1], data + b"\x00", data[:17] + bytes([255]) + data[18:]):
        with pytest.raises(RefimplError, match="lossless payload is corrupt"):
            lossless.decode(bad, x.shape, "chw")


# ---------------------------------------------------------------- jpeg on the mosaic
@settings(max_examples=25, deadline=None)
@given(SHAPES.flatmap(lambda s: hnp.arrays(np.int16, s, elements=st.integers(-2000, 30000))),
       st.integers(1, 100), st.sampled_from(mapping.MAPPINGS), st.sampled_from(mosaic.MOSAICS), st.booleans())
def test_jpeg_payload_is_pillows_file_of_the_mosaic(x, qf, kind, lay, optimize):
    fields, full = codecs.encode_map(x, "jpeg", qf=qf, mapping=kind, mosaic=lay, abbreviated=False,
                                     optimize=optimize)
    u8, _ = mapping.to_samples(x, kind)
    img, _ = mosaic.to_mosaic(u8, lay)
    opts = dict(quality=qf, optimize=True) if optimize else dict(quality=qf)
    assert full == pillow_jpeg(Image.fromarray(img, "L"), **opts)
    _, short = codecs.encode_map(x, "jpeg", qf=qf, mapping=kind, mosaic=lay, abbreviated=True, optimize=optimize)
    assert b"\xff\xdb" not in short.split(b"\xff\xda")[0] and b"JFIF" not in short       # no DQT, no APP0
    assert (b"\xff\xc4" in short.split(b"\xff\xda")[0]) == optimize                     # DHT only when optimized
    rebuilt = codecs.complete(short, qf, optimize)
    assert np.array_equal(pillow_pixels(rebuilt), pillow_pixels(full))
    h = bitstream.Header(codec="jpeg", network="n", layer="l", shape=x.shape, out_frac=0, **fields)
    assert np.array_equal(codecs.decode_map(dict_replace(h, abbreviated=True), short),
                          mapping.from_samples(mosaic.from_mosaic(pillow_pixels(full), h.mosaic, x.shape), h.mapping))


def dict_replace(h, **kw):
    import dataclasses
    return dataclasses.replace(h, **kw)


def test_rebuilt_dqt_is_the_one_pillow_writes():
    img = np.arange(64 * 64, dtype=np.int64).reshape(64, 64).astype(np.uint8)
    for qf in (1, 23, 50, 100):
        full = pillow_jpeg(Image.fromarray(img, "L"), quality=qf)
        dqt = full[full.index(b"\xff\xdb"):][:2 + 2 + 65]
        assert codecs.complete(b"\xff\xd8", qf, True)[2:] == dqt


@settings(max_examples=30, deadline=None)
@given(int16_maps())
def test_raw_payload_is_big_endian_int16(x):
    _, p = codecs.encode_map(x, "raw")
    assert p == struct.pack(f">{x.size}h", *x.reshape(-1).tolist())


# ---------------------------------------------------------------- bitstream damage
def _stream(codec="jpeg"):
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 5000, (5, 6, 7)) * (rng.random((5, 6, 7)) < 0.5)).astype(np.int16)
    fields, payload = codecs.encode_map(x, codec, qf=40, mapping="minmax", mosaic="aligned")
    h = bitstream.Header(codec=codec, network="alexnet", layer="conv5", shape=x.shape, out_frac=3,
                         weights_crc=0x12345678, **fields)
    return bitstream.write(h, payload), h, payload


def _offsets(h):
    """(field, offset, size) of the header, derived here from the field list."""
    out, pos = [], 0
    for name, fmt, _ in bitstream.FIELDS:
        size = 1 + len(getattr(h, name)) if fmt == "name" else struct.calcsize(">" + fmt)
        out.append((name, pos, size))
        pos += size
    return out


@pytest.mark.parametrize("codec", bitstream.CODECS)
def test_bitstream_round_trip_and_header_size(codec):
    data, h, payload = _stream(codec)
    assert bitstream.read(data) == (h, payload)
    offs = _offsets(h)
    end = offs[-1][1] + offs[-1][2]
    assert len(data) == end + len(payload) and bitstream.header_size(h) == end
    assert data[:4] == b"RFSB" and struct.unpack(">I", data[end - 4:end])[0] == zlib.crc32(data[:end - 4])


@pytest.mark.parametrize("codec", bitstream.CODECS)
def test_bitstream_truncated_anywhere_names_the_field(codec):
    data, h, payload = _stream(codec)
    offs = _offsets(h)
    end = offs[-1][1] + offs[-1][2]
    for cut in range(len(data)):
        with pytest.raises(RefimplError) as e:
            bitstream.read(data[:cut])
        msg = str(e.value)
        if cut < end:
            field = next(n for n, o, s in offs if o <= cut < o + s)
            if field == "magic" and cut < 4:
                assert f"truncated in field '{field}'" in msg
            else:
                assert f"truncated in field '{field}" in msg, (cut, msg)
        else:
            assert f"payload truncated: {cut - end} of {len(payload)} bytes" in msg


@pytest.mark.parametrize("codec", bitstream.CODECS)
def test_bitstream_every_altered_byte_is_rejected(codec):
    data, h, payload = _stream(codec)
    end = len(data) - len(payload)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x41
        with pytest.raises(RefimplError) as e:
            bitstream.read(bytes(bad))
        msg = str(e.value)
        if i < 4:
            assert "not a refimpl feature bitstream" in msg
        elif i == 4:
            assert "unsupported version" in msg
        elif i >= end:
            assert "payload CRC-32 mismatch" in msg
        else:
            assert "header CRC-32 mismatch" in msg or "truncated in field" in msg or "header_bytes" in msg, (i, msg)
    with pytest.raises(RefimplError, match="1 trailing bytes"):
        bitstream.read(data + b"\x00")


def _refit(data: bytes, h, name: str, raw: bytes) -> bytes:
    """Replace one field's bytes and recompute header_bytes and both CRCs (a crafted stream)."""
    offs = {n: (o, s) for n, o, s in _offsets(h)}
    o, s = offs[name]
    b = bytearray(data[:o] + raw + data[o + s:])
    delta = len(raw) - s
    end = offs["header_crc"][0] + 4 + delta
    struct.pack_into(">H", b, offs["header_bytes"][0], end)
    struct.pack_into(">I", b, end - 4, zlib.crc32(bytes(b[:end - 4])))
    return bytes(b)


@pytest.mark.parametrize("name,raw,match", [
    ("codec", b"\x07", "field 'codec' = 7 unknown"),
    ("mapping", b"\x05", "field 'mapping' = 5 unknown"),
    ("mapping", b"\x00", "mapping, mosaic and qf are set exactly for jpeg"),
    ("mosaic", b"\x09", "field 'mosaic' = 9 unknown"),
    ("qf", b"\x00", "mapping, mosaic and qf are set exactly for jpeg"),
    ("qf", b"\x65", "field 'qf' = 101 outside 1..100"),
    ("scan", b"\x01", "field 'scan' = blocks / 'predictor' = none set for codec jpeg"),
    ("predictor", b"\x01", "'predictor' = left set for codec jpeg"),
    ("predictor", b"\x02", "field 'predictor' = 2 unknown"),
    ("scan", b"\x03", "field 'scan' = 3 unknown"),
    ("jpeg_flags", b"\x04", "jpeg_flags"),
    ("grid_cols", b"\x00\x07", "mosaic geometry"),
    ("cell_h", b"\x00\x07", "mosaic geometry"),
    ("lo", b"\x7f\xff", "lo 32767 > hi"),
    ("shift", b"\x02", "shift 2 set"),
    ("channels", b"\x00\x00", "empty dimension"),
    ("layer", b"\x00", "field 'layer' is empty"),
    ("network", b"\x02\xff\xfe", "field 'network' is not printable ASCII"),
    ("payload_bytes", b"\x00\x00\x00\x01", "trailing bytes"),
])
def test_bitstream_crafted_fields_are_rejected(name, raw, match):
    data, h, _ = _stream("jpeg")
    with pytest.raises(RefimplError, match=match):
        bitstream.read(_refit(data, h, name, raw))


def test_bitstream_codec_without_jpeg_fields():
    data, h, _ = _stream("lossless")
    with pytest.raises(RefimplError, match="fields cell_h set for codec lossless"):
        bitstream.read(_refit(data, h, "cell_h", b"\x00\x08"))


# ---------------------------------------------------------------- split runs
@pytest.fixture(scope="module", params=["alexnet-cifar", "alexnet"])
def net(request):
    spec = networks.get(request.param)
    params = quantize.synthetic_params(spec, 0)
    qnet = partition.quantize_for_split(spec, params)
    x = quantize.pixels_to_int(image.load(None, spec.input_shape), spec)
    return spec, params, qnet, x, engine.run(qnet, x)


@pytest.fixture(scope="module")
def cifar():
    spec = networks.get("alexnet-cifar")
    params = quantize.synthetic_params(spec, 0)
    qnet = partition.quantize_for_split(spec, params)
    x = quantize.pixels_to_int(image.load(None, spec.input_shape), spec)
    return spec, params, qnet, x, engine.run(qnet, x)


def test_lossless_split_at_every_layer_is_bit_identical(net):
    spec, params, qnet, x, results = net
    full = results[-1].output.reshape(1, -1)
    outputs = {r.name: r.output for r in results}
    for at in partition.split_points(spec):
        fmap = outputs[at][0] if at in outputs else x            # engine.run's output: edge_run is that run
        data = partition.encode_fmap(qnet, fmap, at, "lossless", scan="blocks" if at.startswith("conv") else "chw")
        out = partition.host_decode_run(qnet, data, "fixed")
        assert np.array_equal(out["fmap"], outputs.get(at, x[None])), at
        assert np.array_equal(out["scores_int"], full), at
        assert out["out_frac"] == qnet.layers[-1].out_frac


def test_float_host_is_the_float_reference_of_the_decoded_map(net):
    spec, params, qnet, x, results = net
    at = "pool5"
    data = partition.edge_encode(qnet, x, at, "raw")
    got = partition.host_decode_run(qnet, data, "float", params)["scores"]
    fmap = results[[r.name for r in results].index(at)].output.astype(np.float64) * 2.0 ** -qnet.layer(at).out_frac
    h = fmap.reshape(1, -1)
    for name in ("fc6", "fc7", "fc8"):
        h = h @ params[f"{name}.weight"].T + params[f"{name}.bias"]
        h = np.maximum(h, 0) if spec.layer(name).relu else h
    np.testing.assert_allclose(got, h, rtol=1e-12, atol=1e-9)      # two float64 orders of the same sums


def test_batched_api_equals_frame_by_frame(cifar):
    spec, params, qnet, x, results = cifar
    xb = np.stack([x, x[:, :, ::-1].copy()])
    streams = partition.edge_encode(qnet, xb, "conv5", "jpeg", qf=30)
    assert isinstance(streams, list) and len(streams) == 2
    both = partition.host_decode_run(qnet, streams, "fixed")
    for i, s in enumerate(streams):
        one = partition.host_decode_run(qnet, s, "fixed")
        assert np.array_equal(one["scores_int"][0], both["scores_int"][i])


def test_host_refuses_streams_it_did_not_make(cifar):
    spec, params, qnet, x, results = cifar
    data = partition.edge_encode(qnet, x, "conv3", "raw")
    q1 = partition.quantize_for_split(spec, quantize.synthetic_params(spec, 1))
    with pytest.raises(RefimplError, match="out_frac|other weights"):
        partition.host_decode(q1, data)
    h, payload = bitstream.read(data)
    import dataclasses
    for change, match in ((dict(network="alexnet"), "from network 'alexnet', this host runs 'alexnet-cifar'"),
                          (dict(layer="conv9"), "not a split point"), (dict(layer="pool5"), None),
                          (dict(out_frac=h.out_frac + 1), "out_frac"), (dict(weights_crc=1), "other weights")):
        crafted = bitstream.write(dataclasses.replace(h, **change), payload)
        with pytest.raises(RefimplError, match=match or "map at pool5 is \\(192, 7, 7\\)"):
            partition.host_decode(qnet, crafted)


def test_top_k_orders_by_score_then_index():
    assert partition.top_k(np.array([1.0, 3.0, 3.0, 2.0]), 3) == [(1, 3.0), (2, 3.0), (3, 2.0)]


def test_entropy_and_encoder_cost_by_hand():
    assert entropy_bits(np.array([[[0, 0, 1, 2]]], np.int16)) == pytest.approx(1.5)
    from refimpl.profile import load_profile
    prof = load_profile()
    h = bitstream.Header(codec="lossless", network="n", layer="l", shape=(2, 3, 5), out_frac=0)
    c = encoder_cost(h, prof)
    assert c["cycles"] == 60 and c["energy_pj"] == pytest.approx(60.0)      # 30 values / 0.5, 30 x 2.0 pJ
    h = bitstream.Header(codec="jpeg", network="n", layer="l", shape=(256, 13, 13), out_frac=0,
                         mapping=mapping.MappingParams("shift"), mosaic=mosaic.layout("aligned", (256, 13, 13)), qf=5)
    c = encoder_cost(h, prof)
    assert c["cycles"] == 256 * 256 and c["energy_pj"] == pytest.approx(65536 * 2.5)


def test_readme_bitstream_table_matches_the_writer_field_for_field():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## Partitioned inference"):]
    section = section[section.index("| field | struct | bytes | meaning |"):]
    rows = []
    for line in section.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        rows.append([c.strip().strip("`") for c in line.strip("|").split("|")])
    want = [[n, f, "n+1" if f == "name" else str(struct.calcsize(">" + f)), d] for n, f, d in bitstream.FIELDS]
    assert rows == want


def test_lossless_coder_profile_figures_re_derived():
    from refimpl.profile import load_profile
    j = load_profile("paper-28nm").jpeg
    assert j.lossless_values_per_cycle == 1 / 2                  # two passes, one value per clock each
    # 4 x 16b add (0.05 pJ) + 1 x 32b add (0.1 pJ) at 45 nm, x 28/45; + 3 register accesses of 1 MAC each
    e_mac = (0.2 * 4 + 0.1 * 40 / 32) * 28 / 45
    derived = (4 * 0.05 + 0.1) * 28 / 45 + 3 * e_mac
    assert derived == pytest.approx(1.91, abs=0.01) and j.lossless_pj_per_value == math.ceil(derived * 10) / 10
