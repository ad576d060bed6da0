import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vn_perception.classifier import ObjectClassifier
from vn_perception.models.checkpoint import load_checkpoint
from vn_perception.training.train import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def _log(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_one_epoch_then_resume(tiny_args, tmp_path):
    out = tmp_path / "run"
    assert main(tiny_args + ["--out", str(out)]) == 0
    assert {p.name for p in out.glob("*.pt")} == {"epoch_001.pt", "last.pt", "model.pt"}
    first = _log(out)
    assert len(first) == 1 and first[0]["epoch"] == 1 and first[0]["samples_per_s"] > 0
    final = load_checkpoint(out / "model.pt")
    assert final.training_state is None
    meta = final.metadata
    assert meta["classes"] == ["box", "can"] and meta["symmetries"] == ["discrete:z:2", "continuous:z"]
    assert meta["preprocessing"]["num_points"] == 64 and meta["training"]["command"].startswith("vn-perception train")
    assert 0.0 <= meta["metrics"]["val_accuracy"] <= 1.0
    clf = ObjectClassifier.load(out / "model.pt", device="cpu")
    assert clf.predict([torch.randn(100, 3).numpy() * 0.03])[0].label in ("box", "can")

    # resume to 2 epochs: continues after epoch 1 (does not redo it) and keeps the log
    resume_args = [a if a != "1" or tiny_args[i - 1] != "--epochs" else "2" for i, a in enumerate(tiny_args)]
    assert main(resume_args + ["--out", str(out), "--resume"]) == 0
    log = _log(out)
    assert [m["epoch"] for m in log] == [1, 2]
    assert load_checkpoint(out / "last.pt").training_state["epoch"] == 1
    # an interrupted 2-epoch run (only epoch 1 on disk) resumes to the same weights as an uninterrupted one
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert main(resume_args + ["--out", str(straight)]) == 0
    interrupted.mkdir()
    (interrupted / "last.pt").write_bytes((straight / "epoch_001.pt").read_bytes())
    assert main(resume_args + ["--out", str(interrupted), "--resume"]) == 0
    a = load_checkpoint(straight / "model.pt").state_dict
    b = load_checkpoint(interrupted / "model.pt").state_dict
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_torchrun_two_processes_gloo(tiny_args, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "vn_perception.training.train", *tiny_args, "--out", str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    log = _log(out)
    assert len(log) == 1
    # 2 classes x 8 views = 16 samples, batch 4 per process, 2 processes: 2 steps each, 16 samples in all
    assert ObjectClassifier.load(out / "model.pt", device="cpu").classes == ["box", "can"]


def test_train_multi_hypothesis_head(tiny_args, tmp_path):
    out = tmp_path / "multi"
    config = {"widths": [8, 8, 16], "k": 8, "head_hidden": [16], "orientation": "multi_frame",
              "orientation_hidden": [16], "orientation_hypotheses": 4}
    args = [a for a in tiny_args]
    args[args.index("--model-config") + 1] = json.dumps(config)
    assert main(args + ["--out", str(out), "--hypothesis-mean-weight", "0.1", "--confidence-weight", "0.3"]) == 0
    metrics = _log(out)[0]
    assert 0.0 <= metrics["val_rotation_median_deg_oracle"] <= metrics["val_rotation_median_deg"] <= 180.0
    meta = load_checkpoint(out / "model.pt").metadata
    assert meta["model_config"]["orientation"] == "multi_frame"
    assert meta["model_config"]["orientation_hypotheses"] == 4
    assert meta["training"]["options"]["confidence_weight"] == 0.3
    prediction = ObjectClassifier.load(out / "model.pt", device="cpu").predict([torch.randn(100, 3).numpy() * 0.03])[0]
    assert prediction.rotation_hypotheses.shape == (4, 3, 3)


def test_init_from_and_train_only_the_refiner(tiny_args, tmp_path):
    """A refiner trained on top of a finished multi_frame model: the other parts keep their weights exactly."""
    config = {"widths": [8, 8, 16], "k": 8, "head_hidden": [16], "orientation": "multi_frame",
              "orientation_hidden": [16], "orientation_hypotheses": 4}
    args = list(tiny_args)
    args[args.index("--model-config") + 1] = json.dumps(config)
    assert main(args + ["--out", str(tmp_path / "base")]) == 0
    base = load_checkpoint(tmp_path / "base" / "model.pt").state_dict
    refine = {**config, "refine": "canonical", "refine_points": 32, "refine_point_hidden": [8], "refine_hidden": [16]}
    args[args.index("--model-config") + 1] = json.dumps(refine)
    out = tmp_path / "refined"
    assert main(args + ["--out", str(out), "--init-from", str(tmp_path / "base" / "model.pt"),
                        "--train-only", "refiner"]) == 0
    refined = load_checkpoint(out / "model.pt")
    for key, value in base.items():             # batch-norm running statistics included (frozen parts in eval)
        torch.testing.assert_close(refined.state_dict[key], value, rtol=0, atol=0)
    assert any(k.startswith("refiner.") for k in refined.state_dict)
    metrics = _log(out)[0]
    assert 0.0 <= metrics["val_rotation_median_deg_oracle"] <= 180.0 and "val_rotation_median_deg_coarse" in metrics
    assert 0.0 <= metrics["val_selected_is_best"] <= 1.0
    prediction = ObjectClassifier.load(out / "model.pt", device="cpu").predict([torch.randn(100, 3).numpy() * 0.03])[0]
    assert prediction.rotation_hypotheses.shape == (4, 3, 3)
    # errors name the problem: an unknown part, a checkpoint of other classes
    with pytest.raises(ValueError, match="no part named"):
        main(args + ["--out", str(tmp_path / "bad"), "--train-only", "decoder"])
    other = tmp_path / "other"
    other.mkdir()
    (other / "labels.yaml").write_text('box.ply: {class: crate}\n')
    shutil.copy(Path(tiny_args[1]) / "box.ply", other / "box.ply")
    other_args = list(args)
    other_args[1] = str(other)
    with pytest.raises(ValueError, match="classes differ"):
        main(other_args + ["--out", str(tmp_path / "bad2"), "--init-from", str(tmp_path / "base" / "model.pt")])


def test_view_options_build_the_view_config():
    from vn_perception.data.views import NeighbourBleed, ViewConfig
    from vn_perception.training.train import view_config
    assert view_config("so3", 512, "{}") == ViewConfig(protocol="so3", num_points=512)
    config = view_config("z", 256, '{"bleed": {"prob": 1.0, "behind_m": [0.03, 0.05]}, "drop_crack_hits": true}')
    assert config.bleed == NeighbourBleed(prob=1.0, behind_m=(0.03, 0.05)) and config.drop_crack_hits
    assert config.describe() != view_config("z", 256, {}).describe()          # another cache key
    with pytest.raises(ValueError, match="unknown view option"):
        view_config("so3", 512, {"blead": {}})
