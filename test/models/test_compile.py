"""`compile_for_inference`: the compiled network answers like the eager one for every batch size, without
recompiling after the warm-up; a failure falls back to the eager network with a reason."""
import pytest
import torch
from torch import nn

from vn_perception.models import build_model
from vn_perception.models.compile import compile_for_inference

POINTS = 64


@pytest.mark.slow
def test_compiled_network_matches_eager_for_any_batch_size():
    torch.manual_seed(0)
    model = build_model({"encoder": "fast_vn", "num_classes": 5, "widths": [8, 8, 16],
                         "orientation": "frame_mlp", "orientation_hidden": [16]}).eval()
    compiled, error = compile_for_inference(model, POINTS)
    assert error is None
    for batch in (1, 3, 7):
        with torch.inference_mode():          # as ObjectClassifier.predict: the input made in inference mode
            clouds = torch.randn(batch, POINTS, 3) * 0.05
            with torch._dynamo.config.patch(error_on_recompile=True):       # none after the warm-up
                got = compiled(clouds)
            expected = model(clouds)
        assert torch.allclose(got["logits"], expected["logits"], atol=1e-4, rtol=1e-4)
        assert (got["rotation"] - expected["rotation"]).abs().max() < 1e-3


class _Broken(nn.Module):
    def forward(self, points):
        raise RuntimeError("no kernel for this op")


def test_failure_falls_back_to_the_eager_network_with_the_reason():
    model = _Broken()
    module, error = compile_for_inference(model, POINTS)
    assert module is model
    assert "torch.compile failed" in error and "RuntimeError" in error
