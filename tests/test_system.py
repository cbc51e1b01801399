"""System model (refimpl/system/): a two-layer toy network and a link computed by hand,
the pipeline's stage switch, energy additivity, links, ratio tables, the fitted profile, the CLI."""
import csv
import json
import math
import sys
from importlib import resources

import pytest

from refimpl import cost, networks
from refimpl.cli import main
from refimpl.errors import RefimplError
from refimpl.profile import load_profile, parse_profile
from refimpl.spec import LayerSpec, NetworkSpec
from refimpl.system import fit, links, pipeline, ratios, stages, sweep

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    import tomli as tomllib

PROFILES = resources.files("refimpl") / "profiles"          # the installed package's, editable or not
REL = 1e-12          # float sums of the same terms in another order: a stated bound, far below any printed digit

# ---------------------------------------------------------------- the toy, by hand
# input (1, 4, 4) -> conv 12 x 3x3 pad 1 -> (12, 4, 4) -> fc 10
TOY = NetworkSpec(name="toy", input_shape=(1, 4, 4),
                  layers=(LayerSpec("conv", "conv", 12, kernel=3, pad=1, relu=True), LayerSpec("fc", "fc", 10)))


def toy_profile(features_in_dram=True):
    doc = tomllib.loads((PROFILES / "paper-28nm.toml").read_text())
    doc["name"] = "toy"
    doc["array"].update(clock_mhz=100.0)                             # 1 cycle = 10 ns
    doc["buffer"].update(feature_kib=64, weight_kib=64, features_in_dram=features_in_dram)
    doc["dram"].update(gbps=1.0, access_bits=32, e_access_pj=4.0)    # 10 bytes per cycle, 1 pJ per byte
    doc["energy"].update(e_mac_pj=1.0, e_buffer_read_pj=2.0, e_buffer_write_pj=3.0, e_register_pj=0.5,
                         static_mw=1.0)
    doc["jpeg"].update(encoder_pixels_per_cycle=1.0, encoder_pj_per_pixel=0.5, decoder_pixels_per_cycle=1.0,
                       decoder_pj_per_pixel=0.25, weight_compression=1.0, lossless_values_per_cycle=0.5,
                       lossless_pj_per_value=1.0)
    return parse_profile(doc, "toy profile")


def hand_layers(features_in_dram=True):
    """Cycles and energy (pJ) of the toy's two layers, each one tile, from the cost model's rules."""
    f = 1 if features_in_dram else 0
    # conv: m = 12 channels, p = 16 pixels, kc = 1*3*3 = 9; one tile (fits both buffers)
    macs1 = 12 * 16 * 9                                  # 1,728
    compute1 = 1 * 2 * 9                                 # ceil(12/12) * ceil(16/12) * 9 = 18
    in1, w1, out1 = 16, 108, 192                         # input 1x4x4, weights 12*9, outputs 12*16
    dram1 = 2 * (in1 + out1) * f + 2 * w1                # 416 feature + 216 weight bytes
    load1 = max(math.ceil(dram1 * 100e6 / 1e9), w1)      # DRAM at 10 B/cycle, decoder 1 weight/cycle: 108
    cyc1 = compute1 + load1                              # the layer's first tile pays compute + load
    reads1 = 9 * (2 * 12 + 1 * 16) + out1 * f            # kc * (ceil(p/12)*m + ceil(m/12)*p) + drain
    writes1 = in1 * f + w1 + out1
    # fc: 192 -> 10 as a 1x1 conv: m = 10, p = 1, kc = 192
    macs2 = 1920
    compute2 = 192
    in2, w2, out2 = 192, 1920, 10
    dram2 = 2 * (in2 + out2) * f + 2 * w2
    load2 = max(math.ceil(dram2 * 100e6 / 1e9), w2)      # 1,920 (decoder-bound)
    cyc2 = compute2 + load2
    reads2 = 192 * (1 * 10 + 1 * 1) + out2 * f
    writes2 = in2 * f + w2 + out2
    out = {}
    for name, macs, cyc, reads, writes, dram, feat, w in (
            ("conv", macs1, cyc1, reads1, writes1, dram1, 2 * (in1 + out1) * f, w1),
            ("fc", macs2, cyc2, reads2, writes2, dram2, 2 * (in2 + out2) * f, w2)):
        out[name] = dict(cycles=cyc, dram=dram, feature_bytes=feat, mac=macs * 1.0, buffer=reads * 2.0 + writes * 3.0,
                         register=macs * 0.5, dram_pj=dram / 4 * 4.0, dram_features_pj=feat * 1.0,
                         weight_decoder=w * 0.25, static=1e-3 * cyc / 100e6 * 1e12)
    return out


TOY_TABLE = ratios.Table(tuple(ratios.parse_rows([
    "layer,codec,qf,bytes_per_frame,ratio,top1_pct,origin",
    "input,jpeg,50,20,,,hand-made",
    "conv,raw,,400,,,hand-made",
    "conv,lossless,,200,,60,hand-made",
    "conv,jpeg,40,100,,59.5,hand-made",
], "toy table")), "toy table")
TOY_LINK = links.make_link(0.008, 10.0)          # 8,000 bit/s: one byte takes 1 ms; 10 mW: 10 uJ a byte


def test_toy_cost_model_by_hand():
    for fid in (True, False):
        rep = cost.network_cost(TOY, toy_profile(fid))
        hand = hand_layers(fid)
        for rec in rep["layers"]:
            h = hand[rec["name"]]
            assert rec["cycles"] == h["cycles"]
            assert rec["dram_bytes"] == h["dram"]
            e = rec["energy_pj"]
            for k in ("mac", "buffer", "register", "weight_decoder", "static"):
                assert e[k] == pytest.approx(h[k], rel=REL), (fid, rec["name"], k)
            assert e["dram"] == pytest.approx(h["dram_pj"], rel=REL)


def test_toy_every_point_by_hand():
    prof = toy_profile()
    hand = hand_layers()
    recs = {r["point"]: r for r in pipeline.sweep_points(TOY, prof, TOY_LINK, TOY_TABLE, "jpeg",
                                                         stages.points(TOY, ["conv"]))}
    assert list(recs) == ["host-only", "conv", "edge-only"]
    c, f = hand["conv"], hand["fc"]

    def inference_j(*layers):
        return sum((h["mac"] + h["buffer"] + h["register"] + h["dram_pj"] + h["weight_decoder"] + h["static"])
                   for h in layers) * 1e-12

    # host-only: nothing runs; the picture's 1x4x4 map is a 4x4 mosaic: 16 cycles, 16 * 0.5 pJ; 20 bytes sent
    h = recs["host-only"]
    assert h["edge_latency_s"] == 0 and h["edge_energy_j"] == 0
    assert h["encode_latency_s"] == pytest.approx(16 / 100e6, rel=REL)
    assert h["encode_energy_j"] == pytest.approx(8e-12, rel=REL)
    assert h["bits_per_frame"] == 160
    assert h["tx_latency_s"] == pytest.approx(160 / 8000, rel=REL)               # 20 ms
    assert h["tx_energy_j"] == pytest.approx(10e-3 * 0.02, rel=REL)              # 200 uJ
    assert h["throughput_fps"] == pytest.approx(1 / (16e-8 + 0.02), rel=REL)
    assert h["energy_j"] == pytest.approx(8e-12 + 2e-4, rel=REL)
    # conv partition, jpeg: conv runs (cycles by hand); 12 maps of 4x4 on a 4 x 3 grid = 16 x 12 = 192 pixels
    p = recs["conv"]
    assert p["edge_cycles"] == c["cycles"]
    assert p["edge_latency_s"] == pytest.approx(c["cycles"] / 100e6, rel=REL)
    assert p["edge_energy_j"] == pytest.approx(inference_j(c), rel=REL)
    assert p["encode_cycles"] == 192
    assert p["encode_energy_j"] == pytest.approx(192 * 0.5e-12, rel=REL)
    assert p["bits_per_frame"] == 800 and p["qf"] == 40 and p["top1_pct"] == 59.5
    assert p["tx_latency_s"] == pytest.approx(0.1, rel=REL)
    assert p["tx_energy_j"] == pytest.approx(1e-3, rel=REL)
    assert p["bottleneck"] == "encode+transmit"
    assert p["throughput_fps"] == pytest.approx(1 / (192e-8 + 0.1), rel=REL)
    assert p["latency_s"] == pytest.approx(c["cycles"] / 100e6 + 192e-8 + 0.1, rel=REL)
    assert p["energy_j"] == pytest.approx(inference_j(c) + 96e-12 + 1e-3, rel=REL)
    assert p["dram_feature_bytes"] == 416 and p["dram_weight_bytes"] == 216
    assert p["energy_dram_features_j"] == pytest.approx(416e-12, rel=REL)
    assert p["energy_dram_weights_j"] == pytest.approx(216e-12, rel=REL)
    # edge-only: both layers, top-5 = 10 bytes = 80 bits, no coder
    e = recs["edge-only"]
    assert e["edge_cycles"] == c["cycles"] + f["cycles"]
    assert e["edge_energy_j"] == pytest.approx(inference_j(c, f), rel=REL)
    assert e["encode_latency_s"] == 0 and e["encode_energy_j"] == 0
    assert e["bits_per_frame"] == 80
    assert e["tx_latency_s"] == pytest.approx(0.01, rel=REL)
    assert e["throughput_fps"] == pytest.approx(1 / 0.01, rel=REL)                # 10 ms of radio > 22 us
    assert e["frames_per_j"] == pytest.approx(1 / (inference_j(c, f) + 1e-4), rel=REL)


def test_toy_lossless_and_raw_coders_by_hand():
    prof = toy_profile()
    pts = stages.points(TOY, ["conv"])
    ll = pipeline.sweep_points(TOY, prof, TOY_LINK, TOY_TABLE, "lossless", pts)[1]
    assert ll["encode_cycles"] == 384                                     # 192 values at 0.5 per cycle
    assert ll["encode_energy_j"] == pytest.approx(192e-12, rel=REL)
    assert ll["bits_per_frame"] == 1600
    raw = pipeline.sweep_points(TOY, prof, TOY_LINK, TOY_TABLE, "raw", pts)[1]
    assert raw["encode_cycles"] == 0 and raw["encode_energy_j"] == 0 and raw["bits_per_frame"] == 3200


def test_throughput_switches_stage_at_the_right_rate():
    """conv/raw: stage 1 = 126 cycles = 1.26 us; stage 2 = 3,200 bits / rate, so the pipeline is
    transmit-bound below 3200 / 1.26e-6 bit/s = 2,539.68 Mbps and inference-bound above."""
    prof = toy_profile()
    pts = stages.points(TOY, ["conv"])
    stage1 = hand_layers()["conv"]["cycles"] / 100e6
    assert stage1 == pytest.approx(1.26e-6, rel=REL)
    switch_mbps = 3200 / stage1 / 1e6
    below = pipeline.sweep_points(TOY, prof, links.make_link(switch_mbps * 0.999, 1.0), TOY_TABLE, "raw", pts)[1]
    above = pipeline.sweep_points(TOY, prof, links.make_link(switch_mbps * 1.001, 1.0), TOY_TABLE, "raw", pts)[1]
    assert below["bottleneck"] == "encode+transmit"
    assert below["throughput_fps"] == pytest.approx(switch_mbps * 0.999e6 / 3200, rel=REL)
    assert above["bottleneck"] == "inference"
    assert above["throughput_fps"] == pytest.approx(1 / stage1, rel=REL)


@pytest.mark.parametrize("net,prof", [("alexnet", "paper-28nm"), ("alexnet", "paper-fit"), ("resnet50", "paper-28nm"),
                                      ("toy", "toy")])
def test_energy_is_additive_across_the_breakdown(net, prof):
    spec = TOY if net == "toy" else networks.get(net)
    profile = toy_profile() if prof == "toy" else load_profile(prof)
    table = TOY_TABLE if net == "toy" else ratios.paper_table(spec)
    pts = stages.points(spec, ["conv"]) if net == "toy" else None
    whole = cost.network_cost(spec, profile)["total"]["energy_pj"]["total"] * 1e-12
    for codec in ("raw", "jpeg"):
        for r in pipeline.sweep_points(spec, profile, links.load_link(), table, codec, pts):
            parts = [r[f"energy_{p}_j"] for p in pipeline.PARTS]
            assert r["energy_j"] == pytest.approx(sum(parts), rel=REL)
            assert r["edge_energy_j"] == pytest.approx(sum(parts[:7]), rel=REL)
            assert r["energy_encoder_j"] == r["encode_energy_j"] and r["energy_radio_j"] == r["tx_energy_j"]
            assert all(v >= 0 for v in parts)
            if r["kind"] == "edge-only":
                assert r["edge_energy_j"] == pytest.approx(whole, rel=1e-9)


def test_feature_maps_on_chip_remove_exactly_the_feature_traffic():
    on, off = cost.network_cost(TOY, toy_profile(False)), cost.network_cost(TOY, toy_profile(True))
    hand = hand_layers(True)
    for a, b in zip(on["layers"], off["layers"]):
        assert b["dram_bytes"] - a["dram_bytes"] == hand[a["name"]]["feature_bytes"]
    # shipped alexnet: the split of DRAM bytes into weights and features adds up to the cost model's
    spec = networks.get("alexnet")
    edge = pipeline.edge_costs(spec, load_profile("paper-28nm"))["fc8"]
    total = cost.network_cost(spec, load_profile("paper-28nm"))["total"]
    assert edge["dram_weight_bytes"] + edge["dram_feature_bytes"] == total["dram_bytes"]
    assert edge["dram_weight_bytes"] == 2 * total["decoded_weights"]          # weight_compression 1.0


# ---------------------------------------------------------------- links
def test_shipped_links_are_the_papers():
    for name, rate, mw in (("redpine-1mbps", 1, 62.7), ("redpine-2mbps", 2, 99), ("redpine-22mbps", 22, 660)):
        link = links.load_link(name)
        assert (link.rate_mbps, link.power_mw) == (rate, mw)
        assert link.nj_per_bit == pytest.approx(mw / rate, rel=REL)
    assert links.DEFAULT_LINK == "redpine-2mbps"
    assert links.load_link().tx_energy_j(2e6) == pytest.approx(0.099, rel=REL)      # 1 s at 99 mW


@pytest.mark.parametrize("text,msg", [
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=0\npower_mw=1', "key 'rate_mbps' must be > 0"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=-2\npower_mw=1', "key 'rate_mbps' must be > 0"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=nan\npower_mw=1', "must be a finite number"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps="2"\npower_mw=1', "must be a number"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=2', "missing key 'power_mw'"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=2\npower_mw=1\nbw=3', "unknown key 'bw'"),
    ('name="x"\ndescription=""\nsource=""\nrate_mbps=2e9\npower_mw=1', "outside the accepted range"),
    ('rate_mbps = = 2', "not valid TOML"),
])
def test_bad_link_files(tmp_path, text, msg):
    p = tmp_path / "l.toml"
    p.write_text(text)
    with pytest.raises(RefimplError, match=msg):
        links.load_link(str(p))


# ---------------------------------------------------------------- ratio tables
HEAD = "layer,codec,qf,bytes_per_frame,ratio,top1_pct,origin"


@pytest.mark.parametrize("rows,msg", [
    (["layer,codec,bytes"], "header must be"),
    ([HEAD, "pool5,zip,,100,,,x"], "unknown codec 'zip'"),
    ([HEAD, "pool5,raw,30,100,,,x"], "qf must be empty for codec raw"),
    ([HEAD, "pool5,jpeg,101,100,,,x"], "qf 101 outside 1..100"),
    ([HEAD, "pool5,jpeg,30,0,,,x"], "bytes_per_frame 0 must be a finite number > 0"),
    ([HEAD, "pool5,jpeg,30,-5,,,x"], "must be a finite number > 0"),
    ([HEAD, "pool5,jpeg,30,,,,x"], "both empty"),
    ([HEAD, "pool5,jpeg,30,100,,,"], "empty origin"),
    ([HEAD, "pool5,jpeg,30,100,,101,x"], "top1_pct 101 outside"),
    ([HEAD, "pool5,jpeg,30,100,,,x", "pool5,jpeg,30,90,,,y"], "line 3: a second row for layer pool5"),
    ([HEAD, "pool5,jpeg,30,100,x"], "5 fields"),
    ([HEAD], "no rows"),
    ([], "empty ratio table"),
])
def test_bad_ratio_tables(rows, msg):
    with pytest.raises(RefimplError, match=msg):
        ratios.parse_rows(rows, "t.csv")


def test_ratio_rows_are_checked_against_the_network():
    spec = networks.get("alexnet")
    # pool5 of alexnet: 256 x 6 x 6 x 2 = 18,432 raw bytes
    t = ratios.Table(ratios.parse_rows([HEAD, "pool5,jpeg,30,1000,18.432,,x", "pool5,lossless,,,4,,y"], "t"), "t")
    assert ratios.lookup(spec, t, "pool5", "jpeg").ratio == 18.432
    assert ratios.lookup(spec, t, "pool5", "lossless").bytes_per_frame == 18432 / 4
    assert ratios.lookup(spec, t, "pool5", "jpeg-ft").codec == "jpeg"             # no fine-tuned row: jpeg
    cifar = networks.get("alexnet-cifar")                                        # its pool5 is 128 x 3 x 3
    with pytest.raises(RefimplError, match="a table for another network"):
        ratios.lookup(cifar, t, "pool5", "jpeg")
    with pytest.raises(RefimplError, match="t: no row for layer conv3, codec raw"):
        ratios.lookup(spec, t, "conv3", "raw")


def test_several_qf_rows_pick_the_one_percent_point():
    spec = networks.get("alexnet")
    t = ratios.Table(ratios.parse_rows([HEAD, "pool5,lossless,,4000,,80.0,x", "pool5,jpeg,20,500,,78.5,x",
                                        "pool5,jpeg,30,700,,79.2,x", "pool5,jpeg,50,900,,79.9,x"], "t"), "t")
    assert ratios.lookup(spec, t, "pool5", "jpeg").qf == 30        # largest ratio with top-1 >= 80.0 - 1
    t2 = ratios.Table(ratios.parse_rows([HEAD, "pool5,jpeg,20,500,,,x", "pool5,jpeg,30,700,,,x"], "t2"), "t2")
    with pytest.raises(RefimplError, match="no top-1 to choose"):
        ratios.lookup(spec, t2, "pool5", "jpeg")


def test_paper_table_of_alexnet():
    spec = networks.get("alexnet")
    t = ratios.paper_table(spec)
    got = {(r.layer, r.codec): r for r in t.rows}
    assert got[("input", "jpeg")].ratio == 15.0
    assert got[("pool5", "jpeg")].ratio == 28.0
    assert got[("pool5", "jpeg-ft")].ratio == pytest.approx(28 * 1.11, rel=REL)
    # raw: 16-bit words + the bitstream header (50 bytes + two names with their length bytes)
    assert got[("pool5", "raw")].bytes_per_frame == 256 * 6 * 6 * 2 + 50 + 1 + len("alexnet") + 1 + len("pool5")
    assert got[("input", "raw")].bytes_per_frame == 3 * 227 * 227 * 2 + 50 + 1 + 7 + 1 + 5
    assert all(r.origin for r in t.rows)
    for net in ("vgg16", "resnet50"):
        tn = ratios.paper_table(networks.get(net))
        for p in stages.points(networks.get(net)):
            if p.kind != "edge-only":
                for codec in (("jpeg",) if p.kind == "host-only" else ("raw", "lossless", "jpeg", "jpeg-ft")):
                    ratios.lookup(networks.get(net), tn, p.layer, codec)              # every point has its rows


def test_measured_table_missing_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(ratios, "measured_path", lambda: tmp_path / "none.csv")
    with pytest.raises(RefimplError, match="measured ratio table missing"):
        ratios.read_measured()
    assert ratios.read_measured(required=False) is None
    with pytest.raises(RefimplError, match="measured ratio table missing"):      # the paper table borrows from it
        ratios.paper_table(networks.get("alexnet"))


def test_paper_table_borrows_the_measured_stage():
    """Every row the paper does not state is alexnet-cifar's measured row of the same stage (its cut layer,
    pool1 for stage s1 ...), read here straight from the shipped CSV with the csv module."""
    with open(ratios.measured_path(), newline="") as f:
        csv_rows = {(r["layer"], r["codec"]): r for r in csv.DictReader(f)}
    cifar_cut = {"s1": "pool1", "s2": "pool2", "s3": "conv3", "s4": "conv4", "s5": "pool5", "fc6": "fc6", "fc7": "fc7"}
    for net in ("alexnet", "vgg16", "resnet50"):
        spec = networks.get(net)
        got = {(r.layer, r.codec): r for r in ratios.paper_table(spec).rows}
        for p in stages.points(spec):
            if p.kind != "partition":
                continue
            for codec in ("lossless", "jpeg"):
                if p.stage == "s5" and codec == "jpeg":
                    assert got[(p.layer, codec)].ratio == 28.0 and got[(p.layer, codec)].top1_pct is None
                    continue
                want = csv_rows[(cifar_cut[p.stage], codec)]
                row = got[(p.layer, codec)]
                assert row.ratio == float(want["ratio"]) and row.top1_pct == float(want["top1_pct"])
                assert row.origin.startswith(f"alexnet-cifar {cifar_cut[p.stage]} {codec}") and "measured" in row.origin
    alex = {(r.layer, r.codec): r for r in ratios.paper_table(networks.get("alexnet")).rows}
    assert alex[("pool1", "jpeg")].ratio == 19.7274 and alex[("pool1", "jpeg")].top1_pct == 76.47
    assert "q25" in alex[("pool1", "jpeg")].origin
    assert not any("README" in r.origin for r in alex.values())


def test_cut_inside_a_residual_block_is_refused():
    spec = networks.get("resnet50")
    with pytest.raises(RefimplError, match="cannot cut after res2_1_a"):
        stages.points(spec, ["res2_1_a"])
    assert [p.layer for p in stages.points(spec)] == ["input", "pool1", "res2_3", "res3_4", "res4_6", "pool5", "fc"]


# ---------------------------------------------------------------- operating points (the adaptive controller's input)
def test_operating_points_carry_the_agreed_fields():
    recs = pipeline.operating_points(TOY, toy_profile(), TOY_LINK, TOY_TABLE, stages.points(TOY, ["conv"]))
    keys = {"layer", "codec", "qf", "edge_latency_s", "edge_energy_j", "encode_latency_s", "encode_energy_j",
            "bits_per_frame", "top1_pct", "rate_mbps", "power_mw", "nj_per_bit"}
    assert all(keys <= set(r) for r in recs)
    assert [(r["layer"], r["codec"]) for r in recs] == [("input", "jpeg"), ("conv", "raw"), ("conv", "lossless"),
                                                        ("conv", "jpeg"), ("fc", "top5")]


# ---------------------------------------------------------------- the fitted profile
def test_paper_fit_reproduces_the_four_headline_ratios():
    """The fitted values are written with 4 significant digits: the ratios agree within 0.1 %."""
    got = fit.headline(load_profile("paper-fit"))
    for k, target in fit.TARGETS.items():
        assert got[k] == pytest.approx(target, rel=1e-3), k


def test_fit_solves_to_the_shipped_values():
    sol = fit.solve()
    prof, base = load_profile("paper-fit"), load_profile("paper-28nm")
    v = sol["values"]
    assert v["clock_mhz"] == pytest.approx(prof.array.clock_mhz, rel=1e-3)
    assert v["weight_compression"] == pytest.approx(prof.jpeg.weight_compression, rel=1e-3)
    assert v["decoder_pixels_per_cycle"] == pytest.approx(prof.jpeg.decoder_pixels_per_cycle, rel=1e-3)
    assert v["energy_scale"] == pytest.approx(prof.energy.e_mac_pj / base.energy.e_mac_pj, rel=1e-3)
    for key in ("e_buffer_read_pj", "e_buffer_write_pj", "e_register_pj"):
        assert getattr(prof.energy, key) == pytest.approx(getattr(base.energy, key) * 0.2044, rel=1e-3)
    assert not prof.buffer.features_in_dram


# ---------------------------------------------------------------- the command line
def _err(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("refimpl: error: ") and err.count("\n") == 1, err
    return err


def test_cli_bad_input_is_one_line(capsys, tmp_path, monkeypatch):
    assert "unknown link 'wifi9'" in _err(capsys, ["system", "--link", "wifi9"])
    assert "unknown network 'lenet'" in _err(capsys, ["system", "--network", "lenet"])
    assert "rate_mbps' must be > 0" in _err(capsys, ["system", "--rate-mbps", "0"])
    assert "power_mw' must be > 0" in _err(capsys, ["system", "--power-mw", "-1"])
    bad = tmp_path / "r.csv"
    bad.write_text(HEAD + "\ninput,jpeg,,20000,,,mine\n")
    assert f"{bad}: no row for layer pool1, codec raw" in _err(capsys, ["system", "--ratios", str(bad), "--codec", "raw"])
    assert "unknown codec 'zip'" in _err(capsys, ["system", "--codec", "zip"])
    assert "no partition point between input and fc8" in _err(capsys, ["system", "--points", "input,fc8"])
    assert "unknown partition layer 'xyz'" in _err(capsys, ["system", "--points", "pool5,xyz"])
    assert "unknown format 'xml'" in _err(capsys, ["system", "--format", "xml"])
    assert "--sweep needs --out" in _err(capsys, ["system", "--sweep"])
    assert "no such ratio table" in _err(capsys, ["system", "--ratios", str(tmp_path / "none.csv")])
    monkeypatch.setattr(ratios, "measured_path", lambda: tmp_path / "none.csv")
    assert "measured ratio table missing" in _err(capsys, ["system", "--network", "alexnet-cifar"])
    link = tmp_path / "l.toml"
    link.write_text('name="x"\ndescription=""\nsource=""\nrate_mbps=0.0\npower_mw=1')
    assert "key 'rate_mbps' must be > 0" in _err(capsys, ["system", "--link", str(link)])


def test_cli_json_and_csv(capsys):
    assert main(["system", "--codec", "jpeg-ft", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s = doc["scenarios"]["jpeg-ft"]
    assert doc["link"]["rate_mbps"] == 2.0 and doc["link"]["power_mw"] == 99.0
    assert [r["point"] for r in s["records"]] == ["host-only", "conv1", "conv2", "conv3", "conv4", "conv5", "fc6",
                                                  "fc7", "edge-only"]
    assert main(["system", "--codec", "raw,jpeg", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scenario,network,profile,link,rate_mbps") and len(lines) == 1 + 2 * 9


def test_cli_sweep_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["system", "--sweep", "--out", str(out)]) == 0
    names = set(json.loads((out / "refimpl-system.json").read_text())["files"])
    for fig in ("fig07", "fig08", "fig09", "fig10", "fig10c", "fig11", "fig12", "claims"):
        assert {f"{fig}.csv", f"{fig}.json"} <= names
    claims = {r["claim"]: r for r in json.loads((out / "claims.json").read_text())["rows"]}
    assert {c[0] for c in sweep.PAPER_CLAIMS} == set(claims)
    assert claims["headline_throughput_x_host"]["paper-fit"] == pytest.approx(16.5, rel=1e-3)
    assert main(["system", "--sweep", "--out", str(out)]) == 0                   # its own output: replaced
    (out / "mine.txt").write_text("x")
    assert "refimpl did not write" in _err(capsys, ["system", "--sweep", "--out", str(out)])


def test_cli_plot(tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["system", "--codec", "raw,jpeg", "--plot", str(tmp_path / "p")]) == 0
    for name in ("throughput.png", "energy.png"):
        assert (tmp_path / "p" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_stage_cut_follows_the_table():
    """A table measured at conv5 (not pool5) cuts the conv5 stage at conv5; other stages keep their pools."""
    spec = networks.get("alexnet-cifar")
    pts = stages.points(spec, available={"input", "conv5", "pool1"})
    assert [(p.label, p.layer) for p in pts][1:6] == [("conv1", "pool1"), ("conv2", "pool2"), ("conv3", "conv3"),
                                                       ("conv4", "conv4"), ("conv5", "conv5")]
    assert [p.layer for p in stages.points(spec)][5] == "pool5"


# ---------------------------------------------------------------- --weights BUNDLE (issue 14 point 4)
def test_system_charges_a_bundles_dram_bytes(capsys):
    """With the shipped weight bundle, the DRAM-weight energy up to a cut is the bundle's
    per-layer stream bytes at 640 pJ per 32-bit access (160 pJ a byte, [paper]); each tile's
    share is rounded up to whole bytes, so at most one byte a tile more."""
    from refimpl.weights import bundle
    path = str(resources.files("refimpl") / "data" / "alexnet-cifar-w1.rfwb")
    stored = {e.name: e.code.dram_bytes for e in bundle.read_file(path).layers}
    main(["system", "--network", "alexnet-cifar", "--ratios", "paper", "--codec", "jpeg",
          "--weights", path, "--format", "json"])
    recs = {r["point"]: r for r in json.loads(capsys.readouterr().out)["scenarios"]["jpeg"]["records"]}
    tiles = cost.network_cost(networks.get("alexnet-cifar"), load_profile("paper-28nm"), "conv3")["total"]["tiles"]
    want = stored["conv1"] + stored["conv2"] + stored["conv3"]
    got = recs["conv3"]["energy_dram_weights_j"] / 160e-12
    assert want <= got + 1e-6 and got <= want + tiles, (got, want, tiles)


def test_system_weights_must_be_a_bundle(capsys):
    assert main(["system", "--network", "alexnet-cifar", "--ratios", "paper",
                 "--weights", str(resources.files("refimpl") / "data" / "alexnet-cifar.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes a weight bundle" in err[0]
