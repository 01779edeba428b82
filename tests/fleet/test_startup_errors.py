"""A tier that cannot start says why in one line, exits non-zero, and prints no traceback.

Real processes only: each tier runs as ``python -m robotfleet_nodes.<tier>.main`` with the
seed's environment variables, against a real nats-server started here without JetStream
(the seed's step 1 taken verbatim: ``nats-server`` with no flags), against a port nobody
listens on, or with a config file that is missing, unreadable or invalid.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from shared_helpers import free_port

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.fleet.tier import EXIT_CONFIG, EXIT_START

#: The tiers' log record format (``config.log_level`` decides what is shown).
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] \[")
#: Environment variables a developer's shell may set that would change what a tier reads.
_SCRUBBED = (
    "MESSAGING_URL",
    "FLEET_CONFIG",
    "AREA_CONFIG",
    "ZONE_CONFIG",
    "EDGE_CONFIG",
    "EDGE_ROBOT_ID",
    "EDGE_ZONE_ID",
    "FLEET_HTTP_PORT",
    "RFOS_CONNECT_WAIT",
    "RFOS_TRANSPORT",
)
CONFIG_ENV = {"fleet": "FLEET_CONFIG", "area": "AREA_CONFIG", "zone": "ZONE_CONFIG", "edge": "EDGE_CONFIG"}


@dataclass
class Outcome:
    """What a tier process left behind."""

    returncode: int
    stdout: str
    stderr: str

    def the_one_line(self) -> str:
        """The only line on stderr that is not a log record (it must also be the last)."""
        assert "Traceback" not in self.stdout + self.stderr, self.stdout + self.stderr
        lines = self.stderr.splitlines()
        said = [line for line in lines if not LOG_RECORD.match(line)]
        assert len(said) == 1, f"expected one line besides log records, got:\n{self.stderr}"
        assert lines[-1] == said[0], f"the error line is not the last one:\n{self.stderr}"
        warnings = [line for line in lines if LOG_RECORD.match(line) and "[INFO]" not in line]
        assert not warnings, f"warnings or errors logged on the way out:\n{self.stderr}"
        return said[0]


def run(module: str, **env: str) -> Outcome:
    """Run ``python -m <module>`` with the seed's environment plus ``env``; wait for its end."""
    base = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    done = subprocess.run(
        [sys.executable, "-m", module],
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_tier(tier: str, **env: str) -> Outcome:
    return run(f"robotfleet_nodes.{tier}.main", **env)


@pytest.fixture(scope="module")
def without_jetstream() -> Iterator[EmbeddedBroker]:
    """A real nats-server with JetStream off (no ``-js``), on a port it picks itself."""
    with EmbeddedBroker(jetstream=False) as server:
        yield server


# -- JetStream off ------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["fleet", "area", "zone"])
def test_jetstream_off_is_one_line_naming_the_server_and_the_fix(
    tier: str, without_jetstream: EmbeddedBroker
) -> None:
    # a port of its own, should the fleet get as far as serving HTTP
    outcome = run_tier(tier, MESSAGING_URL=without_jetstream.url, FLEET_HTTP_PORT=str(free_port()))
    assert outcome.returncode == EXIT_START
    line = outcome.the_one_line()
    assert line.startswith(f"{tier}: cannot start: the NATS server at {without_jetstream.url} ")
    assert "has JetStream off" in line
    assert "`nats-server -js`" in line and "`rfos broker`" in line


def test_the_seeds_fleet_binary_says_the_same(without_jetstream: EmbeddedBroker) -> None:
    """``./bin/fleet``, as the seed runs it, against ``nats-server`` without flags."""
    base = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    done = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / "bin" / "fleet")],
        env={**base, "MESSAGING_URL": without_jetstream.url, "FLEET_HTTP_PORT": str(free_port())},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outcome = Outcome(done.returncode, done.stdout, done.stderr)
    assert outcome.returncode == EXIT_START
    assert "JetStream off" in outcome.the_one_line()


def test_an_edge_needs_no_jetstream(without_jetstream: EmbeddedBroker) -> None:
    """The edge keeps no durable state: it starts, and stops on SIGTERM with exit 0."""
    base = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    proc = subprocess.Popen(
        [sys.executable, "-m", "robotfleet_nodes.edge.main"],
        env={**base, "MESSAGING_URL": without_jetstream.url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # ends at EOF if the edge dies: then the assert below fails
            if "edge up" in line:
                break
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest


# -- no broker ----------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["fleet", "area", "zone", "edge"])
def test_no_broker_after_the_connect_wait_is_one_line(tier: str) -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nobody listens there
    outcome = run_tier(tier, MESSAGING_URL=url, RFOS_CONNECT_WAIT="0.5")
    assert outcome.returncode == EXIT_START
    line = outcome.the_one_line()
    assert line.startswith(f"{tier}: cannot start: no NATS server answers at {url} ")
    assert "`rfos broker`" in line and "MESSAGING_URL" in line
    assert "(RFOS_CONNECT_WAIT=0.5)" in line


def test_a_node_program_without_broker_is_one_line() -> None:
    """Node executables (``run_nodes``) end the same way: here the example talker."""
    url = f"nats://127.0.0.1:{free_port()}"
    outcome = run("robotfleet_nodes.examples.talker", MESSAGING_URL=url)
    assert outcome.returncode == EXIT_START
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.stderr.splitlines()[-1].startswith(
        f"talker: cannot start: no NATS server answers at {url} "
    )


def test_a_bad_connect_wait_names_the_variable() -> None:
    outcome = run_tier("edge", MESSAGING_URL=f"nats://127.0.0.1:{free_port()}", RFOS_CONNECT_WAIT="soon")
    assert outcome.returncode == EXIT_CONFIG
    assert outcome.the_one_line() == "edge: RFOS_CONNECT_WAIT='soon': expected a number of seconds"


# -- config files -------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["fleet", "area", "zone", "edge"])
def test_a_missing_config_file_is_one_line(tier: str, tmp_path: Path) -> None:
    path = tmp_path / f"{tier}.yaml"
    outcome = run_tier(tier, **{CONFIG_ENV[tier]: str(path)})
    assert outcome.returncode == EXIT_CONFIG
    assert outcome.the_one_line() == f"{tier}: {path}: no such config file ({CONFIG_ENV[tier]} points there)"


def _directory(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path, "is a directory, expected a YAML file"


def _not_utf8(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(b"fleet_id: \xff\xfe\n")
    return path, "cannot read: 'utf-8' codec can't decode byte 0xff"


def _no_permission(tmp_path: Path) -> tuple[Path, str]:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = tmp_path / "fleet.yaml"
    path.write_text("fleet_id: fleet\n")
    path.chmod(0)
    return path, "cannot read: [Errno 13] Permission denied"


@pytest.mark.parametrize("make", [_directory, _not_utf8, _no_permission], ids=lambda f: f.__name__[1:])
def test_an_unreadable_config_file_is_one_line(
    make: Callable[[Path], tuple[Path, str]], tmp_path: Path
) -> None:
    path, reason = make(tmp_path)
    outcome = run_tier("fleet", FLEET_CONFIG=str(path))
    assert outcome.returncode == EXIT_CONFIG
    line = outcome.the_one_line()
    assert line.startswith(f"fleet: {path}: {reason}")


@pytest.mark.parametrize(
    ("tier", "text", "expected"),
    [
        ("fleet", "http:\n  port: [\n", ": invalid YAML: "),
        ("fleet", "http:\n  port: abc\n", ": http.port: expected an integer, got 'abc' (a string)"),
        ("fleet", "htp:\n  port: 1\n", ": htp: unknown key (check the spelling"),
        ("area", "zones: zone-1\n", ": zones: expected a list"),
        ("zone", "zone_id: 1zone\n", ": zone_id: "),
        ("edge", "messaging:\n  broker: foo://bar\n", ": messaging.broker: 'foo://bar' is not a NATS URL"),
    ],
    ids=["yaml", "type", "unknown-key", "area-list", "zone-id", "edge-url"],
)
def test_an_invalid_config_names_the_key(tier: str, text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / f"{tier}.yaml"
    path.write_text(text)
    outcome = run_tier(tier, **{CONFIG_ENV[tier]: str(path)})
    assert outcome.returncode == EXIT_CONFIG
    line = outcome.the_one_line()
    assert line.startswith(f"{tier}: {path}")
    assert expected in line


def test_an_invalid_environment_override_names_the_variable_and_key() -> None:
    outcome = run_tier("fleet", MESSAGING_URL="foo://bar")
    assert outcome.returncode == EXIT_CONFIG
    assert outcome.the_one_line().startswith(
        "fleet: MESSAGING_URL: messaging.broker: 'foo://bar' is not a NATS URL"
    )
