"""`vn-perception train`: train a classifier + orientation network on synthetic views of a catalog.

    vn-perception train --catalog ../shared/data/catalog --source ycbv --encoder fast_vn --protocol so3 \\
        --views 400 --epochs 20 --out runs/fast_vn_so3
    torchrun --nproc_per_node=2 -m vn_perception.cli train ...      # DistributedDataParallel (gloo / NCCL)

Data: `--views` synthetic views per object for training, `--val-views` for validation (`data/dataset.py`,
cached), protocol `z` or `so3` for both the rendered views and the rotation augmentation. Loss: cross-entropy
with label smoothing + `--rotation-weight` x `models.symmetry.symmetric_rotation_loss` (orientation head
`multi_frame`: x `models.symmetry.multi_hypothesis_loss`, relaxed winner-takes-all over the hypotheses with
`--hypothesis-mean-weight` on their mean, plus `--confidence-weight` x the confidence cross-entropy; with
`refine: canonical` the same again for the refined hypotheses, x `--refine-weight`). AdamW with a cosine
learning-rate schedule (per epoch). `--init-from CKPT` starts from a trained model's weights (new parts keep
their initialisation), `--train-only PARTS` freezes the others; `--view-options` adds simulator options
(`data/views.py`: neighbour bleed, crack hits, holes) to the training and validation views. Every epoch writes
`last.pt` and `epoch_NNN.pt` (weights, optimiser and scheduler state) and appends to `metrics.jsonl`;
`--resume` continues from `last.pt` (epochs are seeded, so a resumed run follows the same course). At the end
`model.pt` holds the weights and metadata only (the file to ship or to load with `ObjectClassifier.load`).
"""
import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from vn_perception.data.catalog import load_catalog
from vn_perception.data.dataset import ViewDataset, make_view_set, subsample
from vn_perception.data.paths import shared_catalog_dir
from vn_perception.data.views import PROTOCOLS, NeighbourBleed, NoReturnHoles, ViewConfig
from vn_perception.models.checkpoint import load_checkpoint, save_checkpoint, unwrap
from vn_perception.models.factory import ENCODERS, build_model
from vn_perception.models.symmetry import Symmetry, multi_hypothesis_loss, symmetric_rotation_loss
from vn_perception.training.distributed import setup_distributed
from vn_perception.training.metrics import rotation_errors_deg
from vn_perception.utils.device import DEVICE_CHOICES

LAST = "last.pt"
FINAL = "model.pt"
METRICS_LOG = "metrics.jsonl"
#: validation batch size (no gradients, so larger than training batches)
EVAL_BATCH = 128


def add_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--catalog", default=str(shared_catalog_dir()),
                      help="shared catalog folder (with catalog.csv) or a folder of meshes + labels file")
    data.add_argument("--source", default="ycbv", help="shared catalog: source to keep ('all': every source)")
    data.add_argument("--level", choices=("instance", "category"), default="instance")
    data.add_argument("--protocol", choices=PROTOCOLS, default="so3", help="training orientations")
    data.add_argument("--views", type=int, default=400, help="training views per object")
    data.add_argument("--val-views", type=int, default=40, help="validation views per object")
    data.add_argument("--num-points", type=int, default=512, help="points per cloud fed to the network")
    data.add_argument("--view-points", type=int, default=512,
                      help="points stored per rendered view (>= --num-points; a random subset is drawn per epoch)")
    data.add_argument("--view-options", default="{}",
                      help="JSON of extra ViewConfig options (data/views.py) for the training and validation "
                           "views, e.g. '{\"bleed\": {}, \"drop_crack_hits\": true}' (bleed / holes: "
                           "NeighbourBleed / NoReturnHoles fields, {} = their defaults)")
    data.add_argument("--render-workers", type=int, default=0, help="processes rendering the views")
    data.add_argument("--cache-dir", default=None, help="view cache (default $VN_CACHE_DIR or .cache/)")
    data.add_argument("--jitter-m", type=float, default=0.001, help="augmentation: point jitter (m, std)")
    data.add_argument("--dropout-max", type=float, default=0.3, help="augmentation: max fraction resampled")
    model = parser.add_argument_group("model")
    model.add_argument("--encoder", choices=ENCODERS, default="fast_vn")
    model.add_argument("--model-config", default="{}", help="JSON overrides of the model config")
    model.add_argument("--init-from", default=None,
                       help="start from this checkpoint's weights (same classes; parts it lacks, e.g. a new "
                            "refiner, keep their initialisation)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=20)
    opt.add_argument("--batch-size", type=int, default=32, help="per process")
    opt.add_argument("--lr", type=float, default=2e-3)
    opt.add_argument("--min-lr-ratio", type=float, default=0.02, help="cosine schedule floor (x lr)")
    opt.add_argument("--weight-decay", type=float, default=1e-4)
    opt.add_argument("--label-smoothing", type=float, default=0.1)
    opt.add_argument("--rotation-weight", type=float, default=1.0)
    opt.add_argument("--hypothesis-mean-weight", type=float, default=0.05,
                     help="multi_frame head: weight of the mean over hypotheses in the winner-takes-all loss")
    opt.add_argument("--confidence-weight", type=float, default=0.5,
                     help="multi_frame head: weight of the confidence cross-entropy (x --rotation-weight)")
    opt.add_argument("--refine-weight", type=float, default=1.0,
                     help="refine: canonical: weight of the refined hypotheses' loss (x --rotation-weight)")
    opt.add_argument("--train-only", default="",
                     help="comma-separated top-level parts to train (e.g. 'refiner'; parts: encoder, classifier, "
                          "orientation, refiner); the others are frozen and kept in eval mode")
    opt.add_argument("--steps-per-epoch", type=int, default=0, help="cap on steps per epoch (0: all data)")
    opt.add_argument("--loader-workers", type=int, default=0)
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--seed", type=int, default=0)
    run_group.add_argument("--out", default="runs/train", help="output folder (checkpoints, metrics)")
    run_group.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    run_group.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    run_group.add_argument("--threads", type=int, default=0,
                           help="torch CPU threads per process (0: torch's default; 1 on a busy machine)")
    run_group.add_argument("--quiet", action="store_true", help="no progress bars")


def _catalog(args):
    source = None if args.source in ("all", "") else args.source
    return load_catalog(args.catalog, source=source, level=args.level)


def view_config(protocol, num_points, options=None):
    """`ViewConfig` with `options` (a dict or JSON text of further fields; `bleed` and `holes` given as dicts
    of `NeighbourBleed` / `NoReturnHoles` fields, lists as tuples). ValueError names an unknown field."""
    options = json.loads(options) if isinstance(options, str) else dict(options or {})
    known = {f.name for f in dataclasses.fields(ViewConfig)} - {"protocol", "num_points"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown view option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    parts = {"bleed": NeighbourBleed, "holes": NoReturnHoles}
    values = {}
    for key, value in options.items():
        if key in parts and isinstance(value, dict):
            value = parts[key](**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
        values[key] = tuple(value) if isinstance(value, list) else value
    return ViewConfig(protocol=protocol, num_points=num_points, **values)


def _view_config(args):
    if args.view_points < args.num_points:
        raise ValueError(f"--view-points {args.view_points} < --num-points {args.num_points}")
    return view_config(args.protocol, args.view_points, getattr(args, "view_options", None))


def _model_config(args, num_classes):
    overrides = json.loads(args.model_config) if isinstance(args.model_config, str) else dict(args.model_config)
    return {"encoder": args.encoder, **overrides, "num_classes": num_classes}


def _metadata(args, catalog, model, view_config, metrics):
    options = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "func"}
    return {
        "classes": catalog.classes,
        "symmetries": catalog.class_symmetries,
        "model_config": unwrap(model).config,
        "preprocessing": {"num_points": args.num_points, "centering": "mean"},
        "data": {**catalog.describe(), "views": view_config.describe(), "train_views_per_object": args.views,
                 "val_views_per_object": args.val_views, "seed": args.seed},
        "training": {"command": "vn-perception train " + " ".join(shlex.quote(a) for a in _argv(args)),
                     "options": options, "optimiser": "AdamW + cosine"},
        "metrics": metrics,
    }


def _argv(args):
    argv = getattr(args, "_argv", None) or sys.argv[1:]
    return argv[1:] if argv[:1] == ["train"] else argv          # `vn-perception train ...`: drop the subcommand


def cosine_factor(epoch, epochs, floor):
    """Learning-rate factor of `epoch` (0-based) on a cosine from 1 to `floor` over `epochs` (closed form, so a
    run resumed with more epochs follows the longer schedule)."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / max(epochs, 1)))


def evaluate_arrays(model, arrays, symmetries, device, batch=EVAL_BATCH):
    """Top-1 accuracy and symmetry-aware rotation errors of `model` on a view set (eval mode)."""
    model.eval()
    logits, rotations, hypotheses, confidences, coarse = [], [], [], [], []
    with torch.inference_mode():
        for start in range(0, len(arrays["label"]), batch):
            out = model(torch.from_numpy(arrays["points"][start:start + batch]).to(device))
            logits.append(out["logits"].float().cpu())
            rotations.append(out["rotation"].double().cpu())
            if "hypotheses" in out:
                hypotheses.append(out["hypotheses"].double().cpu())
                confidences.append(out["confidence"].float().cpu())
            if "coarse_hypotheses" in out:          # refine: the head's own choice, before the refiner
                best = out["coarse_confidence"].argmax(dim=1)
                coarse.append(out["coarse_hypotheses"][torch.arange(len(best)), best].double().cpu())
    predicted = torch.cat(logits).argmax(1).numpy()
    labels = arrays["label"]
    errors = rotation_errors_deg(torch.cat(rotations).numpy(), arrays["rotation"], labels, symmetries)
    correct = predicted == labels
    result = {"accuracy": float(correct.mean()), "rotation_median_deg": float(np.median(errors)),
              "rotation_median_deg_correct": float(np.median(errors[correct])) if correct.any() else None,
              "rotation_acc_10deg": float((errors <= 10).mean())}
    if hypotheses:          # multi_frame: the best hypothesis in hindsight (how good the selection could be)
        h = torch.cat(hypotheses).numpy()                                   # [M, K, 3, 3]
        k = h.shape[1]
        every = rotation_errors_deg(h.reshape(-1, 3, 3), np.repeat(arrays["rotation"], k, axis=0),
                                    np.repeat(labels, k), symmetries).reshape(-1, k)
        result["rotation_median_deg_oracle"] = float(np.median(every.min(axis=1)))
        result["selected_is_best"] = float((every.argmin(axis=1) == torch.cat(confidences).argmax(1).numpy()).mean())
    if coarse:
        result["rotation_median_deg_coarse"] = float(np.median(rotation_errors_deg(
            torch.cat(coarse).numpy(), arrays["rotation"], labels, symmetries)))
    return result


def initialise_from(model, path, classes):
    """Load the weights of checkpoint `path` into `model` where names match (shapes must); the model's
    parts the checkpoint lacks keep their initialisation. Returns the list of those parameter names."""
    checkpoint = load_checkpoint(path, map_location="cpu")
    if list(checkpoint.metadata.get("classes", [])) != list(classes):
        raise ValueError(f"{path}: its classes differ from the catalog's; --init-from needs the same classes")
    missing, unexpected = model.load_state_dict(checkpoint.state_dict, strict=False)
    if unexpected:
        raise ValueError(f"{path}: weights this model has no place for: {', '.join(unexpected[:5])} ... "
                         "(use the same --encoder and --model-config)")
    return list(missing)


def freeze_except(model, parts):
    """Freeze every top-level part of `model` not named in `parts` (comma-separated; '' = train all).
    Returns the frozen parts' names (keep them in eval mode while training: `set_frozen_eval`)."""
    names = [p.strip() for p in parts.split(",") if p.strip()]
    if not names:
        return []
    children = dict(model.named_children())
    unknown = sorted(set(names) - set(children))
    if unknown:
        raise ValueError(f"--train-only: no part named {', '.join(unknown)}; parts: {', '.join(children)}")
    frozen = [name for name in children if name not in names]
    for name in frozen:
        children[name].requires_grad_(False)
    return frozen


def rotation_loss(out_net, R_gt, symmetries, args):
    """The orientation part of the training loss for one batch (see the module docstring)."""
    if "hypotheses" not in out_net:
        return symmetric_rotation_loss(out_net["rotation"], R_gt, symmetries)
    coarse = "coarse_hypotheses" in out_net
    loss = multi_hypothesis_loss(out_net["coarse_hypotheses" if coarse else "hypotheses"],
                                 out_net["coarse_confidence" if coarse else "confidence"], R_gt, symmetries,
                                 args.hypothesis_mean_weight, args.confidence_weight)["loss"]
    if coarse:
        loss = loss + args.refine_weight * multi_hypothesis_loss(
            out_net["hypotheses"], out_net["confidence"], R_gt, symmetries, args.hypothesis_mean_weight,
            args.confidence_weight)["loss"]
    return loss


def train(args):
    """Run the training described by the parsed `args`; returns the path of the final checkpoint."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ctx = setup_distributed(args.device)
    try:
        return _train(args, ctx)
    finally:
        ctx.close()


def _train(args, ctx):
    out = Path(args.out)
    catalog = _catalog(args)
    view_config = _view_config(args)
    symmetries = [Symmetry.parse(s) for s in catalog.class_symmetries]
    progress = ctx.is_main and not args.quiet
    sets = {}
    for rank_turn in (True, False):                       # rank 0 renders, the others then read the cache
        if ctx.is_main == rank_turn:
            for split, views in (("train", args.views), ("val", args.val_views)):
                sets[split] = make_view_set(catalog, view_config, views, args.seed, split, args.cache_dir,
                                            args.render_workers, progress)
        ctx.barrier()
    torch.manual_seed(args.seed)
    model = build_model(_model_config(args, len(catalog.classes)))
    if args.init_from and not (args.resume and (out / LAST).is_file()):
        fresh = initialise_from(model, args.init_from, catalog.classes)
        if progress:
            print(f"initialised from {args.init_from}; new: {', '.join(fresh) or 'none'}", file=sys.stderr)
    frozen = freeze_except(model, args.train_only)
    model = model.to(ctx.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda epoch: cosine_factor(epoch, args.epochs,
                                                                                         args.min_lr_ratio))
    start_epoch = 0
    if args.resume and (out / LAST).is_file():
        checkpoint = load_checkpoint(out / LAST, map_location="cpu")
        model.load_state_dict(checkpoint.state_dict)
        optimiser.load_state_dict(checkpoint.training_state["optimiser"])
        scheduler.load_state_dict(checkpoint.training_state["scheduler"])
        start_epoch = int(checkpoint.training_state["epoch"]) + 1
        if progress:
            print(f"resuming {out / LAST} after epoch {start_epoch}", file=sys.stderr)
    net = model
    if ctx.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    rotate = "so3" if args.protocol == "so3" else "z"
    dataset = ViewDataset(sets["train"], rotate=rotate, jitter_m=args.jitter_m, dropout_max=args.dropout_max,
                          num_points=args.num_points, seed=args.seed)
    val_arrays = {**sets["val"], "points": subsample(sets["val"]["points"], args.num_points, args.seed)}
    sampler = DistributedSampler(dataset, ctx.world_size, ctx.rank, shuffle=True, seed=args.seed,
                                 drop_last=True) if ctx.distributed else None
    metrics = {}
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "args.json").write_text(json.dumps({k: v for k, v in vars(args).items() if not k.startswith("_")},
                                                  indent=1, default=str))
    for epoch in range(start_epoch, args.epochs):
        dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(args.seed * 100003 + epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=sampler is None, sampler=sampler,
                            generator=generator, drop_last=True, num_workers=args.loader_workers)
        torch.manual_seed(args.seed * 100003 + epoch * 101 + ctx.rank)      # dropout masks
        net.train()
        for name in frozen:                               # frozen parts: running statistics stay, no dropout
            getattr(model, name).eval()
        steps = len(loader) if args.steps_per_epoch <= 0 else min(len(loader), args.steps_per_epoch)
        totals = torch.zeros(4, dtype=torch.float64)                           # loss, ce, rot, samples
        started = time.perf_counter()
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{args.epochs}", disable=not progress, leave=False)
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            points = batch["points"].to(ctx.device)
            labels = batch["label"].to(ctx.device)
            out_net = net(points)
            ce = F.cross_entropy(out_net["logits"], labels, label_smoothing=args.label_smoothing)
            batch_symmetries = [symmetries[i] for i in labels.tolist()]
            rot = rotation_loss(out_net, batch["rotation"].to(ctx.device), batch_symmetries, args)
            loss = ce + args.rotation_weight * rot
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            n = len(labels)
            totals += torch.tensor([loss.item() * n, ce.item() * n, rot.item() * n, n], dtype=torch.float64)
            bar.update()
            bar.set_postfix(loss=f"{totals[0] / totals[3]:.3f}")
        bar.close()
        scheduler.step()
        totals = ctx.all_reduce_sum(totals)
        seconds = time.perf_counter() - started
        if ctx.is_main:
            val = evaluate_arrays(model, val_arrays, symmetries, ctx.device)
            metrics = {"epoch": epoch + 1, "loss": float(totals[0] / totals[3]), "ce": float(totals[1] / totals[3]),
                       "rotation_loss": float(totals[2] / totals[3]), "lr": optimiser.param_groups[0]["lr"],
                       "samples_per_s": float(totals[3] / seconds), "seconds": seconds,
                       **{f"val_{k}": v for k, v in val.items()}}
            with open(out / METRICS_LOG, "a") as f:
                f.write(json.dumps(metrics) + "\n")
            if progress:
                print(json.dumps(metrics), file=sys.stderr)
            state = {"optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch}
            meta = _metadata(args, catalog, model, view_config, metrics)
            save_checkpoint(out / f"epoch_{epoch + 1:03d}.pt", model, meta, state)
            save_checkpoint(out / LAST, model, meta, state)
        ctx.barrier()
    final = out / FINAL
    if ctx.is_main:
        if not metrics and (out / LAST).is_file():
            metrics = load_checkpoint(out / LAST).metadata.get("metrics", {})
        save_checkpoint(final, model, _metadata(args, catalog, model, view_config, metrics))
    ctx.barrier()
    return final


def run(args):
    train(args)
    return 0


def main(argv=None):
    """`python -m vn_perception.training.train ...` (same options as `vn-perception train`)."""
    parser = argparse.ArgumentParser(prog="vn-perception train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args._argv = argv
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
