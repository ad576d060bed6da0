"""`vn-perception real-eval`: the pipeline on real depth frames with ground truth (YCB-Video layout), scored.

    vn-perception real-eval [--data FILE.npz] [--out reports/real] [--compare reports/sim_offline]

Each frame is back-projected to an organized cloud and run through `ScenePipeline.process`; detections are
matched to the ground-truth objects (`evaluation.real_frames`: objects with >= --min-visible-pixels mask pixels
with depth; ground-truth centre = the pose translation as in simulated bags, `--gt-centre mask` for the median
of the masked points) and scored as `bag-eval` does, plus segmentation recall / precision: a detection's points
(`Detection.indices`) against the ground-truth masks, a match at IoU >= 0.5 (`perception.metrics`).
Precision is a lower bound: the YCB-Video frames hold things nobody annotated (other objects, the table's
edge, clutter), and a detection of one of them counts as a false positive.
`--compare DIR` (repeatable) puts the overall figures of another report (e.g. bag-eval on a simulated bag)
beside these in summary.md.
"""
import sys
from pathlib import Path

from tqdm import tqdm

from vn_perception.data.paths import real_dev_file
from vn_perception.data.ycbv_frames import count_frames
from vn_perception.evaluation.real_frames import CENTRES, DEFAULT_MIN_VISIBLE_PIXELS, load_real_frames
from vn_perception.tools.bag_eval import add_pipeline_arguments, load_pipeline, run_pipeline

#: a detection's points match a ground-truth mask at this IoU or above
SEGMENTATION_IOU = 0.5


def add_arguments(parser):
    parser.add_argument("--data", type=Path, default=real_dev_file(), help="frames file (.npz, YCB-Video layout)")
    parser.add_argument("--out", type=Path, default=Path("real_eval_report"), help="report folder")
    add_pipeline_arguments(parser)
    parser.add_argument("--frames", type=int, nargs="+", default=None, help="frame indices (default: all)")
    parser.add_argument("--gt-centre", choices=CENTRES, default="pose",
                        help="ground-truth position: the pose translation, or the median of the masked points")
    parser.add_argument("--min-visible-pixels", type=int, default=DEFAULT_MIN_VISIBLE_PIXELS,
                        help="objects with fewer mask pixels with depth are not in the ground truth")
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another report folder whose figures go beside these (repeatable)")


def run(args):
    from vn_perception.evaluation.metrics import Evaluation
    from vn_perception.evaluation.report import headline, load_metrics, write_report
    from vn_perception.perception.metrics import match_counts

    if not args.data.is_file():
        print(f"vn-perception real-eval: no frames file {args.data}", file=sys.stderr)
        return 2
    compare = {}
    for folder in args.compare:
        metrics = load_metrics(folder)
        compare[f"{metrics.get('title', folder.name)} ({folder.name})"] = metrics
    pipeline = load_pipeline(args)
    classifier = pipeline.classifier
    evaluation = Evaluation(dict(zip(classifier.classes, classifier.symmetries)), args.match_threshold)
    frames = load_real_frames(args.data, args.frames, args.gt_centre, args.min_visible_pixels)
    total = len(args.frames) if args.frames is not None else count_frames(args.data)
    for frame in tqdm(frames, total=total, desc="real-eval", unit="frame"):
        detections, predictions, timings = run_pipeline(pipeline, frame.points, args.min_score)
        segmentation = match_counts([d.indices for d in detections], frame.instance.ravel(),
                                    [True] * len(frame.ground_truth), SEGMENTATION_IOU)
        evaluation.add_frame(len(evaluation.frames), predictions, frame.ground_truth, timings, segmentation)
    notes = {"frames file": str(args.data), "frames": total, "model": args.model or "shipped default",
             "device": str(classifier.device), "ground-truth centre": args.gt_centre,
             "min visible pixels": args.min_visible_pixels, "match threshold (m)": args.match_threshold,
             "min score": args.min_score, "cpu threads": args.cpu_threads or "torch default"}
    summary = evaluation.summary()
    write_report(args.out, summary, f"real-eval: {args.data.name}", notes, compare, name="real")
    print(f"{headline(summary)} -> {args.out / 'summary.md'}")
    return 0
