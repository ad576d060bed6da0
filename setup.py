"""ament_python package vn_perception: installable with colcon (ROS 2) and with pip (venv)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vn_perception"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["assets/*", "assets/**/*"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    # torch is deliberately not listed: the set-up pins it (requirements.txt) so that no
    # resolver pulls a multi-GB CUDA build by accident; on a robot it comes from pip or apt.
    install_requires=["numpy", "scipy", "pyyaml"],
    zip_safe=False,
    maintainer="vn_perception maintainers",
    maintainer_email="maintainers@vn-perception.invalid",
    description="Pose-invariant object recognition from depth clouds with Vector Neurons (ROS 2).",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "vn_perception_node = vn_perception.ros.node:main",
            "vn-perception = vn_perception.cli:main",
        ],
    },
)
