"""Benchmarks (never timed tests).  Ratios are measured against a floor in the same run.

    python tools/bench.py [--repeat N]

engine: the bit-exact fast engine on AlexNet conv1..conv5, one 227x227 frame
        (im2col + exact float64 GEMM + overflow bound + requantization + ReLU).
floor : the same layers' raw float64 GEMMs on pre-built columns and weights
        (what BLAS alone costs on this machine).
tiled : the tiled engine (144-MAC schedule of the paper-28nm profile, per-tile
        counters) on the same layers, against the fast engine.
train : one alexnet-cifar training step (batch 128, float32) against the float32
        GEMMs of the same products (tools/bench_train.py).
Prints per-layer times, the tiled/fast ratio, the ratio engine / floor, then
the training-step ratio as the last line.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from refimpl import engine, image, networks, quantize, tiled  # noqa: E402
from refimpl.profile import load_profile  # noqa: E402
from refimpl.spec import layer_shapes  # noqa: E402
from refimpl.layout import im2col  # noqa: E402

CONVS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def best_of(fn, repeat):
    """Best wall-clock time of ``repeat`` calls of ``fn`` (seconds); also used by bench_jpeg.py."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    spec = networks.get("alexnet")
    pixels = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 0), pixels)
    x = quantize.pixels_to_int(pixels, spec)
    results = {r.name: r for r in engine.run(qnet, x, until="conv5")}

    prof = load_profile()
    shapes = {s.layer.name: s for s in layer_shapes(spec)}
    rows = []
    for name in CONVS:
        layer, ql, inp = spec.layer(name), qnet.layer(name), results[name].input
        g = layer.groups
        cols = im2col(inp, layer.kernel, layer.stride, layer.pad)
        w64 = ql.weights.reshape(ql.weights.shape[0], -1).astype(np.float64)
        kg, mg = cols.shape[1] // g, w64.shape[0] // g
        parts = [(w64[i * mg:(i + 1) * mg], np.ascontiguousarray(cols[:, i * kg:(i + 1) * kg])) for i in range(g)]
        t_floor = best_of(lambda: [np.matmul(w, c) for w, c in parts], args.repeat)
        t_eng = best_of(lambda: engine.conv(inp, layer, ql, qnet), args.repeat)
        shape = shapes[name]
        t_tiled = best_of(lambda: tiled.mac_layer(inp, shape, ql, prof, qnet), max(3, args.repeat // 3))
        rows.append((name, t_eng, t_floor, t_tiled))
    t_forward = best_of(lambda: engine.run(qnet, x, until="conv5"), args.repeat)

    print(f"{'layer':8s}{'engine (ms)':>14s}{'GEMM floor (ms)':>18s}{'ratio':>8s}{'tiled (ms)':>13s}{'tiled/engine':>14s}")
    for name, te, tf, tt in rows:
        print(f"{name:8s}{te * 1e3:14.2f}{tf * 1e3:18.2f}{te / tf:8.2f}{tt * 1e3:13.2f}{tt / te:14.2f}")
    t_eng = sum(r[1] for r in rows)
    t_floor = sum(r[2] for r in rows)
    t_tiled = sum(r[3] for r in rows)
    print(f"{'conv1-5':8s}{t_eng * 1e3:14.2f}{t_floor * 1e3:18.2f}{t_eng / t_floor:8.2f}"
          f"{t_tiled * 1e3:13.2f}{t_tiled / t_eng:14.2f}")
    print(f"full forward input..conv5 (with LRN and pools): {t_forward * 1e3:.2f} ms, "
          f"{t_forward / t_floor:.2f}x the GEMM floor")
    print(f"ratio tiled/fast engine (conv1-conv5, one frame): {t_tiled / t_eng:.2f}")
    print(f"ratio engine/floor (conv1-conv5, one frame): {t_eng / t_floor:.2f}")
    from bench_train import train_step_ratio    # tools/bench_train.py: one SGD step against its float32 GEMM floor
    train_step_ratio(max(3, args.repeat // 3))


if __name__ == "__main__":
    main()
