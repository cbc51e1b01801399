"""Benchmarks (never timed tests).  Every goal is a ratio measured in the same run.

    python tools/bench.py [--repeat N] [--threads 1,2] [--frames 10000] [--skip startup,...] [--clock wall|cpu]

The parent process runs one worker per BLAS thread count (default 1 and 2),
each a subprocess with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS
set, so figures from a busy machine can be told apart (with two threads a
second job on a 2-core machine can make a GEMM up to 10x slower).  Each
worker prints the thread count it ran with (threadpoolctl's report when that
package is installed, else the environment) and the load average before and
after.  Sections (issue 11 goals; issue 9 section 3):

forward  (goal 1) AlexNet, one 227x227 frame: the fast engine per conv layer
         against the same layers' raw float64 GEMMs on pre-built columns (the
         floor), and the whole forward input..conv5 (LRN, pools) against it.
tiled    (goal 4) the tiled engine (paper-28nm schedule, per-tile counters)
         against the fast engine, conv1..conv5.
overflow (issue 9) engine.run of all of AlexNet with 32-bit accumulators
         (17,390 outputs overflow and saturate) against 40-bit ones.
batch    (goal 2) alexnet-cifar: cost per frame at batch 256 against batch 1,
         peak traced memory (tracemalloc) at batch 64 and 1024, and N random
         32x32 frames (default 10,000) in one engine.run keeping fc8 only.
train    (issue 12) one alexnet-cifar training step (batch 128, float32)
         against the float32 GEMMs of the same products (tools/bench_train.py).
startup  (goal 3) wall time of ``refimpl run`` (a subprocess) on AlexNet and
         VGG-16 against the engine's own time for that network (engine.run,
         second call, in the worker).
Ratios are printed as ``goal N: ... = X (goal <= G; before B)``, the before
figures being issue 11's (measured idle) and issue 9's.
"""
import argparse
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from refimpl import engine, image, networks, quantize, tiled  # noqa: E402
from refimpl.layout import im2col  # noqa: E402
from refimpl.profile import load_profile  # noqa: E402
from refimpl.spec import layer_shapes  # noqa: E402

CONVS = ("conv1", "conv2", "conv3", "conv4", "conv5")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SECTIONS = ("forward", "tiled", "overflow", "batch", "train", "startup")


CLOCK = time.perf_counter      # --clock cpu: time.process_time (this process's CPU, all its threads)


def best_of(fn, repeat):
    """Best time of ``repeat`` calls of ``fn`` (seconds, wall clock unless --clock cpu);
    also used by bench_jpeg.py."""
    best = float("inf")
    for _ in range(repeat):
        t = CLOCK()
        fn()
        best = min(best, CLOCK() - t)
    return best


def children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def clock_name() -> str:
    return "CPU" if CLOCK is time.process_time else "wall"


def goal(text, value, target, before):
    print(f"{text} = {value:.2f} (goal {target}; before {before})", flush=True)


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                         if i["user_api"] == "blas") or "no BLAS found by threadpoolctl"
    except ImportError:
        return ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARS[:1]) + " (threadpoolctl not installed)"


def alexnet(acc_bits=40):
    spec = networks.get("alexnet")
    pixels = image.load(None, spec.input_shape)
    params = quantize.synthetic_params(spec, 0)
    return spec, params, pixels, quantize.quantize_network(spec, params, pixels, acc_bits=acc_bits)


def forward_and_tiled(repeat, sections):
    spec, params, pixels, qnet = alexnet()
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
        t_floor = best_of(lambda: [np.matmul(w, c) for w, c in parts], repeat)
        t_eng = best_of(lambda: engine.conv(inp, layer, ql, qnet), repeat)
        t_tiled = float("nan")
        if "tiled" in sections:
            t_tiled = best_of(lambda: tiled.mac_layer(inp, shapes[name], ql, prof, qnet), max(3, repeat // 3))
        rows.append((name, t_eng, t_floor, t_tiled))
    others = {}
    for name in ("norm1", "pool1", "norm2", "pool2"):
        r, layer, ql = results[name], spec.layer(name), qnet.layer(name)
        others[name] = best_of(lambda: engine.run_layer(layer, ql, r.input, qnet), repeat)
    t_forward = best_of(lambda: engine.run(qnet, x, until="conv5"), repeat)
    print(f"{'layer':8s}{'engine (ms)':>14s}{'GEMM floor (ms)':>18s}{'ratio':>8s}{'tiled (ms)':>13s}{'tiled/engine':>14s}")
    for name, te, tf, tt in rows:
        print(f"{name:8s}{te * 1e3:14.2f}{tf * 1e3:18.2f}{te / tf:8.2f}{tt * 1e3:13.2f}{tt / te:14.2f}")
    t_eng, t_floor, t_tiled = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"{'conv1-5':8s}{t_eng * 1e3:14.2f}{t_floor * 1e3:18.2f}{t_eng / t_floor:8.2f}"
          f"{t_tiled * 1e3:13.2f}{t_tiled / t_eng:14.2f}")
    print("  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in others.items()))
    print(f"forward input..conv5 {t_forward * 1e3:.2f} ms, conv GEMM floor {t_floor * 1e3:.2f} ms")
    goal("goal 1a: forward input..conv5 / conv1-5 GEMM floor", t_forward / t_floor, "<= 2.0", 4.8)
    goal("goal 1b: conv1-5 engine / GEMM floor", t_eng / t_floor, "<= 1.3", 1.63)
    if "tiled" in sections:
        goal("goal 4: tiled / fast engine, conv1-5", t_tiled / t_eng, "<= 1.5", 2.9)


def overflow(repeat):
    spec, params, pixels, q40 = alexnet(40)
    q32 = quantize.quantize_network(spec, params, pixels, acc_bits=32)
    x = quantize.pixels_to_int(pixels, spec)
    engine.run(q40, x), engine.run(q32, x)                  # weights64 caches warm for both
    reps = max(2, repeat // 5)
    t40 = best_of(lambda: engine.run(q40, x), reps)
    t32 = best_of(lambda: engine.run(q32, x), reps)
    n = sum(r.stats.acc_overflows for r in engine.run(q32, x))
    print(f"alexnet engine.run: 40-bit acc {t40 * 1e3:.1f} ms, 32-bit acc {t32 * 1e3:.1f} ms ({n:,} outputs overflow)")
    goal("issue 9: 32-bit / 40-bit accumulator run", t32 / t40, "<= 3", "30 (15 s / 0.5 s)")


def batch(repeat, frames):
    spec = networks.get("alexnet-cifar")
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (1,) + spec.input_shape).astype(np.uint8)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 0), calib)
    x256 = quantize.pixels_to_int(rng.integers(0, 256, (256,) + spec.input_shape).astype(np.uint8), spec)
    engine.run(qnet, x256[:1])
    t1 = best_of(lambda: engine.run(qnet, x256[:1]), repeat)
    t256 = best_of(lambda: engine.run(qnet, x256), max(2, repeat // 5)) / 256
    print(f"alexnet-cifar per frame: batch 1 {t1 * 1e3:.2f} ms, batch 256 {t256 * 1e3:.2f} ms "
          f"(chunks of {engine.frames_per_chunk(qnet, spec.layers)} frames)")
    goal("goal 2a: per-frame cost batch 256 / batch 1", t256 / t1, "<= 1", "3.5 (27.3 / 7.8 ms)")
    peaks = {}
    for n in (64, 1024):
        xs = np.resize(x256, (n,) + x256.shape[1:])
        tracemalloc.start()
        engine.run(qnet, xs, keep=("fc8",))
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"peak traced memory, keep=fc8: batch 64 {peaks[64] / 2**20:.1f} MiB, batch 1024 {peaks[1024] / 2**20:.1f} MiB "
          f"(of which the 1024-frame input {x256[0].nbytes * 1024 / 2**20:.1f} MiB is the caller's)")
    goal("goal 2b: peak memory batch 1024 / batch 64", peaks[1024] / peaks[64], "~1: bounded", "16 (7.8 MB/frame)")
    if frames:
        big = quantize.pixels_to_int(rng.integers(0, 256, (frames,) + spec.input_shape).astype(np.uint8), spec)
        t = CLOCK()
        out = engine.run(qnet, big, keep=("fc8",))[-1].output
        dt = CLOCK() - t
        print(f"{frames:,} random 32x32 frames bit-exact through alexnet-cifar in {dt:.1f} s "
              f"({dt / frames * 1e3:.2f} ms a frame), fc8 {out.shape}")
        goal(f"goal 2c: {frames:,} frames, seconds / 60 s", dt / 60, "<= 1", "1.35 (81 s at batch 1)")


def startup(repeat):
    for net, limit, before in (("alexnet", "<= 1.0 s", "2.4-5.9 s"), ("vgg16", "<= 3 s", "14.7 s")):
        spec = networks.get(net)
        pixels = image.load(None, spec.input_shape)
        params = quantize.synthetic_params(spec, 0)
        qnet = quantize.quantize_network(spec, params, pixels)
        del params
        x = quantize.pixels_to_int(pixels, spec)
        engine.run(qnet, x)
        t_eng = best_of(lambda: engine.run(qnet, x), 2)
        del qnet
        walls = []
        for _ in range(2):
            t, c = time.perf_counter(), children_cpu()
            subprocess.run([sys.executable, "-m", "refimpl", "run", "--network", net], check=True,
                           stdout=subprocess.DEVNULL, cwd=ROOT)
            walls.append(children_cpu() - c if CLOCK is time.process_time else time.perf_counter() - t)
        wall = min(walls)
        print(f"refimpl run --network {net}: {clock_name()} {wall:.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)}), "
              f"engine {t_eng:.2f} s")
        print(f"goal 3: {net} run - engine time = {wall - t_eng:.2f} s (goal {limit}; before {before})", flush=True)


def worker(args):
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    sections = set(SECTIONS) - set(args.skip)
    print(f"BLAS: {blas_threads()}; clock: {clock_name()}; load average {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs", flush=True)
    if sections & {"forward", "tiled"}:
        forward_and_tiled(args.repeat, sections)
    if "overflow" in sections:
        overflow(args.repeat)
    if "batch" in sections:
        batch(args.repeat, args.frames)
    if "train" in sections:
        from bench_train import train_step_ratio    # tools/bench_train.py: one SGD step against its float32 GEMM floor
        train_step_ratio(max(3, args.repeat // 3))
    if "startup" in sections:
        startup(args.repeat)
    print(f"load average at the end {os.getloadavg()[0]:.1f} (1 min)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", default="1,2", help="BLAS thread counts, one worker each (default 1,2)")
    ap.add_argument("--frames", type=int, default=10000, help="frames of the batch throughput run (0: skip)")
    ap.add_argument("--skip", default="", help=f"comma-separated sections to skip: {','.join(SECTIONS)}")
    ap.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                    help="wall (default) or cpu: this process's CPU time (children's for start-up), "
                         "steadier than wall time when other jobs share the cores")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.skip = [s for s in args.skip.split(",") if s]
    if args.worker:
        return worker(args)
    for n in args.threads.split(","):
        print(f"===== {n} BLAS thread(s)", flush=True)
        env = dict(os.environ, **{v: n for v in THREAD_VARS})
        subprocess.run([sys.executable, __file__, "--worker", "--clock", args.clock, "--repeat", str(args.repeat), "--frames",
                        str(args.frames), "--skip", ",".join(args.skip) or ""], env=env, check=True)


if __name__ == "__main__":
    main()
