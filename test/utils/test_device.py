import pytest
import torch

from vn_perception.utils.device import resolve_device


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_cuda_falls_back_with_warning(caplog):
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with caplog.at_level("WARNING"):
            assert resolve_device("cuda") == torch.device("cpu")
        assert "not available" in caplog.text


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
