"""Child processes of the local stack: start them with their own log, and stop only them.

Every child gets its own session (process group), so a Ctrl-C typed at the
terminal reaches only the supervisor; the supervisor then stops the children
itself, newest first, and a child that ignores SIGTERM is killed after a grace
period. Services that were already running are never wrapped in a `Child`, so
they can never be stopped by mistake.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A problem the developer must fix; its message says how, so no traceback is shown."""


@dataclass
class Child:
    """A process the stack started, and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int = 0
    """Size of the log before this run, so earlier runs' lines are not mistaken for this one's."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What the child has logged in this run."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        """The end of the child's output, to show why it failed without opening the file."""
        return "\n".join(self.output().splitlines()[-lines:])


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path) -> Child:
    """Start `argv` in its own session with stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        offset = log.tell()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, process, log_path, offset)


def stop(child: Child, grace_seconds: float = 10.0) -> int | None:
    """SIGTERM the child's whole process group, then SIGKILL it if it outlives the grace period."""
    if not child.running():
        return child.process.returncode
    _signal_group(child, signal.SIGTERM)
    try:
        return child.process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        _signal_group(child, signal.SIGKILL)
        return child.process.wait(timeout=5)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    # The child leads its own process group (start_new_session), so this reaches
    # whatever it forked and nothing else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def answers_http(url: str) -> bool:
    """Whether `url` gives any HTTP response at all (an error status still means it is up)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def wait_until(ready: Callable[[], bool], child: Child, what: str, timeout: float = 60.0) -> None:
    """Poll `ready` until it holds; fail early, with the child's log, if the child dies."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not child.running():
            raise StackError(
                f"{what} exited with code {child.process.returncode} before it was ready.\n"
                f"Last lines of {child.log_path}:\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not become ready within {timeout:.0f} s; see {child.log_path}")
        time.sleep(0.2)
