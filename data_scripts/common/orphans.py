"""Worker processes that die with the process that forked them (Linux): no orphans after SIGKILL.

datasets builds with a multiprocess Pool and a Manager process, all forked; none of them notices
when the builder itself is killed with SIGKILL. Inside `children_die_with_me()`, every process
this one forks asks the kernel (prctl PR_SET_PDEATHSIG) for SIGKILL when its parent dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1
_parent_pid: int | None = None
# Looked up once here: loading a library in a freshly forked child of a threaded process can
# deadlock on the loader's lock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _after_fork_in_child() -> None:
    global _parent_pid
    parent, _parent_pid = _parent_pid, None  # grandchildren are not ours to watch
    if parent is None or _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


if sys.platform.startswith("linux"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def children_die_with_me():
    """Processes forked inside this block are killed when this process dies."""
    global _parent_pid
    previous, _parent_pid = _parent_pid, os.getpid()
    try:
        yield
    finally:
        _parent_pid = previous


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
