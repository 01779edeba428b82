"""README's talker and listener "in full", saved as plain scripts and run with ``python``.

The code is read from README.md itself, so the README and this test cannot drift. The
scripts live in a temporary directory: nothing of the checkout is on ``sys.path``, and
nothing imports ``robotfleet_nodes`` before their first line (``from std_msgs.msg import
String``), which only the import hook installed at start-up by
``robotfleet_nodes-import-hook.pth`` can serve.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
# The acceptance: under `timeout 5`, the listener prints what it heard.
SCRIPT_TIMEOUT = 5.0
SHUTDOWN_TIMEOUT = 20.0


def readme_block(heading: str) -> str:
    """The first ```python block after the line containing ``heading`` in README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    match = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(text, start)
    assert match is not None, f"README.md: no python block after {heading!r}"
    return match.group(1)


def test_readme_blocks_are_whole_scripts() -> None:
    for heading, node in (("The talker in full:", "Talker"), ("The listener in full:", "Listener")):
        code = readme_block(heading)
        assert code.startswith("from std_msgs.msg import String\n"), heading
        assert code.rstrip().endswith(f"run_nodes({node})"), heading


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _heard(stream: asyncio.StreamReader, seen: list[str]) -> bool:
    while line := (await stream.readline()).decode():
        seen.append(line)
        if "I heard:" in line:
            return True
    return False


async def test_readme_talker_and_listener_run_as_plain_scripts(
    tmp_path: Path, nats_url: str, unique: str
) -> None:
    (tmp_path / "talker.py").write_text(readme_block("The talker in full:"), encoding="utf-8")
    (tmp_path / "listener.py").write_text(readme_block("The listener in full:"), encoding="utf-8")
    env = {**os.environ, "MESSAGING_URL": nats_url, "RFOS_SUBJECT_ROOT": unique, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    with (tmp_path / "talker.log").open("wb") as talker_log:
        talker = await asyncio.create_subprocess_exec(
            sys.executable, "talker.py", cwd=tmp_path, env=env, stdout=talker_log, stderr=talker_log
        )
    listener = await asyncio.create_subprocess_exec(
        sys.executable,
        "listener.py",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert listener.stdout is not None
    seen: list[str] = []
    try:
        try:
            heard = await asyncio.wait_for(_heard(listener.stdout, seen), SCRIPT_TIMEOUT)
        except TimeoutError:
            heard = False
        talker_output = (tmp_path / "talker.log").read_text(errors="replace")
        assert heard, (
            f"listener.py printed no 'I heard:' within {SCRIPT_TIMEOUT} s:\n{''.join(seen)}"
            f"\ntalker.py:\n{talker_output}"
        )
    finally:
        await _stop(listener)
        await _stop(talker)
