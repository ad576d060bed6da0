"""Package a trained checkpoint as the shipped default model (run from the repository root).

    .venv/bin/python scripts/package_default_model.py runs/ship3_bleed/model.pt docs/reports/default_model \
        --name "default model" --lineage runs/ship_multi_fast_vn_so3/model.pt runs/refine_frozen16/model.pt ...

Writes vn_perception/assets/default_model.pt: the checkpoint's weights and metadata plus
  * metadata["evaluation"]: the report's figures of row `--name` (and of "<name> + mesh ICP" when present),
  * metadata["licence"]: the attribution of the YCB object models the weights were trained on,
  * metadata["training"]["lineage"]: the training commands of the checkpoints it was fine-tuned from, oldest
    first (each `--lineage` file's own metadata), then its own.
"""
import argparse
import json
import sys
from pathlib import Path

from vn_perception.classifier import DEFAULT_MODEL_PATH
from vn_perception.models.checkpoint import load_checkpoint, save_checkpoint

LICENCE = ("weights trained by vn_perception on synthetic views of the YCB object models (YCB: CC BY 4.0, "
           "ycbbenchmarks.com; YCB-Video models via carlocolizzi/YCB-Video_Augmented_Dataset); attribution: "
           "Calli et al., The YCB object and model set, 2015; Xiang et al., PoseCNN, RSS 2018")


def figures(tests):
    """Compact figures of one report row: top-1 and median rotation errors per test set."""
    return {name: {"top1": t["accuracy"], "samples": t["samples"],
                   "rotation_median_deg": t["rotation_all"]["median_deg"],
                   "rotation_median_deg_correct": t["rotation_correct"]["median_deg"]} for name, t in tests.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("report", type=Path, help="report folder of `vn-perception evaluate` (metrics.json)")
    parser.add_argument("--name", required=True, help="the checkpoint's row name in the report")
    parser.add_argument("--lineage", type=Path, nargs="*", default=[], help="checkpoints it was fine-tuned from")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.checkpoint)
    report = json.loads((args.report / "metrics.json").read_text())
    rows = report["results"]
    if args.name not in rows:
        parser.error(f"no row {args.name!r} in {args.report / 'metrics.json'}: {', '.join(rows)}")
    evaluation = {"report": str(args.report / "summary.md"), "settings": report["settings"],
                  **figures(rows[args.name]["tests"])}
    if f"{args.name} + mesh ICP" in rows:
        evaluation["with_mesh_refinement"] = figures(rows[f"{args.name} + mesh ICP"]["tests"])
    metadata = dict(checkpoint.metadata)
    training = dict(metadata.get("training", {}))
    commands = [load_checkpoint(p).metadata.get("training", {}).get("command") for p in args.lineage]
    commands.append(training.get("command"))
    # checkpoints written before train.py dropped the subcommand record "vn-perception train train ..."
    training["lineage"] = [c.replace("vn-perception train train ", "vn-perception train ", 1) if c else c
                           for c in commands]
    training["command"] = training["lineage"][-1]
    metadata.update(training=training, evaluation=evaluation, licence=LICENCE)
    save_checkpoint(args.out, checkpoint.build_model(), metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
