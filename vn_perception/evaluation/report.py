"""Report folders of an evaluation: summary.md (Markdown tables), metrics.json, PNG plots.

    write_report(folder, summary, title="bag-eval: scene.mcap", notes={"model": "..."},
                 compare={"sim (bag-eval)": other_summary})

Files: `summary.md` (overall table, one column per compared summary; per-class table; latency table; the plots),
`metrics.json` (the summary dict plus title and notes), `rotation_error_cdf.png`, `confusion_matrix.png`,
`latency_histogram.png`. The plotting and table helpers are usable on their own.
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the headless back end is chosen)
import numpy as np  # noqa: E402

from vn_perception.evaluation.metrics import NEAR_MISS_FACTOR, ROTATION_THRESHOLDS_DEG  # noqa: E402

METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.md"
CDF_PLOT = "rotation_error_cdf.png"
CONFUSION_PLOT = "confusion_matrix.png"
LATENCY_PLOT = "latency_histogram.png"
#: figure resolution (dots per inch) of every plot
DPI = 120
#: largest rotation error (degrees): 180 for an unconstrained rotation
MAX_ROTATION_DEG = 180.0
#: the stage whose latency heads the overall table when present
TOTAL_STAGE = "total"


# ------------------------------------------------------------------------------------------- tables
def _fmt(value, kind="float"):
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "int":
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"   # no exponent for large latencies
    return str(value)


def markdown_table(headers, rows):
    """A Markdown table (string) from header names and rows of already formatted cells."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _get(summary, *keys):
    for key in keys:
        if not isinstance(summary, dict) or key not in summary:
            return None
        summary = summary[key]
    return summary


def _total_latency(summary, statistic):
    latency = summary.get("latency_ms") or {}
    stage = TOTAL_STAGE if TOTAL_STAGE in latency else next(iter(latency), None)
    return _get(latency, stage, statistic) if stage else None


#: rows of the overall table: (name, value of a summary, format)
OVERALL_ROWS = [
    ("frames", lambda s: s.get("frames"), "int"),
    ("ground-truth objects", lambda s: _get(s, "detection", "ground_truth"), "int"),
    ("detections", lambda s: _get(s, "detections", "total"), "int"),
    ("detection precision", lambda s: _get(s, "detection", "precision"), "pct"),
    ("detection recall", lambda s: _get(s, "detection", "recall"), "pct"),
    ("detection F1", lambda s: _get(s, "detection", "f1"), "pct"),
    (f"near misses (missed; a spare detection within {NEAR_MISS_FACTOR:g}x the threshold)",
     lambda s: _get(s, "detection", "near_misses"), "int"),
    ("classification accuracy (matched)", lambda s: _get(s, "classification", "accuracy"), "pct"),
    ("rotation error median (deg)", lambda s: _get(s, "rotation", "median_deg"), "float"),
    ("rotation error mean (deg)", lambda s: _get(s, "rotation", "mean_deg"), "float"),
    *[(f"rotation accuracy @ {t} deg", lambda s, t=t: _get(s, "rotation", "accuracy_at_deg", str(t)), "pct")
      for t in ROTATION_THRESHOLDS_DEG],
    ("position error median (mm)", lambda s: None if _get(s, "position", "median_m") is None
     else 1000 * _get(s, "position", "median_m"), "float"),
    ("segmentation recall (IoU >= 0.5)", lambda s: _get(s, "segmentation", "recall"), "pct"),
    ("segmentation precision (IoU >= 0.5)", lambda s: _get(s, "segmentation", "precision"), "pct"),
    ("latency median (ms)", lambda s: _total_latency(s, "median"), "float"),
    ("latency p95 (ms)", lambda s: _total_latency(s, "p95"), "float"),
]


def overall_table(columns):
    """Markdown table of the main metrics, one column per `{name: summary}` (rows all columns lack are left out)."""
    rows = []
    for name, value, kind in OVERALL_ROWS:
        values = [value(s) for s in columns.values()]
        if any(v is not None for v in values):
            rows.append([name] + [_fmt(v, kind) for v in values])
    return markdown_table(["metric", *columns], rows)


def headline(summary):
    """One line of the main figures (for the terminal)."""
    d, rotation = summary["detection"], summary["rotation"]
    return (f"{summary['frames']} frames: detection precision {_fmt(d['precision'], 'pct')}, recall "
            f"{_fmt(d['recall'], 'pct')}; class accuracy {_fmt(summary['classification']['accuracy'], 'pct')}; "
            f"rotation median {_fmt(rotation['median_deg'])} deg; latency median "
            f"{_fmt(_total_latency(summary, 'median'))} ms")


def per_class_table(summary):
    """Markdown table of the per-class metrics of a summary."""
    rows = []
    for label, c in summary.get("per_class", {}).items():
        rows.append([label, _fmt(c["ground_truth"], "int"), _fmt(c["detected"], "int"), _fmt(c["recall"], "pct"),
                     _fmt(c["accuracy"], "pct"), _fmt(c["rotation_median_deg"]),
                     _fmt(c["rotation_accuracy_at_deg"].get("15"), "pct"), _fmt(c["predicted"], "int"),
                     _fmt(c["false_positives"], "int")])
    return markdown_table(["class", "GT", "detected", "recall", "class acc.", "rot. median (deg)", "rot. acc @ 15",
                           "predicted", "false pos."], rows)


def latency_table(summary):
    """Markdown table of the latency statistics (milliseconds) per stage."""
    rows = [[stage, _fmt(s["median"]), _fmt(s["mean"]), _fmt(s["p95"]), _fmt(s["max"]), _fmt(s["count"], "int")]
            for stage, s in (summary.get("latency_ms") or {}).items() if s]
    return markdown_table(["stage", "median (ms)", "mean (ms)", "p95 (ms)", "max (ms)", "frames"], rows)


# ------------------------------------------------------------------------------------------- plots
def rotation_cdf_png(path, errors_by_name, thresholds=ROTATION_THRESHOLDS_DEG):
    """Cumulative distribution of rotation errors (degrees), one curve per `{name: errors}`."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, errors in errors_by_name.items():
        errors = np.sort(np.asarray([e for e in errors if e is not None], dtype=float))
        if len(errors):
            ax.step(np.concatenate([[0.0], errors]), np.arange(len(errors) + 1) / len(errors), where="post",
                    label=f"{name} (n={len(errors)})")
    for t in thresholds:
        ax.axvline(t, color="grey", linewidth=0.5, linestyle=":")
    ax.set(xlim=(0, MAX_ROTATION_DEG), ylim=(0, 1), xlabel="rotation error (deg, symmetry-aware)",
           ylabel="fraction of pairs", title="Rotation error CDF (correctly classified pairs)")
    if ax.lines and any(line.get_label()[:1] != "_" for line in ax.lines):
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def confusion_matrix_png(path, labels, matrix):
    """Confusion matrix (rows: ground truth, columns: prediction), colours normalised per row, counts written."""
    matrix = np.asarray(matrix, dtype=float).reshape(len(labels), len(labels))
    size = max(4.0, 0.4 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    rows = matrix.sum(axis=1, keepdims=True)
    fractions = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, int(count), ha="center", va="center", fontsize=7,
                    color="white" if fractions[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set(xlabel="predicted", ylabel="ground truth", title="Confusion matrix (matched pairs)")
    fig.colorbar(image, ax=ax, label="fraction of the row")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def latency_histogram_png(path, seconds_by_stage):
    """Histograms of per-frame latency (milliseconds), one per `{stage: seconds}`."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for stage, seconds in seconds_by_stage.items():
        if len(seconds):
            ax.hist(np.asarray(seconds) * 1000.0, bins=30, histtype="step", label=stage)
    ax.set(xlabel="latency per frame (ms)", ylabel="frames", title="Latency")
    if seconds_by_stage:
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- report
def load_metrics(folder):
    """The metrics dict of a report folder (its metrics.json). Raises FileNotFoundError naming the file."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_FILE} in {folder}: not a report folder")
    return json.loads(path.read_text())


def write_report(folder, summary, title, notes=None, compare=None, name="this run"):
    """Write the report folder (see the module docstring); returns its path.

    `notes`: {key: value} listed under the title (inputs, model, settings); `compare`: {column name: summary}
    of other runs placed beside this one (`name`) in the overall table.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    notes = dict(notes or {})
    (folder / METRICS_FILE).write_text(json.dumps({"title": title, "notes": notes, **summary}, indent=1))
    rotation_cdf_png(folder / CDF_PLOT, {name: [p["rotation_error_deg"] for p in summary.get("pairs", [])]})
    confusion = summary.get("confusion", {"labels": [], "matrix": []})
    confusion_matrix_png(folder / CONFUSION_PLOT, confusion["labels"], confusion["matrix"])
    stages = {stage: [f["timings_s"][stage] for f in summary.get("frame_records", []) if stage in f["timings_s"]]
              for stage in summary.get("latency_ms", {})}
    latency_histogram_png(folder / LATENCY_PLOT, stages)
    parts = [f"# {title}", "", *[f"- {key}: {value}" for key, value in notes.items()], "",
             "## Overall", "", overall_table({name: summary, **(compare or {})}), ""]
    if summary.get("per_class"):
        parts += ["## Per class", "", per_class_table(summary), ""]
    if summary.get("latency_ms"):
        parts += ["## Latency per stage", "", latency_table(summary), ""]
    parts += ["## Plots", "", f"![rotation error CDF]({CDF_PLOT})", f"![confusion matrix]({CONFUSION_PLOT})",
              f"![latency]({LATENCY_PLOT})", ""]
    (folder / SUMMARY_FILE).write_text("\n".join(parts))
    return folder
