"""Child processes that never outlive the parent: started with a parent-death signal, stopped politely."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in the child before exec: SIGTERM it when the thread that forked it exits (Linux only).

    PR_SET_PDEATHSIG fires when the forking *thread* exits, so spawn from a long-lived thread.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn(argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        preexec_fn=die_with_parent,
        start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop in %.0fs; killing it", proc.pid, timeout)
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()
