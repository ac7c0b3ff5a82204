"""A local LiveKit server (the open-source Go `livekit-server`), bound to loopback only.

Used by `scripts/start` when LIVEKIT_URL is not set, and by the tests as the real server every
process-level test runs against. The binary is found, in order: LIVEKIT_SERVER_BIN, a
`livekit-server` on PATH, `.tools/bin/livekit-server` (which `scripts/install-livekit-server`
builds once with `go install` at the pinned version).

The config keeps everything on 127.0.0.1: the HTTP/websocket port binds there, WebRTC uses one
UDP port on the loopback interface with loopback ICE candidates, and no STUN server is asked
(`node_ip` is set, `use_external_ip` is off), so it works offline. ICE over TCP stays off: in
v1.13.5 its listener cannot be bound to one address (it listens on every interface).
API keys are the caller's; the secret must be at least 32 characters (the server's own rule
for production keys, and ours for anything that is not the public dev pair).

Example config (JSON is YAML, so no YAML writer is needed)::

    {"port": 7880, "bind_addresses": ["127.0.0.1"],
     "rtc": {"udp_port": 7882, "node_ip": "127.0.0.1", "use_external_ip": false,
             "enable_loopback_candidate": true, "interfaces": {"includes": ["lo"]},
             "ips": {"includes": ["127.0.0.1/32"]}},
     "keys": {"APIxxxx": "<48 characters>"},
     "webhook": {"api_key": "APIxxxx", "urls": ["http://127.0.0.1:8000/api/livekit/webhook"]},
     "logging": {"level": "info", "json": false}}

Several nodes (the path past one node's capacity): every node gets the same keys and
`"redis": {"address": "127.0.0.1:6379"}`, and its own HTTP and UDP ports when they share a
host. The nodes then route through Redis: a room lives on one node, a client or worker
connected to any node reaches it, and a worker registered on one node gets the jobs of rooms
on the others. `ServerConfig(..., redis_address=...)` writes that key; the ports come from
`on_free_ports`, one set per node.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-livekit-server"
INSTALLED_BINARY = REPO_ROOT / ".tools" / "bin" / "livekit-server"
BINARY_ENV = "LIVEKIT_SERVER_BIN"
MIN_SECRET_LENGTH = 32
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class LiveKitServerUnavailable(RuntimeError):
    """No livekit-server binary and no way to build one; the message says what to install."""


def find_binary(env: Mapping[str, str] | None = None) -> Path | None:
    """The binary to run, without building anything: LIVEKIT_SERVER_BIN, PATH, .tools/bin."""
    env = os.environ if env is None else env
    if explicit := env.get(BINARY_ENV):
        return Path(explicit)
    if on_path := shutil.which("livekit-server", path=env.get("PATH")):
        return Path(on_path)
    return INSTALLED_BINARY if INSTALLED_BINARY.exists() else None


def install(env: Mapping[str, str] | None = None, *, timeout: float = 900.0) -> Path:
    """The binary to run, building the pinned version once if there is none (the script's
    second run does nothing); raises LiveKitServerUnavailable with the script's message."""
    result = subprocess.run(  # noqa: S603 - the repository's own script
        [str(INSTALL_SCRIPT)],
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise LiveKitServerUnavailable(result.stderr.strip() or f"exit {result.returncode}")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(f"API{secrets.token_hex(6)}", secrets.token_urlsafe(36))

    @classmethod
    def read(cls, path: Path) -> Credentials | None:
        """The pair stored at `path`, or None if there is none (nothing is made)."""
        try:
            key, _, secret = path.read_text(encoding="utf-8").strip().partition(":")
        except OSError:
            return None
        if key.strip() and len(secret.strip()) >= MIN_SECRET_LENGTH:
            return cls(key.strip(), secret.strip())
        return None

    @classmethod
    def kept_in(cls, path: Path) -> Credentials:
        """The pair stored at `path` (`key: secret`, LiveKit's own key file format), made once
        so that restarts keep tokens, workers and the backend agreeing."""
        if (kept := cls.read(path)) is not None:
            return kept
        made = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{made.api_key}: {made.api_secret}\n", encoding="utf-8")
        path.chmod(0o600)
        return made


# Where the kernel picks the local ports of outgoing connections (and of binds to port 0).
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LINUX_DEFAULT_EPHEMERAL = (32768, 60999)
_LOWEST = 10_000  # below this live the well-known services of a developer machine
_handed_out: set[int] = set()


def _ports_to_choose_from() -> range:
    try:
        low, high = (int(value) for value in _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = _LINUX_DEFAULT_EPHEMERAL
    if low - _LOWEST >= 4096:
        return range(_LOWEST, low)
    return range(high + 1, 65536)


def _bindable(port: int, kind: int) -> bool:
    # The wildcard address, dual-stack where IPv6 exists: the livekit-agents health server binds
    # "::", which collides with a socket on any address, loopback included.
    family, address = (
        (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")  # noqa: S104
    )
    try:
        with socket.socket(family, kind) as probe:
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            probe.bind((address, port))
    except OSError:
        return False
    return True


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on every address right now that stays free until its user binds it.

    Asking the kernel for port 0 is not enough: that port comes from the ephemeral range, the
    same range every outgoing connection takes its local port from, so between the probe and
    the real bind a connection can take it (a worker then dies on "address already in use").
    The port is therefore chosen outside that range, never handed out twice by this process.
    """
    choices = _ports_to_choose_from()
    for _ in range(1000):
        port = secrets.choice(choices)
        if port not in _handed_out and _bindable(port, kind):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {choices.start} and {choices.stop - 1}")


@dataclass(frozen=True)
class ServerConfig:
    credentials: Credentials
    http_port: int
    udp_port: int
    webhook_urls: Sequence[str] = ()
    log_level: str = "info"
    # Its lines as JSON objects (for a log collector) instead of tab-separated text.
    log_json: bool = False
    # host:port of the Redis the nodes of a multi-node deployment share; None: one node.
    redis_address: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, credentials: Credentials, **values: Any) -> ServerConfig:
        return cls(credentials, free_port(), free_port(socket.SOCK_DGRAM), **values)

    def __post_init__(self) -> None:
        if len(self.credentials.api_secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the LiveKit API secret must be >= {MIN_SECRET_LENGTH} characters")

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.http_port}"

    def body(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "port": self.http_port,
            "bind_addresses": [LOOPBACK],
            "rtc": {
                # 0: off. Its default (7881) listens on every interface, and cannot be bound.
                "tcp_port": 0,
                "udp_port": self.udp_port,
                "node_ip": LOOPBACK,
                "use_external_ip": False,
                "enable_loopback_candidate": True,
                "interfaces": {"includes": ["lo"]},
                "ips": {"includes": [f"{LOOPBACK}/32"]},
            },
            "keys": {self.credentials.api_key: self.credentials.api_secret},
            "logging": {"level": self.log_level, "json": self.log_json},
        }
        if self.webhook_urls:
            config["webhook"] = {
                "api_key": self.credentials.api_key,
                "urls": list(self.webhook_urls),
            }
        if self.redis_address:
            config["redis"] = {"address": self.redis_address}
        return config | dict(self.extra)

    def text(self) -> str:
        return json.dumps(self.body(), indent=2)


class LiveKitServer:
    """One running `livekit-server --config <file>`; `start()` returns once it answers HTTP."""

    def __init__(
        self,
        config: ServerConfig,
        directory: Path,
        *,
        binary: Path | None = None,
        output: IO[bytes] | int | None = None,
    ) -> None:
        self.config = config
        self.directory = directory
        self.binary = binary
        self.config_path = directory / "livekit.json"
        self.log_path = directory / "livekit.log"
        self._output = output
        self._process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def env(self) -> dict[str, str]:
        """What a platform process needs to reach this server."""
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.config.credentials.api_key,
            "LIVEKIT_API_SECRET": self.config.credentials.api_secret,
        }

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self, timeout: float = READY_TIMEOUT_S) -> LiveKitServer:
        binary = self.binary or find_binary() or install()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.text(), encoding="utf-8")
        self.config_path.chmod(0o600)  # it holds the API secret
        began = time.monotonic()
        output = self.log_path.open("ab") if self._output is None else self._output
        self._process = subprocess.Popen(  # noqa: S603 - a binary we chose, fixed arguments
            [str(binary), "--config", str(self.config_path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: a terminal's Ctrl-C is for whoever started it to handle.
            start_new_session=True,
        )
        if not isinstance(output, int) and output is not self._output:
            output.close()
        self._wait_ready(began + timeout)
        self.started_in_s = time.monotonic() - began
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        health = f"http://{LOOPBACK}:{self.config.http_port}/"
        while True:
            if (code := self._process.poll()) is not None:
                raise RuntimeError(f"livekit-server exited ({code}) while starting:\n{self.log()}")
            try:
                with urllib.request.urlopen(health, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"livekit-server did not answer on {health}:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Stops the server: its first SIGTERM waits for participants to leave, a second one
        (a moment later) stops it regardless, SIGKILL after `timeout`."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(1.0)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait()

    def __enter__(self) -> LiveKitServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: Sequence[str]) -> int:
    """`python -m voxiectl.livekit_local BINARY CONFIG`: becomes `BINARY --config CONFIG` (the
    start command runs every service as a Python module, and labels its output)."""
    if len(argv) != 2:
        print("usage: python -m voxiectl.livekit_local BINARY CONFIG", file=sys.stderr)
        return 2
    binary, config = argv
    os.execv(binary, [binary, "--config", config])  # noqa: S606 - the binary we were given


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
