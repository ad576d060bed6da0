"""Where data lives: the shared data folder (read by path, never copied) and the view cache."""
import os
from pathlib import Path

#: the repository root (the folder holding `vn_perception/`)
REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir():
    """`$VN_SHARED_DATA` if set, else `<repo>/../shared/data`."""
    env = os.environ.get("VN_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def shared_catalog_dir():
    """The shared object catalog (`catalog.csv`, `meshes/`)."""
    return shared_data_dir() / "catalog"


def real_dev_file():
    """The real YCB-Video dev frames (`real_dev/ycbv_real_dev.npz`)."""
    return shared_data_dir() / "real_dev" / "ycbv_real_dev.npz"


def default_cache_dir():
    """`$VN_CACHE_DIR` if set, else `<repo>/.cache/vn_perception/views`."""
    env = os.environ.get("VN_CACHE_DIR")
    return Path(env) if env else REPO_ROOT / ".cache" / "vn_perception" / "views"
