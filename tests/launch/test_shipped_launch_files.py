"""The launch files in ``launch/``: the demo ``rfos launch --help`` names runs as written, and
the docs sections their comments point at exist."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import nats
import pytest
from shared_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "launch" / "talker_listener.launch.yaml"


async def test_talker_listener_demo_runs_on_an_embedded_nats(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MESSAGING_URL", "RFOS_SUBJECT_ROOT")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "robotfleet_nodes.cli.main",
        "launch", str(FILE), "messaging_url:=embedded", f"nats_port:={port}", "topic:=/news",
        "--log-dir", str(tmp_path / "log"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    seen = ""
    try:
        async with asyncio.timeout(60):  # a hang guard: three processes start on a busy machine
            while 'I heard: "Hello World: ' not in seen:
                line = (await proc.stdout.readline()).decode()
                assert line, seen
                seen += line
            # The remap reached the talker: its messages are on the embedded NATS as /news.
            nc = await nats.connect(f"nats://127.0.0.1:{port}")
            try:
                sub = await nc.subscribe("rfos.0.t.news")
                msg = await sub.next_msg(timeout=30)
                assert b"Hello World: " in msg.data
            finally:
                await nc.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
    rest = (await asyncio.wait_for(proc.stdout.read(), 30)).decode()
    assert await asyncio.wait_for(proc.wait(), 30) == 0, seen + rest
    assert "[talker-1]" in seen and "[listener-1]" in seen


def test_launch_files_named_in_the_help_exist(capsys: pytest.CaptureFixture[str]) -> None:
    from robotfleet_nodes.cli.main import main

    with pytest.raises(SystemExit):
        main(["launch", "--help"])
    named = re.findall(r"\blaunch/[\w.]+\.launch\.(?:yaml|xml|py)\b", capsys.readouterr().out)
    assert "launch/talker_listener.launch.yaml" in named
    assert all((ROOT / path).is_file() for path in named), named


def test_docs_sections_cited_by_launch_files_exist() -> None:
    cited = []
    for path in sorted((ROOT / "launch").glob("*.launch.*")):
        text = " ".join(line.lstrip("# ").strip() for line in path.read_text().splitlines())
        for doc, section in re.findall(r"\((docs/[\w.-]+\.md), section \"([^\"]+)\"\)", text):
            cited.append((path.name, doc, section))
            lines = (ROOT / doc).read_text().splitlines()
            headings = [h.lstrip("#").strip() for h in lines if h.startswith("#")]
            assert section in headings, f"{path.name} cites {doc} section {section!r}; it has {headings}"
    dds_driver = "The edge's `dds` driver: a real ROS 2 robot"
    assert ("single_robot.launch.yaml", "docs/fleet.md", dds_driver) in cited
