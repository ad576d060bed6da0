"""Segmentation on the real YCB-Video dev frames (skipped when ../shared/data is absent)."""
import numpy as np
import pytest

from vn_perception.perception import SegmentationConfig
from vn_perception.tools.bench_segmentation import DEFAULT_DATA_DIR, MIN_VISIBILITY, REAL_DEV_FILE, evaluate, \
    load_real_frames, ours

#: measured with the packaged defaults: recall 0.977 (253/259 objects), precision 0.61 on all 60 frames;
#: 0.976 (83/85) and 0.59 on the every-3rd-frame subset below (see assets/pipeline.yaml). The floors sit
#: just under that and guard against regressions.
RECALL_FLOOR = 0.95
PRECISION_FLOOR = 0.55
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
    assert counts.precision >= PRECISION_FLOOR, counts
