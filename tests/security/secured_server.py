"""Test helper (not a test module): a real nats-server started from a generated secured config."""

from __future__ import annotations

import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from robotfleet_nodes.broker import find_nats_server

READY = "Server is ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SecuredServer:
    """nats-server -c <secrets>/nats-server.conf on a free port with JetStream; log kept."""

    def __init__(self, config: Path, *, store: Path | None = None) -> None:
        self.config = config
        self.secrets = config.parent
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="rfos-sec-")
        self.store = store or Path(self._tmp.name) / "js"
        self.log_path = Path(self._tmp.name) / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        cmd = [find_nats_server(), "-c", str(self.config), "-a", "127.0.0.1", "-p", str(self.port)]
        cmd += ["-js", "-sd", str(self.store), "-l", str(self.log_path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while READY not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def violations(self) -> list[str]:
        return [
            line
            for line in self.log().splitlines()
            if "Publish Violation" in line or "Subscription Violation" in line
        ]

    def tls(self) -> ssl.SSLContext:
        """A client TLS context trusting the deployment's CA."""
        return ssl.create_default_context(cafile=str(self.secrets / "ca.pem"))

    async def connect(self, name: str | None, **options: Any) -> Any:
        """A nats-py client as identity ``name`` (its creds and inbox); None: no creds."""
        kwargs: dict[str, Any] = {
            "servers": [self.url],
            "tls": self.tls(),
            "allow_reconnect": False,
            "connect_timeout": 5,
        }
        if name is not None:
            kwargs["user_credentials"] = str(self.secrets / f"{name}.creds")
            kwargs["inbox_prefix"] = f"_INBOX.{name}"
        kwargs.update(options)
        return await nats.connect(**kwargs)
