"""Bot processes started by tests and drills die with whoever started them."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """In a bot child process, before exec: on Linux, be killed when the process
    that started it (the test or the drill) dies, however it dies, so that a failed or
    timed-out run never leaves replicas serving (and registering in Redis) behind it."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
