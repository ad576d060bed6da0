"""A rosbags typestore that knows the ROS 2 core messages and the project's vision_msgs.

rosbags ships the core interfaces (sensor_msgs, geometry_msgs, rosgraph_msgs, ...) but not vision_msgs; those
are registered from `.msg` files with `get_types_from_msg`. Where the `.msg` files are looked for, first hit wins:
the `msg_dir` argument, the project checkout (`<repo>/msgs/vision_msgs/msg`), then the installed interface
package (`<prefix>/share/vision_msgs/msg` through the ament index: an apt-installed ROS 2, or the venv build of
`scripts/build_vision_msgs.sh`).
"""
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

#: the interface package registered on top of the core store
VISION_MSGS = "vision_msgs"
#: core definitions of the newest ROS 2 distribution rosbags knows (wire-identical to Humble..Kilted for the
#: messages used here)
CORE_STORE = Stores.ROS2_KILTED
_CHECKOUT_MSG_DIR = Path(__file__).resolve().parents[2] / "msgs" / VISION_MSGS / "msg"


class TypestoreError(RuntimeError):
    """The vision_msgs definitions cannot be found."""


def _installed_msg_dir():
    """`<prefix>/share/vision_msgs/msg` of the installed interface package, or None."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        return Path(get_package_share_directory(VISION_MSGS)) / "msg"
    except (ImportError, PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH at all
        return None


def vision_msgs_dir(msg_dir=None):
    """The folder holding vision_msgs' `.msg` files (see the module docstring for the search order)."""
    candidates = [Path(msg_dir)] if msg_dir is not None else [_CHECKOUT_MSG_DIR, _installed_msg_dir()]
    for folder in candidates:
        if folder is not None and folder.is_dir() and any(folder.glob("*.msg")):
            return folder
    raise TypestoreError(f"no {VISION_MSGS} .msg files found (looked in: "
                         f"{', '.join(str(c) for c in candidates if c is not None)})")


@lru_cache(maxsize=None)
def _typestore(msg_dir):
    store = get_typestore(CORE_STORE)
    types = {}
    for path in sorted(Path(msg_dir).glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{VISION_MSGS}/msg/{path.stem}"))
    store.register(types)
    return store


def project_typestore(msg_dir=None):
    """The core ROS 2 typestore plus vision_msgs (cached per folder; shared, do not register more types)."""
    return _typestore(str(vision_msgs_dir(msg_dir)))
