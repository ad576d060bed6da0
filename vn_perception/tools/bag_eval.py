"""`vn-perception bag-eval BAG`: the pipeline (offline) or the live node (`--live`) on a rosbag2, scored.

    vn-perception bag-eval sim_bag --out reports/sim_offline [--model M.pt] [--device auto]
    bash scripts/ros-confined .venv/bin/vn-perception bag-eval sim_bag --live --out reports/sim_live

Offline: the bag is read with rosbags (no rclpy); each cloud goes through `ScenePipeline.process`; latency is the
pipeline's own per-stage timing. Live: the node runs as a subprocess with sim time and the bag is played into
it at the recorded rate (`evaluation.live`); latency is end to end (cloud published -> detections received).
Both match detections to the ground truth of the same stamp (`--gt-topic`, a vision_msgs/Detection3DArray;
a bag without it gives detections and timings only) by centre distance (`--match-threshold`, see
`evaluation.matching` for why 5 cm) and write a report folder (`evaluation.report`): summary.md, metrics.json,
rotation-error CDF, confusion matrix, latency histogram. Detections scoring below `--min-score` are dropped in
both modes (the node's `min_score` parameter, same default).
"""
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vn_perception.bag import (CLOCK_TOPIC, CLOUD_TOPIC, DETECTIONS_TOPIC, GT_TOPIC, ObjectPose, bag_topics,
                               count_messages, read_frames, read_ground_truth)
from vn_perception.bag.io import nearest_stamp
from vn_perception.evaluation.matching import DEFAULT_MATCH_THRESHOLD_M
from vn_perception.ros.params import PARAMETERS

#: default minimum class score of a detection: the node's own default
DEFAULT_MIN_SCORE = next(p.default for p in PARAMETERS if p.name == "min_score")
#: tolerance when pairing a cloud with the ground truth by header stamp (ms)
DEFAULT_STAMP_TOLERANCE_MS = 1.0
_NS_PER_MS = 1_000_000


def add_pipeline_arguments(parser):
    """The options bag-eval and real-eval share: model, pipeline, device, threads, matching, score filter."""
    parser.add_argument("--model", default=None, help="classifier checkpoint (default: the shipped model)")
    parser.add_argument("--config", default=None, help="pipeline configuration file (default: the packaged one; "
                        "in --live mode the node's own parameters apply instead)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--cpu-threads", type=int, default=0,
                        help="torch threads on the CPU (0 = torch's default; the node's cpu_threads parameter)")
    parser.add_argument("--match-threshold", type=float, default=DEFAULT_MATCH_THRESHOLD_M,
                        help="largest prediction - ground-truth centre distance of a match (m)")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, help="drop detections scoring below")


def load_pipeline(args):
    """The ScenePipeline of the options of `add_pipeline_arguments` (sets torch's threads when asked)."""
    from vn_perception.classifier import ObjectClassifier
    from vn_perception.pipeline import ScenePipeline
    if args.cpu_threads > 0:
        import torch
        torch.set_num_threads(args.cpu_threads)
    classifier = ObjectClassifier.load(args.model, device=args.device)
    return ScenePipeline.from_config(args.config, classifier=classifier)


def run_pipeline(pipeline, points, min_score):
    """(all Detections, the ObjectPoses of those scoring >= `min_score`, {stage: seconds}) of one cloud."""
    started = time.perf_counter()
    detections = pipeline.process(points)
    timings = {"total": time.perf_counter() - started, **pipeline.timings}
    return detections, prediction_poses(detections, min_score), timings


def add_arguments(parser):
    parser.add_argument("bag", type=Path, help="rosbag2 folder (mcap or sqlite3)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: <bag>_report[_live])")
    add_pipeline_arguments(parser)
    parser.add_argument("--cloud-topic", default=CLOUD_TOPIC)
    parser.add_argument("--gt-topic", default=GT_TOPIC, help="vision_msgs/Detection3DArray ground truth")
    parser.add_argument("--stamp-tolerance-ms", type=float, default=DEFAULT_STAMP_TOLERANCE_MS,
                        help="largest cloud / ground-truth header stamp difference")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many clouds (offline)")
    live = parser.add_argument_group("live mode")
    live.add_argument("--live", action="store_true", help="evaluate the running node instead of the pipeline")
    live.add_argument("--rate", type=float, default=1.0, help="playback speed (1 = as recorded)")
    live.add_argument("--clock-topic", default=CLOCK_TOPIC)
    live.add_argument("--detections-topic", default=DETECTIONS_TOPIC)
    live.add_argument("--allow-unconfined", action="store_true",
                      help="start rclpy even outside scripts/ros-confined (on the host network)")


def _model_metadata(model):
    """(classes, symmetries) of a checkpoint (None: the shipped model) without building the network."""
    from vn_perception.classifier import DEFAULT_MODEL_PATH
    from vn_perception.models.checkpoint import load_checkpoint
    metadata = load_checkpoint(model or DEFAULT_MODEL_PATH).metadata
    return metadata["classes"], metadata["symmetries"]


def prediction_poses(detections, min_score):
    """Pipeline `Detection`s -> ObjectPoses (those scoring at least `min_score`); the position is the mesh
    origin where pose refinement gave one (as the node publishes in results[].pose), else the box centre."""
    return [ObjectPose(d.label, d.rotation, d.position if d.translation is None else d.translation, d.size, d.score)
            for d in detections if d.score >= min_score]


def evaluate_offline(args, evaluation, pipeline):
    """Run `pipeline` on every cloud of the bag, adding each frame to `evaluation`; returns notes."""
    from vn_perception.pointcloud import read_xyz

    total = count_messages(args.bag, args.cloud_topic)
    if args.max_frames is not None:
        total = min(total, args.max_frames)
    frames = read_frames(args.bag, args.cloud_topic, args.gt_topic, round(args.stamp_tolerance_ms * _NS_PER_MS))
    for n, frame in enumerate(tqdm(frames, total=total, desc="bag-eval", unit="frame")):
        if n == total:
            break
        _, predictions, timings = run_pipeline(pipeline, read_xyz(frame.cloud), args.min_score)
        evaluation.add_frame(frame.stamp_ns, predictions, frame.ground_truth, timings)
    return {"mode": "offline (pipeline in process)", "device": str(pipeline.classifier.device)}


def evaluate_live(args, evaluation, report_dir):
    """Play the bag into the node and add each answered frame to `evaluation`; returns notes."""
    from vn_perception.evaluation.live import NodeProcess, play_into_node

    truth = read_ground_truth(args.bag, args.gt_topic) if args.gt_topic in bag_topics(args.bag) else {}
    truth_stamps = sorted(truth)
    total = count_messages(args.bag, args.cloud_topic)
    node = NodeProcess(report_dir / "node.log", args.cloud_topic, args.model or "", args.device, args.min_score,
                       {"cpu_threads": str(args.cpu_threads)})
    try:
        with tqdm(total=total, desc="bag-eval --live", unit="frame") as bar:
            result = play_into_node(args.bag, node, args.cloud_topic, args.clock_topic, args.detections_topic,
                                    args.rate, progress=bar.update)
    finally:
        node.stop()
    stamps = np.array(truth_stamps, dtype=np.int64)
    for stamp, answer in sorted(result.answers.items()):
        match = nearest_stamp(stamps, stamp, round(args.stamp_tolerance_ms * _NS_PER_MS))
        evaluation.add_frame(stamp, answer.predictions, truth[match] if match is not None else None,
                             {"end_to_end": answer.latency_s})
    return {"mode": f"live (node subprocess, use_sim_time, playback rate {args.rate:g})",
            "clouds published": len(result.published), "clouds answered": len(result.answers),
            "clouds unanswered (the node kept only the newest)": len(result.unanswered),
            "node log": str(report_dir / "node.log")}


def run(args):
    from vn_perception.evaluation.live import confinement_problem
    from vn_perception.evaluation.metrics import Evaluation
    from vn_perception.evaluation.report import headline, write_report

    if args.live and (problem := confinement_problem(args.allow_unconfined)):
        print(f"vn-perception bag-eval: {problem}", file=sys.stderr)
        return 2
    if not args.bag.is_dir():
        print(f"vn-perception bag-eval: no bag folder {args.bag}", file=sys.stderr)
        return 2
    report_dir = args.out or args.bag.with_name(args.bag.name + ("_report_live" if args.live else "_report"))
    if args.live:
        classes, symmetries = _model_metadata(args.model)
    else:
        pipeline = load_pipeline(args)
        classes, symmetries = pipeline.classifier.classes, pipeline.classifier.symmetries
    evaluation = Evaluation(dict(zip(classes, symmetries)), args.match_threshold)
    has_truth = args.gt_topic in bag_topics(args.bag)
    if args.live:
        from vn_perception.evaluation.live import LiveError
        try:
            notes = evaluate_live(args, evaluation, report_dir)
        except LiveError as e:
            print(f"vn-perception bag-eval: {e}", file=sys.stderr)
            return 1
    else:
        notes = evaluate_offline(args, evaluation, pipeline)
    notes = {"bag": str(args.bag), "cloud topic": args.cloud_topic,
             "ground truth": args.gt_topic if has_truth else "none (detections and timings only)",
             "model": args.model or "shipped default", "match threshold (m)": args.match_threshold,
             "min score": args.min_score, "cpu threads": args.cpu_threads or "torch default", **notes}
    summary = evaluation.summary()
    write_report(report_dir, summary, f"bag-eval{' --live' if args.live else ''}: {args.bag.name}", notes,
                 name="live" if args.live else "offline")
    print(f"{headline(summary)} -> {report_dir / 'summary.md'}")
    return 0
