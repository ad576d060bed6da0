"""Training throughput (samples per second) of encoders, measured on the same random clouds.

    python -m vn_perception.training.throughput --encoders fast_vn vn_pointnet --steps 50

One step = forward, cross-entropy + rotation loss, backward, AdamW update, at a fixed batch size and point
count; `warmup` steps are not timed. Clouds: random Gaussian blobs with the size of a tabletop object.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from vn_perception.models.factory import ENCODERS, build_model
from vn_perception.utils.device import resolve_device

#: standard deviation of the random clouds (metres): the size of a tabletop object
CLOUD_STD_M = 0.05


def measure_throughput(encoder, num_classes=21, batch_size=32, num_points=512, steps=50, warmup=3,
                       device="cpu", seed=0, progress=True):
    """Training samples per second of `encoder` (mean over `steps` timed steps) -> dict."""
    device = resolve_device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model({"encoder": encoder, "num_classes": num_classes}).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    points = (torch.randn(batch_size, num_points, 3, generator=generator) * CLOUD_STD_M).to(device)
    labels = torch.randint(0, num_classes, (batch_size,), generator=generator).to(device)
    target = torch.eye(3, device=device).expand(batch_size, 3, 3)
    started = None
    for step in tqdm(range(warmup + steps), desc=f"throughput {encoder}", disable=not progress, leave=False):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
        out = model(points)
        loss = F.cross_entropy(out["logits"], labels) + (out["rotation"] - target).square().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {"encoder": encoder, "samples_per_s": steps * batch_size / seconds, "batch_size": batch_size,
            "num_points": num_points, "steps": steps, "device": str(device), "threads": torch.get_num_threads()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=["fast_vn", "vn_pointnet"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-points", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    for encoder in args.encoders:
        print(json.dumps(measure_throughput(encoder, batch_size=args.batch_size, num_points=args.num_points,
                                            steps=args.steps, device=args.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
