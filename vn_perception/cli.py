"""`vn-perception` command line: one sub-command per task, each implemented in its own module.

Each module named in COMMANDS exposes `add_arguments(parser)` and `run(args) -> int`.
"""
import argparse
import importlib
import sys

#: sub-command -> (module, one-line help)
COMMANDS = {
    "demo": ("vn_perception.tools.demo", "replay a scene through the node; print and plot detections"),
    "train": ("vn_perception.training.train", "train a classifier on an object catalog"),
    "evaluate": ("vn_perception.training.evaluate", "evaluate checkpoints (z/z, z/SO3, SO3/SO3) into a report"),
    "simulate": ("vn_perception.tools.simulate", "render tabletop scenes into a rosbag2"),
    "bag-eval": ("vn_perception.tools.bag_eval", "evaluate the pipeline or the live node on a rosbag2"),
    "real-eval": ("vn_perception.tools.real_eval", "evaluate on real YCB-Video-layout frames"),
    "benchmark": ("vn_perception.tools.benchmark", "per-stage timings and peer ratios"),
    "study": ("vn_perception.tools.study", "the decision-plane study"),
}


def build_parser(selected=None):
    """The parser; only the `selected` sub-command's module is imported (keeps `--help` fast)."""
    parser = argparse.ArgumentParser(prog="vn-perception", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module_name)
        if name != selected:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if not module_name.startswith(e.name or "\0"):
                raise
            p.set_defaults(_missing=True)
            continue
        module.add_arguments(p)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(selected)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if getattr(args, "_missing", False):
        print(f"vn-perception {args.command}: not available in this version", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
