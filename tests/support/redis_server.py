"""A real Redis for the multi-node LiveKit tests: Debian's `redis-server` on a free loopback
port, nothing persisted (no RDB snapshots, no append-only file), its working directory a
temporary one.

Where it is not installed the fixture skips with the install command, except in CI, where it
fails (tests/support/missing.py): CI installs it, so its absence there is a broken machine, not
a reason to leave the multi-node path untested.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.missing import missing
from voxiectl.livekit_local import LOOPBACK, free_port

READY_TIMEOUT_S = 20.0
INSTALL = "apt-get install redis-server"


def redis_binary() -> str:
    """The `redis-server` to run, or the test's skip (its failure in CI) saying how to get it."""
    found = shutil.which("redis-server")
    if found is None:
        missing("redis-server", f"{INSTALL} (.ci/run does); multi-node LiveKit needs it")
    return found


def _pong(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A running Redis; yields its `host:port`."""
    binary = redis_binary()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = directory / "redis.log"
    # No snapshots (`save ""`) and no append-only file: nothing outlives the test.
    options = {
        "bind": LOOPBACK,
        "port": str(port),
        "save": "",
        "appendonly": "no",
        "dir": str(directory),
        "logfile": str(log),
        "daemonize": "no",
    }
    process = subprocess.Popen(
        [binary, *(part for name, value in options.items() for part in (f"--{name}", value))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _pong(port):
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server did not answer on {LOOPBACK}:{port}:\n{text}")
            time.sleep(0.05)
        yield f"{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
