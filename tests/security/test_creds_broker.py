"""The broker started from a nats-server configuration file (``rfos broker --config FILE``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.cli.main import main
from robotfleet_nodes.errors import BrokerError


def test_a_missing_config_file_says_how_to_get_one(tmp_path: Path) -> None:
    missing = tmp_path / "secrets" / "nats-server.conf"
    with pytest.raises(BrokerError, match="does not exist") as info:
        EmbeddedBroker(config_file=missing).start()
    assert str(missing) in str(info.value)
    assert "rfos fleet gen-config" in str(info.value)


def test_a_refused_config_shows_the_servers_own_message(tmp_path: Path) -> None:
    config = tmp_path / "nats-server.conf"
    config.write_text(f'operator: "{tmp_path / "no-such-operator.jwt"}"\n')
    broker = EmbeddedBroker(config_file=config, port=0, store_dir=tmp_path / "store")
    with pytest.raises(BrokerError) as info:
        broker.start()
    text = str(info.value)
    assert f"refused to start with its configuration {config}" in text
    assert "no-such-operator.jwt" in text  # nats-server's own words name the problem
    assert not broker.running


async def test_flags_override_the_file_and_the_file_sets_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "nats-server.conf"
    config.write_text("port: 1\nmax_payload: 54321\n")
    with EmbeddedBroker(config_file=config, host="127.0.0.1", port=0, store_dir=tmp_path / "store") as broker:
        assert not broker.url.endswith(":1")  # --port overrides the file
        nc = await nats.connect(broker.url)
        try:
            assert nc.max_payload == 54321  # the file's setting
            await nc.jetstream().account_info()  # JetStream on, store from the flag
        finally:
            await nc.close()
    assert (tmp_path / "store" / "jetstream").is_dir()


def test_rfos_broker_with_a_missing_config_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    assert main(["broker", "--config", str(tmp_path / "nope.conf"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rfos: nats-server configuration ") and "nope.conf does not exist" in err
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored


@pytest.mark.slow
def test_rfos_broker_runs_with_a_config_until_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "nats-server.conf"
    config.write_text("max_payload: 65536\n")
    command = [sys.executable, "-m", "robotfleet_nodes.cli.main", "broker", "--config", str(config)]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--store", str(tmp_path / "store")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.match(r"nats-server ready at nats://127\.0\.0\.1:\d+ \(store: ", line), line
        assert ":4222 " not in line
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "nats-server stopped" in out
