"""`vn-perception study`: the decision-plane study (issue 5) — which decision rule should the VN-ReLU use?

    vn-perception study --out runs/decision_planes --report docs/decision_planes          # the full grid
    vn-perception study --quick --out /tmp/study                                          # seconds (tests)

One command trains and evaluates the grid variants x seeds x tasks x training protocols (z, so3) with the same
encoder (`fast_vn`), data, budget and schedule for every variant, through `vn-perception train` (in process,
one CPU thread) and `training.evaluate.evaluate_synthetic`. Each run writes `OUT/<task>/<variant>/<protocol>/
seed<k>/result.json`; a run whose JSON exists is skipped (resume = rerun the command). Every final-epoch
model (never a best epoch) is scored on test views rendered with the z and the so3 protocol (z/z, z/SO(3),
SO(3)/SO(3), SO(3)/z), its float64 equivariance error of logits and rotation is measured under random
rotations, with its parameter count and training time. The aggregate (mean +- std over seeds) goes to
`REPORT/results.md`, `REPORT/results.json` and PNG plots.

Variants are the `direction` kinds of `vn.DIRECTIONS` (`vn/_nonlinearity.py`, `vn/_regions.py`). Tasks:
  * `ycbv_instance`: the 21 YCB-Video objects (shared catalog, source ycbv), test views of the same objects;
  * `category`: categories of the shared catalog (`--categories`), up to `--instances-per-category` distinct
    instances each, a third of them held out: the test objects are unseen instances. Instance frames differ
    within a category, so this task trains and scores classification only (`--rotation-weight 0`).
Both tasks are written as folder catalogs (`labels.csv` naming the shared meshes by absolute path; nothing is
copied) under `OUT/catalogs/`.
"""
import argparse
import copy
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from vn_perception.data.catalog import load_catalog, load_shared_catalog
from vn_perception.data.paths import shared_catalog_dir
from vn_perception.models.factory import count_parameters

VARIANTS = ("per_channel", "shared", "fixed_111", "sensor_octant", "frame_octant", "norm_gate")
#: what each variant is (table and plots)
VARIANT_NOTES = {
    "per_channel": "1: learned direction per channel (paper)",
    "shared": "2: learned direction shared by a layer",
    "fixed_111": "3: fixed direction [1,1,1]/sqrt3",
    "sensor_octant": "4: octants of the sensor frame",
    "frame_octant": "5: octants of a learned equivariant frame",
    "norm_gate": "6: norm gate (no plane)",
}
TASKS = ("ycbv_instance", "category")
TRAIN_PROTOCOLS = ("z", "so3")
TEST_PROTOCOLS = ("z", "so3")
#: the table's conditions: (name, training protocol, test protocol)
CONDITIONS = (("z/z", "z", "z"), ("z/SO(3)", "z", "so3"), ("SO(3)/SO(3)", "so3", "so3"))
DEFAULT_CATEGORIES = ("box", "bottle", "can", "mug_cup", "bowl", "plate", "fruit")
#: fraction of each category's instances held out for testing (at least one)
TEST_FRACTION = 1 / 3
#: seed of the instance split and of the test views (evaluate's default), fixed across runs
SPLIT_SEED = 0
TEST_SEED = 1234
#: clouds and random rotations of the float64 equivariance measurement
EQUIVARIANCE_CLOUDS = 8
EQUIVARIANCE_ROTATIONS = 3
#: the shipped model's orientation head (no VN nonlinearity in it, so variants differ in the encoder only)
ORIENTATION_HEAD = "frame_mlp"
RESULT = "result.json"
STEP_TIMES = "step_times.json"
#: interleaved rounds and steps per round of the step-time benchmark
STEP_ROUNDS = 3
STEP_COUNT = 10

#: the real study's budget (sized for ~80 min of one CPU core: see docs/decision_planes.md)
FULL = {"epochs": 8, "views": 64, "val_views": 2, "test_views": 20, "num_points": 128, "batch_size": 32,
        "lr": 2e-3, "instances_per_category": 8, "model": {}}
#: `--quick`: a few seconds per run, for tests
QUICK = {"epochs": 1, "views": 2, "val_views": 1, "test_views": 2, "num_points": 48, "batch_size": 4,
         "lr": 2e-3, "instances_per_category": 2, "max_classes": 3,
         "model": {"widths": [8, 8, 16], "head_hidden": [16], "orientation_hidden": [8], "candidates": 32}}


def add_arguments(parser):
    parser.add_argument("--out", default="runs/decision_planes", help="run folder (per-run JSON, checkpoints)")
    parser.add_argument("--report", default=None, help="aggregate folder (results.md, plots; default OUT/report)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"direction kinds ({', '.join(VARIANTS)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--protocols", nargs="+", choices=TRAIN_PROTOCOLS, default=list(TRAIN_PROTOCOLS),
                        help="training protocols")
    parser.add_argument("--epochs", type=int, default=None, help=f"default {FULL['epochs']}")
    parser.add_argument("--views", type=int, default=None, help=f"training views per object (default {FULL['views']})")
    parser.add_argument("--test-views", type=int, default=None,
                        help=f"test views per object and protocol (default {FULL['test_views']})")
    parser.add_argument("--num-points", type=int, default=None, help=f"points per cloud (default {FULL['num_points']})")
    parser.add_argument("--categories", nargs="+", default=list(DEFAULT_CATEGORIES))
    parser.add_argument("--catalog", default=str(shared_catalog_dir()), help="shared catalog folder")
    parser.add_argument("--cache-dir", default=None, help="view cache (default as vn-perception train)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared machine)")
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds; for tests)")
    parser.add_argument("--aggregate-only", action="store_true", help="only aggregate the existing results")


def settings_of(args):
    """The budget of this invocation: FULL (or QUICK) with the command-line overrides."""
    settings = copy.deepcopy(QUICK if args.quick else FULL)
    for key in ("epochs", "views", "test_views", "num_points"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


# ---------------------------------------------------------------- tasks

def _write_labels(folder, entries, symmetries=True):
    """Folder catalog `folder/labels.csv` naming meshes by absolute path (CatalogEntry list, classes in order);
    `symmetries=False` writes "none" (category classes: each instance has its own mesh frame)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "class", "symmetry"])
        for e in entries:
            writer.writerow([str(Path(e.mesh_path).resolve()), e.label, e.symmetry if symmetries else "none"])
    return folder


def instance_task(catalog_root, out, max_classes=None):
    """(train folder, test folder): the YCB-Video objects, the same catalog for training and testing."""
    entries = load_shared_catalog(catalog_root, source="ycbv").entries[:max_classes]
    folder = _write_labels(Path(out) / "catalogs" / "ycbv_instance", entries)
    return folder, folder


def split_instances(catalog_root, categories, per_category, seed=SPLIT_SEED):
    """{category: (train entries, test entries)}: distinct instances (duplicates merged away), at most
    `per_category` per category in a seeded order, `TEST_FRACTION` of them (at least one) held out."""
    catalog = load_shared_catalog(catalog_root, source=None, level="category")
    instance = load_shared_catalog(catalog_root, source=None, level="instance")
    representative = {e.name: e.label for e in instance.entries}          # near duplicates -> first name
    rng = np.random.default_rng(seed)
    out = {}
    for category in categories:
        found = [e for e in catalog.entries if e.label == category and representative[e.name] == e.name]
        if len(found) < 2:
            raise ValueError(f"category {category!r} has {len(found)} distinct instances; need >= 2")
        chosen = [found[i] for i in rng.permutation(len(found))[:per_category]]
        n_test = max(1, int(round(len(chosen) * TEST_FRACTION)))
        out[category] = (chosen[n_test:], chosen[:n_test])
    return out


def category_task(catalog_root, out, categories, per_category):
    """(train folder, test folder) of the category task (unseen test instances)."""
    split = split_instances(catalog_root, categories, per_category)
    root = Path(out) / "catalogs" / "category"
    train = _write_labels(root / "train", [e for c in categories for e in split[c][0]], symmetries=False)
    test = _write_labels(root / "test", [e for c in categories for e in split[c][1]], symmetries=False)
    return train, test


# ---------------------------------------------------------------- one run

def run_folder(out, task, variant, protocol, seed):
    return Path(out) / task / variant / protocol / f"seed{seed}"


def equivariance_errors(model, clouds, generator):
    """Float64 `max |f(R x) - R f(x)|` of logits (invariant) and rotation (frame) over random rotations."""
    from vn_perception.utils.equivariance import equivariance_error
    model = copy.deepcopy(model).double().eval()
    points = torch.as_tensor(np.stack(clouds), dtype=torch.float64)
    logits = equivariance_error(lambda p: model(p)["logits"], points, "points", "invariant",
                                n_trials=EQUIVARIANCE_ROTATIONS, generator=generator)
    rotation = equivariance_error(lambda p: model(p)["rotation"], points, "points", "frame",
                                  n_trials=EQUIVARIANCE_ROTATIONS, generator=generator)
    return {"logits": logits, "rotation": rotation}


def train_and_evaluate(task, variant, protocol, seed, train_dir, test_dir, settings, folder, cache_dir=None,
                       threads=1):
    """One run: train (resumable), evaluate the final-epoch model, write and return `folder/result.json`."""
    from vn_perception.classifier import ObjectClassifier
    from vn_perception.training import train as train_module
    from vn_perception.training.evaluate import evaluate_synthetic

    folder = Path(folder)
    model_config = {"direction": variant, "orientation": ORIENTATION_HEAD, **settings["model"]}
    n = settings["num_points"]
    argv = ["--catalog", str(train_dir), "--encoder", "fast_vn", "--model-config", json.dumps(model_config),
            "--protocol", protocol, "--views", str(settings["views"]), "--val-views", str(settings["val_views"]),
            "--num-points", str(n), "--view-points", str(n), "--epochs", str(settings["epochs"]),
            "--batch-size", str(settings["batch_size"]), "--lr", str(settings["lr"]),
            "--rotation-weight", "0" if task == "category" else "1", "--threads", str(threads),
            "--seed", str(seed), "--out", str(folder), "--resume", "--quiet"]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    parser = argparse.ArgumentParser()
    train_module.add_arguments(parser)
    train_args = parser.parse_args(argv)
    train_args._argv = argv
    final = train_module.train(train_args)
    epochs = [json.loads(line) for line in (folder / train_module.METRICS_LOG).read_text().splitlines() if line]

    classifier = ObjectClassifier.load(final, device="cpu")
    test_catalog = load_catalog(test_dir)
    tests, clouds = {}, None
    for test_protocol in TEST_PROTOCOLS:
        scores = evaluate_synthetic(classifier, test_catalog, test_protocol, settings["test_views"], TEST_SEED,
                                    cache_dir, progress=False)
        tests[test_protocol] = {"accuracy": scores["accuracy"], "samples": scores["samples"],
                                "rotation_median_deg": scores["rotation_all"]["median_deg"]}
    from vn_perception.data.dataset import make_view_set
    from vn_perception.data.views import ViewConfig
    arrays = make_view_set(test_catalog, ViewConfig(protocol="so3", num_points=n), settings["test_views"],
                           TEST_SEED, "test", cache_dir, progress=False)
    step = max(1, len(arrays["points"]) // EQUIVARIANCE_CLOUDS)
    clouds = [p - p.mean(0) for p in arrays["points"][::step][:EQUIVARIANCE_CLOUDS]]
    result = {"task": task, "variant": variant, "protocol": protocol, "seed": seed,
              "parameters": count_parameters(classifier.model),
              "train_seconds": float(sum(e["seconds"] for e in epochs)), "epochs": len(epochs),
              "final_epoch": epochs[-1], "tests": tests,
              "equivariance": equivariance_errors(classifier.model, clouds, torch.Generator().manual_seed(seed)),
              "settings": settings, "train_argv": argv}
    tmp = folder / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(folder / RESULT)
    for checkpoint in [*folder.glob("epoch_*.pt"), folder / train_module.LAST]:   # keep model.pt only
        checkpoint.unlink(missing_ok=True)
    return result


# ---------------------------------------------------------------- cost

def measure_step_ms(variants, settings, num_classes=21, rounds=STEP_ROUNDS, steps=STEP_COUNT):
    """{variant: median ms of one training step (forward, backward, AdamW) at the study's batch and points}.

    The variants are interleaved round by round, so a change of machine load hits all of them alike (the
    per-run training times of the grid are wall times under whatever load the machine had)."""
    from vn_perception.models.factory import build_model
    torch.manual_seed(SPLIT_SEED)
    points = torch.randn(settings["batch_size"], settings["num_points"], 3)
    labels = torch.randint(num_classes, (settings["batch_size"],))
    models = {}
    for variant in variants:
        model = build_model({"encoder": "fast_vn", "num_classes": num_classes, "direction": variant,
                             "orientation": ORIENTATION_HEAD, **settings["model"]})
        models[variant] = (model, torch.optim.AdamW(model.parameters()))
    times = {v: [] for v in variants}

    def step(model, optimiser):
        out = model(points)
        loss = torch.nn.functional.cross_entropy(out["logits"], labels) + out["rotation"].square().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for round_index in range(rounds + 1):                  # round 0 warms up
        for variant, (model, optimiser) in models.items():
            started = time.perf_counter()
            for _ in range(steps):
                step(model, optimiser)
            if round_index:
                times[variant].append(1000 * (time.perf_counter() - started) / steps)
    return {v: float(np.median(t)) for v, t in times.items()}


# ---------------------------------------------------------------- aggregate

def load_results(out):
    return [json.loads(p.read_text()) for p in sorted(Path(out).glob(f"*/*/*/seed*/{RESULT}"))]


def _stat(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values)}


def aggregate(results):
    """{task: {variant: {metric: {mean, std, n}}}} over seeds."""
    table = {}
    order = {name: i for i, name in enumerate((*TASKS, *VARIANTS))}
    for task in sorted({r["task"] for r in results}, key=lambda t: order.get(t, len(order))):
        table[task] = {}
        for variant in sorted({r["variant"] for r in results if r["task"] == task},
                              key=lambda v: order.get(v, len(order))):
            runs = [r for r in results if r["task"] == task and r["variant"] == variant]
            by = {p: [r for r in runs if r["protocol"] == p] for p in TRAIN_PROTOCOLS}
            row = {}
            for name, train_p, test_p in CONDITIONS:
                row[name] = _stat([100 * r["tests"][test_p]["accuracy"] for r in by[train_p]])
                row[f"rot {name}"] = _stat([r["tests"][test_p]["rotation_median_deg"] for r in by[train_p]])
            row["equivariance logits"] = _stat([r["equivariance"]["logits"] for r in runs])
            row["equivariance rotation"] = _stat([r["equivariance"]["rotation"] for r in runs])
            row["parameters"] = _stat([r["parameters"] for r in runs])
            row["train seconds"] = _stat([r["train_seconds"] for r in runs])
            row["runs"] = len(runs)
            table[task][variant] = row
    return table


def paired_differences(results, reference="per_channel"):
    """{variant: {condition: stat}}: top-1 (percentage points) minus the reference variant's, paired by task,
    seed and condition (same data and seed), pooled over the tasks; "all" pools the three conditions."""
    index = {(r["task"], r["variant"], r["protocol"], r["seed"]): r for r in results}
    out = {}
    for variant in sorted({r["variant"] for r in results} - {reference}, key=list(VARIANTS).index):
        row, pooled = {}, []
        for name, train_p, test_p in CONDITIONS:
            diffs = [100 * (r["tests"][test_p]["accuracy"] - ref["tests"][test_p]["accuracy"])
                     for (task, v, p, seed), r in index.items() if v == variant and p == train_p
                     for ref in [index.get((task, reference, p, seed))] if ref is not None]
            row[name] = _stat(diffs)
            pooled += diffs
        row["all"] = _stat(pooled)
        out[variant] = row
    return out


def _pm(stat, digits=1):
    if stat is None:
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _sci(stat):
    return "-" if stat is None else f"{stat['mean']:.0e}"


def markdown(table, settings, seeds, paired=None, step_ms=None):
    """The results section: one table per task, then the paired differences to `per_channel` (if given)."""
    parts = []
    for task, rows in table.items():
        parts += [f"### Task `{task}`", ""]
        headers = ["variant", "params", "z/z top-1 %", "z/SO(3) top-1 %", "SO(3)/SO(3) top-1 %"]
        if task == "ycbv_instance":
            headers += ["rot. err. z/z (deg)", "rot. err. SO(3)/SO(3) (deg)"]
        headers += ["equiv. err. logits", "equiv. err. rotation", "train s / run"]
        if step_ms:
            headers.append("ms / step")
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for variant, row in rows.items():
            cells = [f"{VARIANT_NOTES.get(variant, variant)} (`{variant}`)",
                     "-" if row["parameters"] is None else f"{row['parameters']['mean'] / 1000:.1f} k",
                     _pm(row["z/z"]), _pm(row["z/SO(3)"]), _pm(row["SO(3)/SO(3)"])]
            if task == "ycbv_instance":
                cells += [_pm(row["rot z/z"]), _pm(row["rot SO(3)/SO(3)"])]
            cells += [_sci(row["equivariance logits"]), _sci(row["equivariance rotation"]),
                      _pm(row["train seconds"], 0)]
            if step_ms:
                cells.append(f"{step_ms[variant]:.0f}" if variant in step_ms else "-")
            lines.append("| " + " | ".join(cells) + " |")
        parts += [*lines, ""]
    if paired:
        parts += ["### Paired difference to `per_channel` (percentage points of top-1)", "",
                  "Same task, seed (data, initialisation) and condition; pooled over both tasks; mean ± std (n).", "",
                  "| variant | z/z | z/SO(3) | SO(3)/SO(3) | all three |", "|---|---|---|---|---|"]
        for variant, row in paired.items():
            cells = [f"{_pm(row[c])} ({row[c]['n']})" if row[c] else "-" for c in (*(n for n, _, _ in CONDITIONS), "all")]
            parts.append(f"| `{variant}` | " + " | ".join(cells) + " |")
        parts.append("")
    runs = sum(row["runs"] for rows in table.values() for row in rows.values())
    parts += [f"Mean ± std over seeds {', '.join(map(str, seeds))} ({runs} runs); final-epoch models. "
              f"Budget per run: {settings['epochs']} epochs, {settings['views']} training views per object, "
              f"{settings['num_points']} points, batch {settings['batch_size']}, lr {settings['lr']} (AdamW, "
              f"cosine); {settings['test_views']} test views per object and test protocol. Equivariance error: "
              f"max |f(Rx) - R f(x)| in float64 over {EQUIVARIANCE_ROTATIONS} random rotations and "
              f"{EQUIVARIANCE_CLOUDS} test clouds (mean over runs; logits and rotation-matrix entries). "
              "train s / run: wall time of the training epochs under the machine's load at the time; ms / step: "
              f"median of {STEP_ROUNDS} interleaved rounds of {STEP_COUNT} training steps (batch "
              f"{settings['batch_size']}, {settings['num_points']} points, one thread).", ""]
    return "\n".join(parts)


def plots(table, folder):
    """accuracy.png (top-1 per condition, per task) and orientation.png (ycbv rotation error, equivariance)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    files = []
    fig, axes = plt.subplots(1, len(table), figsize=(6.5 * len(table), 4.2), squeeze=False)
    for ax, (task, rows) in zip(axes[0], table.items()):
        variants = list(rows)
        x = np.arange(len(variants))
        width = 0.8 / len(CONDITIONS)
        for i, (name, _, _) in enumerate(CONDITIONS):
            stats = [rows[v][name] for v in variants]
            ax.bar(x + (i - 1) * width, [s["mean"] if s else 0 for s in stats], width,
                   yerr=[s["std"] if s else 0 for s in stats], capsize=2, label=name)
        ax.set_xticks(x, variants, rotation=30, ha="right")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(task)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(title="train/test", fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "accuracy.png", dpi=120)
    plt.close(fig)
    files.append("accuracy.png")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    rows = table.get("ycbv_instance")
    if rows:
        variants = list(rows)
        x = np.arange(len(variants))
        for i, name in enumerate(("rot z/z", "rot z/SO(3)", "rot SO(3)/SO(3)")):
            stats = [rows[v][name] for v in variants]
            axes[0].bar(x + (i - 1) * 0.27, [s["mean"] if s else 0 for s in stats], 0.27,
                        yerr=[s["std"] if s else 0 for s in stats], capsize=2, label=name[4:])
        axes[0].set_xticks(x, variants, rotation=30, ha="right")
        axes[0].set_ylabel("median rotation error (deg)")
        axes[0].set_title("ycbv_instance: orientation")
        axes[0].set_ylim(0, 120)
        axes[0].legend(title="train/test", fontsize=8, ncol=3, loc="upper center")
        axes[0].grid(axis="y", alpha=0.3)
    for task, rows in table.items():
        variants = list(rows)
        values = [max(rows[v]["equivariance logits"]["mean"], 1e-17) for v in variants]
        axes[1].scatter(variants, values, label=task)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("float64 equivariance error of the logits")
    axes[1].set_title("measured invariance")
    axes[1].tick_params(axis="x", rotation=30)
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "orientation_equivariance.png", dpi=120)
    plt.close(fig)
    files.append("orientation_equivariance.png")
    return files


def write_report(out, report):
    """Aggregate every result under `out` into `report/` (results.md, results.json, PNGs); settings and seeds
    are read from the results (one budget per run folder)."""
    report = Path(report)
    report.mkdir(parents=True, exist_ok=True)
    results = load_results(out)
    if not results:
        raise SystemExit(f"no results under {out}")
    settings, seeds = results[0]["settings"], sorted({r["seed"] for r in results})
    if any(r["settings"] != settings for r in results):
        raise SystemExit(f"{out} mixes runs of different budgets: use one --out per budget")
    table = aggregate(results)
    paired = paired_differences(results) if any(r["variant"] == "per_channel" for r in results) else None
    variants = sorted({r["variant"] for r in results}, key=list(VARIANTS).index)
    step_file = Path(out) / STEP_TIMES
    step_ms = json.loads(step_file.read_text()) if step_file.is_file() else {}
    if set(variants) - set(step_ms):
        step_ms = measure_step_ms(variants, settings)
        step_file.write_text(json.dumps(step_ms, indent=1))
    files = plots(table, report)
    text = markdown(table, settings, seeds, paired, step_ms) + "\n" + "\n".join(f"![{f}]({f})" for f in files) + "\n"
    (report / "results.md").write_text(text)
    (report / "results.json").write_text(json.dumps({"settings": settings, "table": table, "paired": paired,
                                                     "step_ms": step_ms}, indent=1))
    return report


# ---------------------------------------------------------------- command

def run(args):
    settings = settings_of(args)
    out = Path(args.out)
    report = Path(args.report) if args.report else out / "report"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not args.aggregate_only:
        unknown = sorted(set(args.variants) - set(VARIANTS))
        if unknown:
            raise SystemExit(f"unknown variants {unknown}: expected {', '.join(VARIANTS)}")
        max_classes = settings.get("max_classes")
        folders = {}
        if "ycbv_instance" in args.tasks:
            folders["ycbv_instance"] = instance_task(args.catalog, out, max_classes)
        if "category" in args.tasks:
            folders["category"] = category_task(args.catalog, out, args.categories[:max_classes],
                                                settings["instances_per_category"])
        grid = [(seed, task, protocol, variant) for seed in args.seeds for task in args.tasks
                for protocol in args.protocols for variant in args.variants]
        started = time.perf_counter()
        bar = tqdm(grid, desc="study", unit="run")
        for seed, task, protocol, variant in bar:
            folder = run_folder(out, task, variant, protocol, seed)
            bar.set_postfix_str(f"{task} {variant} {protocol} seed {seed}")
            if (folder / RESULT).is_file():
                continue
            train_dir, test_dir = folders[task]
            result = train_and_evaluate(task, variant, protocol, seed, train_dir, test_dir, settings, folder,
                                        args.cache_dir, args.threads)
            bar.write(f"{task} {variant} {protocol} seed {seed}: " + ", ".join(
                f"{t} {100 * s['accuracy']:.1f} %" for t, s in result["tests"].items())
                + f", equiv. {result['equivariance']['logits']:.1e}, {result['train_seconds']:.0f} s")
        bar.close()
        print(f"study: {len(grid)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    folder = write_report(out, report)
    print(f"report: {folder / 'results.md'}")
    return 0


def main(argv=None):
    """`python -m vn_perception.tools.study ...` (same options as `vn-perception study`)."""
    parser = argparse.ArgumentParser(prog="vn-perception study", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
