"""Segmentation on the real YCB-Video dev frames (skipped when ../shared/data is absent)."""
import numpy as np
import pytest

from vn_perception.perception import SegmentationConfig
from vn_perception.tools.bench_segmentation import DEFAULT_DATA_DIR, MIN_VISIBILITY, REAL_DEV_FILE, evaluate, \
    load_real_frames, ours

#: measured recall of the packaged defaults: 0.714 (185/259 objects). The issue's target is 0.9; the
#: misses are touching / stacked objects (see assets/pipeline.yaml). This floor guards against regressions.
RECALL_FLOOR = 0.68
#: every 3rd frame: 20 frames from the three videos keep the test short
FRAME_STEP = 3

pytestmark = pytest.mark.skipif(not (DEFAULT_DATA_DIR / REAL_DEV_FILE).exists(),
                                reason=f"real dev frames absent ({DEFAULT_DATA_DIR / REAL_DEV_FILE})")


def test_recall_on_real_frames():
    frames = load_real_frames(frames=range(0, 60, FRAME_STEP))
    assert all(f.points.shape == (480, 640, 3) for f in frames)
    assert (np.concatenate([f.visibility for f in frames]) >= MIN_VISIBILITY).sum() > 50
    counts, seconds = evaluate(ours(SegmentationConfig(), organized=True), frames)
    assert counts.recall >= RECALL_FLOOR, counts
    assert counts.precision > 0.25, counts
