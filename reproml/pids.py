"""Whether a process of this machine is alive: how a writer tells a dead writer's leftovers."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Tell whether process `pid` exists on this machine (this process counts as alive).

    A process of another user (``PermissionError``) exists too.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
