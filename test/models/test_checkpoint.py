import pytest
import torch

from vn_perception.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vn_perception.models.factory import build_model

CONFIG = {"encoder": "fast_vn", "num_classes": 3, "widths": [8, 8, 16], "k": 8, "head_hidden": [16]}
META = {"classes": ["a", "b", "c"], "symmetries": ["none", "continuous:z", "discrete:z:2"],
        "model_config": CONFIG, "preprocessing": {"num_points": 64, "centering": "mean"},
        "data": {"source": "test", "licence": "none"}}


def test_round_trip_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(0)
    model = build_model(CONFIG).eval()
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, META, {"epoch": 3})
    checkpoint = load_checkpoint(path)
    assert checkpoint.metadata == META and checkpoint.training_state == {"epoch": 3}
    rebuilt = checkpoint.build_model()
    points = torch.randn(2, 64, 3) * 0.05
    with torch.no_grad():
        a, b = model(points), rebuilt(points)
    torch.testing.assert_close(a["logits"], b["logits"])
    torch.testing.assert_close(a["rotation"], b["rotation"])


def test_metadata_must_be_plain_json(tmp_path):
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(tmp_path / "m.pt", build_model(CONFIG), {**META, "bad": object()})


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_missing_or_corrupt_files_name_the_path(tmp_path, content):
    with pytest.raises(CheckpointError, match="nowhere.pt"):
        load_checkpoint(tmp_path / "nowhere.pt")
    path = tmp_path / "corrupt.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_checkpoint(path)


def test_truncated_and_incomplete_checkpoints(tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", build_model(CONFIG), META)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_checkpoint(truncated)
    incomplete = tmp_path / "incomplete.pt"
    save_checkpoint(incomplete, build_model(CONFIG), {"classes": ["a"]})
    with pytest.raises(CheckpointError, match="incomplete.pt.*lacks metadata"):
        load_checkpoint(incomplete)


class _Payload:
    """An object whose unpickling would run code: weights-only loading must refuse it."""

    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
    return {}


def test_loading_never_executes_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "vn_perception.checkpoint", "metadata": _Payload()}, path, pickle_protocol=2)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)
    assert not _Payload.ran
    assert b"_mark_ran" in path.read_bytes()   # the file really does carry the payload
