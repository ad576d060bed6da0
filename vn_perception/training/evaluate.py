"""`vn-perception evaluate`: checkpoints on held-out synthetic views (z and SO(3)) and on real frames.

    vn-perception evaluate runs/fast_vn_z/model.pt runs/fast_vn_so3/model.pt runs/pointnet_z/model.pt \\
        --views 30 --out docs/reports/protocols

Every checkpoint is run through `ObjectClassifier` (the deployment path) on
  * test views of its catalog (split "test": never seen in training or validation) rendered with the `z`
    and the `so3` protocol (`data/views.py`). A checkpoint trained with protocol A and tested with B is
    reported as A/B: z/z, z/SO(3), SO(3)/SO(3) (and SO(3)/z);
  * the real YCB-Video dev frames (`--real`, `training/real.py`): objects whose visibility (mask pixels with
    a depth reading / unoccluded silhouette pixels) is at least `--min-visibility`.
Metrics: top-1 accuracy, per-class accuracy, confusion matrix, symmetry-aware rotation error (angle of
R_pred R_gt^T minimised over the true class's symmetries; median over all samples of a set, and over the
correctly classified ones). The report folder holds summary.md, metrics.json and PNG plots.
`--mesh-refine`: every checkpoint is also scored with mesh pose refinement (`perception.mesh_pose`: the
catalog's meshes of the three most probable classes aligned to the points by ICP from the network's rotation
hypotheses, the class probabilities re-weighted by the fits), as a second row "<name> + mesh ICP".
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vn_perception.classifier import ObjectClassifier
from vn_perception.data.catalog import load_catalog
from vn_perception.data.dataset import make_view_set
from vn_perception.data.paths import real_dev_file, shared_catalog_dir
from vn_perception.data.views import PROTOCOLS
from vn_perception.evaluation.metrics import rotation_summary
from vn_perception.evaluation.report import confusion_matrix_png, markdown_table, rotation_cdf_png
from vn_perception.perception.mesh_pose import MeshPoseRefiner, MeshRefinedClassifier
from vn_perception.training.metrics import confusion_matrix, per_class_accuracy, rotation_errors_deg
from vn_perception.training.real import real_objects
from vn_perception.utils.device import DEVICE_CHOICES

PROTOCOL_NAMES = {"z": "z", "so3": "SO(3)"}
REAL = "real"
#: clouds per `predict` call (bounds memory; each call is one forward pass)
PREDICT_CHUNK = 256
#: the visibility threshold of the real-frame targets
DEFAULT_MIN_VISIBILITY = 0.3


def add_arguments(parser):
    parser.add_argument("checkpoints", nargs="+", help="checkpoint files (model.pt of training runs)")
    parser.add_argument("--names", nargs="*", default=None, help="display names, one per checkpoint")
    parser.add_argument("--catalog", default=str(shared_catalog_dir()))
    parser.add_argument("--source", default="ycbv")
    parser.add_argument("--level", choices=("instance", "category"), default="instance")
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS),
                        help="test protocols")
    parser.add_argument("--views", type=int, default=30, help="test views per object and protocol")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the test views")
    parser.add_argument("--real", default=str(real_dev_file()), help="real frames file ('' to skip)")
    parser.add_argument("--min-visibility", type=float, default=DEFAULT_MIN_VISIBILITY)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)}")
    parser.add_argument("--out", default="reports/evaluate", help="report folder")
    parser.add_argument("--confusion-plots", type=int, default=-1,
                        help="confusion matrices and rotation-error CDF for the first N checkpoints only (-1: all)")
    parser.add_argument("--view-options", default="{}",
                        help="JSON of extra ViewConfig options for the test views (as `train --view-options`)")
    parser.add_argument("--mesh-refine", action="store_true",
                        help="also score each checkpoint with mesh pose refinement (ICP of the catalog's meshes)")
    parser.add_argument("--quiet", action="store_true")


def predict_all(classifier, clouds):
    """`Prediction`s of many clouds, `PREDICT_CHUNK` clouds per forward pass."""
    out = []
    for start in range(0, len(clouds), PREDICT_CHUNK):
        out += classifier.predict(clouds[start:start + PREDICT_CHUNK])
    return out


def score(classifier, clouds, truth_names, truth_rotations):
    """Metrics of `classifier` on labelled clouds (true class names, true object -> sensor rotations)."""
    index = {c: k for k, c in enumerate(classifier.classes)}
    truth = np.array([index[n] for n in truth_names])
    predictions = predict_all(classifier, clouds)
    predicted = np.array([p.index for p in predictions])
    errors = rotation_errors_deg(np.stack([p.rotation for p in predictions]), np.asarray(truth_rotations), truth,
                                 classifier.symmetries)
    correct = predicted == truth
    matrix = confusion_matrix(truth, predicted, len(classifier.classes))
    present = sorted(set(truth.tolist()) | set(predicted.tolist()))   # rows/columns shown in the confusion
    return {"samples": int(len(truth)), "accuracy": float(correct.mean()),
            "rotation_all": rotation_summary(errors.tolist()),
            "rotation_correct": rotation_summary(errors[correct].tolist()),
            "errors_deg": errors.tolist(), "correct": correct.tolist(),
            "per_class": {classifier.classes[k]: {"accuracy": per_class_accuracy(matrix)[k],
                                                  "samples": int(matrix[k].sum()),
                                                  "rotation_median_deg": float(np.median(errors[truth == k]))}
                          for k in sorted(set(truth.tolist()))},
            "confusion": {"labels": [classifier.classes[k] for k in present],
                          "matrix": matrix[np.ix_(present, present)].tolist()}}


def evaluate_synthetic(classifier, catalog, protocol, views, seed, cache_dir=None, progress=True, view_options=None):
    """Scores on `views` test views per object of `catalog` rendered with `protocol` (and `view_options`,
    further `ViewConfig` fields as for `vn-perception train --view-options`)."""
    from vn_perception.training.train import view_config
    arrays = make_view_set(catalog, view_config(protocol, classifier.num_points, view_options), views, seed,
                           "test", cache_dir, progress=progress)
    names = [catalog.classes[k] for k in arrays["label"]]
    # back in the camera frame (views are stored centred): the network centres them again, the mesh refinement
    # needs the direction the camera looked from
    clouds = list(arrays["points"].astype(np.float64) + arrays["centroid"][:, None, :].astype(np.float64))
    return score(classifier, clouds, names, arrays["rotation"])


def evaluate_real(classifier, objects):
    """Scores on real objects (`training.real.RealObject`); adds the mean visibility."""
    result = score(classifier, [o.points for o in objects], [o.name for o in objects],
                   np.stack([o.rotation for o in objects]))
    result["visibility_mean"] = float(np.mean([o.visibility for o in objects]))
    result["scenes"] = sorted({o.video for o in objects})
    return result


def _display_name(classifier, path):
    meta = classifier.metadata
    encoder = meta.get("model_config", {}).get("encoder", "?")
    protocol = meta.get("training", {}).get("options", {}).get("protocol", "?")
    return f"{encoder} / {PROTOCOL_NAMES.get(protocol, protocol)} ({Path(path).parent.name})"


def _cell(result, key="accuracy"):
    if result is None:
        return "-"
    if key == "accuracy":
        return f"{100 * result['accuracy']:.1f} %"
    value = result[key]["median_deg"]
    return "-" if value is None else f"{value:.1f}"


def write_report(folder, results, settings, confusion_plots=-1):
    """summary.md + metrics.json + plots from {name: {"train_protocol", "tests": {test: scores}}};
    confusion-matrix PNGs for the first `confusion_plots` results (-1: all)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tests = [t for t in [*PROTOCOLS, REAL] if any(t in r["tests"] for r in results.values())]
    headers = ["model (encoder / training protocol)"]
    for t in tests:
        label = "real" if t == REAL else f"test {PROTOCOL_NAMES[t]}"
        headers += [f"{label}: top-1", f"{label}: median rot. err. (deg)", f"{label}: same, correct class only"]
    rows = []
    for name, r in results.items():
        row = [name]
        for t in tests:
            result = r["tests"].get(t)
            row += [_cell(result), _cell(result, "rotation_all"), _cell(result, "rotation_correct")]
        rows.append(row)
    parts = ["# Evaluation: synthetic protocols and real frames", "",
             *[f"- {k}: {v}" for k, v in settings.items()], "",
             "Training protocol / test protocol: z/z, z/SO(3), SO(3)/SO(3) read off each row. Rotation errors "
             "are symmetry-aware (minimum over the true class's symmetries), median over all samples of the "
             "set and over the correctly classified ones; per class: top-1 and the median over all samples.", "",
             "## Overview", "", markdown_table(headers, rows), ""]
    cdf = {}
    for i, (name, r) in enumerate(results.items()):
        parts += [f"## {name}", ""]
        per_class_rows, class_headers = [], ["class"]
        for t in tests:
            label = "real" if t == REAL else f"test {PROTOCOL_NAMES[t]}"
            class_headers += [f"{label}: top-1", f"{label}: median rot. err. (deg)"]
        for c in sorted(set().union(*[set(res["per_class"]) for res in r["tests"].values()]), key=str):
            cells = [c]
            for t in tests:
                pc = r["tests"].get(t, {}).get("per_class", {}).get(c)
                cells += ["-", "-"] if pc is None else [f"{100 * pc['accuracy']:.0f} % (n={pc['samples']})",
                                                        f"{pc['rotation_median_deg']:.1f}"]
            per_class_rows.append(cells)
        parts += [markdown_table(class_headers, per_class_rows), ""]
        detailed = confusion_plots < 0 or i < max(confusion_plots, 1)
        for t, result in r["tests"].items():
            if not detailed:
                continue
            plot = f"confusion_{i}_{t}.png"
            confusion_matrix_png(folder / plot, result["confusion"]["labels"], result["confusion"]["matrix"])
            parts += [f"![confusion {name} {t}]({plot})", ""]
            test_name = "real" if t == REAL else f"test {PROTOCOL_NAMES[t]}"
            correct_errors = [e for e, ok in zip(result["errors_deg"], result["correct"]) if ok]
            cdf[test_name if confusion_plots == 1 else f"{name} | {test_name}"] = correct_errors
    rotation_cdf_png(folder / "rotation_error_cdf.png", cdf)
    cdf_of = next(iter(results)) if confusion_plots == 1 else "the detailed models"
    parts += [f"## Rotation error CDF of {cdf_of} (correctly classified samples, symmetry-aware)", "",
              "![rotation error CDF](rotation_error_cdf.png)", ""]
    (folder / "summary.md").write_text("\n".join(parts))
    slim = {name: {"train_protocol": r["train_protocol"], "path": r["path"],
                   "tests": {t: {k: v for k, v in res.items() if k not in ("errors_deg", "correct")}
                             for t, res in r["tests"].items()}} for name, r in results.items()}
    (folder / "metrics.json").write_text(json.dumps({"settings": settings, "results": slim}, indent=1))
    return folder


def evaluate(args):
    """Evaluate every checkpoint of `args`; writes the report folder and returns the results dict."""
    catalog = load_catalog(args.catalog, source=None if args.source in ("all", "") else args.source,
                           level=args.level)
    meshes = {}                                     # class -> its meshes (one per catalog entry)
    for entry in catalog.entries if args.real or args.mesh_refine else []:
        meshes.setdefault(entry.label, []).append(entry.load_mesh())
    objects = (real_objects(args.real, {label: group[0] for label, group in meshes.items()},
                            min_visibility=args.min_visibility) if args.real else None)
    refiner = MeshPoseRefiner(meshes) if args.mesh_refine else None
    names = args.names or []
    results = {}
    for i, path in enumerate(tqdm(args.checkpoints, desc="checkpoints", disable=args.quiet)):
        loaded = ObjectClassifier.load(path, device=args.device)
        name = names[i] if i < len(names) else _display_name(loaded, path)
        variants = [(name, loaded)] + ([(f"{name} + mesh ICP", MeshRefinedClassifier(loaded, refiner))]
                                       if refiner is not None else [])
        for variant, classifier in variants:
            tests = {p: evaluate_synthetic(classifier, catalog, p, args.views, args.seed, args.cache_dir,
                                           not args.quiet, args.view_options) for p in args.protocols}
            if objects:
                tests[REAL] = evaluate_real(classifier, objects)
            protocol = loaded.metadata.get("training", {}).get("options", {}).get("protocol")
            results[variant] = {"train_protocol": protocol, "path": str(path), "tests": tests}
    settings = {"catalog": f"{args.catalog} (source {args.source}, {args.level} level)",
                "test views": f"{args.views} per object and protocol, seed {args.seed} (split 'test')"
                              + (f", view options {args.view_options}" if json.loads(args.view_options) else ""),
                "real frames": f"{args.real or 'none'} (visibility >= {args.min_visibility}; "
                               f"{len(objects or [])} objects)"}
    write_report(args.out, results, settings, args.confusion_plots)
    return results


def run(args):
    results = evaluate(args)
    for name, r in results.items():
        line = ", ".join(f"{t}: {100 * res['accuracy']:.1f} % / {res['rotation_all']['median_deg']:.1f} deg"
                         for t, res in r["tests"].items())
        print(f"{name}: {line}")
    print(f"report: {Path(args.out) / 'summary.md'}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vn-perception evaluate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
