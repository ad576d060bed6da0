"""Optional `torch.compile` of a network for inference (opt-in: `ObjectClassifier.load(..., compile=True)`,
node parameter `compile`).

Inductor fuses the VN layers' chains of element-wise ops (inner products, norms, the leaky ReLU) into a few
loops, which eager PyTorch runs as one pass over memory each. Measured on the idle 2-core development CPU,
one thread, shipped fast_vn model (docs/performance.md): 8 objects x 512 points 6.9 ms compiled against
11.8-13.0 ms eager, 1.5-2.1x over all batch sizes and point counts. The price: ~45 s to compile a new process's first
batch (seconds once inductor's on-disk cache is warm), a C++ compiler at run time, and float32 results that
differ from eager in the last digits (fused sums are ordered differently: logits within ~1e-4).

The point count is fixed (the classifier resamples every cloud to `num_points`), the batch size varies from
frame to frame: the batch dimension is compiled as dynamic, so after the warm-up (batch 1 is specialised by
torch, batch 2 stands for every larger one) no frame waits for a compilation. The warm-up runs under
`torch.inference_mode` on tensors made there, as `ObjectClassifier.predict` calls the network; a tensor made
outside inference mode would not match the compiled guards and compile once more.
"""
import logging

import torch

__all__ = ["compile_for_inference"]

log = logging.getLogger(__name__)

#: warm-up batch sizes: 1 (torch specialises size-1 dims) and 2 (a dynamic batch dim, reused for all B >= 2)
WARMUP_BATCHES = (1, 2)
#: spread of the random warm-up clouds (metres): the size of a tabletop object
WARMUP_CLOUD_STD_M = 0.05


def compile_for_inference(model, num_points, device="cpu", warmup_batches=WARMUP_BATCHES):
    """`(module, error)`: the compiled `model` warmed up on `[B, num_points, 3]` clouds, or the eager `model`
    and the reason (a string) when compilation fails (no C++ compiler, an unsupported op): inference then
    goes on uncompiled, never stops. `model` must be in eval mode; its outputs are unchanged in meaning.
    """
    try:
        compiled = torch.compile(model, dynamic=False)
        generator = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for batch in warmup_batches:
                clouds = (torch.randn(batch, num_points, 3, generator=generator) * WARMUP_CLOUD_STD_M).to(device)
                if batch > 1:
                    torch._dynamo.mark_dynamic(clouds, 0)
                compiled(clouds)
    except Exception as e:  # noqa: BLE001 - any compiler failure falls back to the eager network
        reason = f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); " \
                 "running uncompiled"
        log.warning(reason)
        return model, reason
    return compiled, None
