"""Forward latency of every encoder: `python -m vn_perception.tools.bench_models [--threads 2] ...`.

For each encoder and each batch size x points per object, times `model(points)` under
`torch.inference_mode()` (eval mode, float32, random centred clouds of about 10 cm) and prints the median
and the minimum over the repeats, then the ratio of each paper-faithful VN encoder to `fast_vn`.
The machine should be otherwise idle: other processes on the same cores inflate the medians (the load
average is printed for that reason).
"""
import argparse
import os
import statistics
import time

import torch

from vn_perception.models import ENCODERS, build_model, describe_model

PAPER_FAITHFUL = ("vn_pointnet", "vn_dgcnn")


def time_forward(model, points, repeats=10, max_seconds=5.0, warmup=2):
    """Latencies (seconds) of `model(points)`: up to `warmup` untimed calls (one when a call takes longer than
    `max_seconds / 4`), then up to `repeats` timed calls, stopping once `max_seconds` have been spent
    (at least one timed call)."""
    with torch.inference_mode():
        for _ in range(warmup):
            t0 = time.perf_counter()
            model(points)
            if time.perf_counter() - t0 > max_seconds / 4:
                break
        times, start = [], time.perf_counter()
        while len(times) < repeats and (not times or time.perf_counter() - start < max_seconds):
            t0 = time.perf_counter()
            model(points)
            times.append(time.perf_counter() - t0)
    return times


def bench(encoders, batch_sizes, points, threads=2, repeats=10, max_seconds=5.0, num_classes=10, device="cpu",
          print_fn=print):
    """Run the grid; returns `{(encoder, B, N): (median_ms, min_ms, repeats)}` and prints a table."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    results = {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print_fn(f"torch {torch.__version__}, {threads} threads, device {device}, load average {load:.2f}")
    print_fn(f"{'encoder':12s} {'params':>10s} {'B':>4s} {'N':>6s} {'median ms':>10s} {'min ms':>9s} {'reps':>5s}")
    for name in encoders:
        model = build_model({"encoder": name, "num_classes": num_classes}).to(device).eval()
        params = describe_model(model)["parameters"]
        for b in batch_sizes:
            for n in points:
                cloud = torch.randn(b, n, 3, generator=gen) * 0.05
                times = time_forward(model, cloud.to(device), repeats, max_seconds)
                med, low = 1e3 * statistics.median(times), 1e3 * min(times)
                results[(name, b, n)] = (med, low, len(times))
                print_fn(f"{name:12s} {params:10,d} {b:4d} {n:6d} {med:10.2f} {low:9.2f} {len(times):5d}")
    if "fast_vn" in encoders:
        for slow in (e for e in PAPER_FAITHFUL if e in encoders):
            print_fn(f"ratio {slow} / fast_vn (median):")
            for b in batch_sizes:
                row = "  ".join(f"{n}: {results[(slow, b, n)][0] / results[('fast_vn', b, n)][0]:6.1f}x"
                                for n in points)
                print_fn(f"  B={b:<3d} {row}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default=",".join(ENCODERS), help="comma-separated (default: all)")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--points", default="256,512,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per configuration (at most)")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="stop repeating after this long")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    args = parser.parse_args(argv)
    from vn_perception.utils.device import resolve_device
    bench([e.strip() for e in args.encoders.split(",") if e.strip()],
          [int(v) for v in args.batch_sizes.split(",")], [int(v) for v in args.points.split(",")],
          args.threads, args.repeats, args.max_seconds, device=resolve_device(args.device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
