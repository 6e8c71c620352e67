"""Writing beside the main writer: a forked child writes part of an output (a run's charts, or its
input record when it has no charts) while the parent writes the rest, so that on two cores a run
takes the longer of the two, not their sum.

The child starts from the parent's memory (the evaluated result is already there: nothing is
pickled), writes its files into the same temporary output folder and leaves with ``os._exit``;
the parent waits for it before the folder is closed. Should the child fail, or the platform not
fork safely (only Linux forks here), the parent runs the same jobs itself, so that an error
surfaces exactly as it would without the child. Imports nothing of the project.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence

__all__ = ["FORK", "beside"]

#: whether the jobs run in a forked child (Linux); elsewhere they run after the block
FORK = sys.platform.startswith("linux") and hasattr(os, "fork")


def _run(jobs: Sequence[Callable[[], object]]) -> None:
    for job in jobs:
        job()


def _child(jobs: Sequence[Callable[[], object]]) -> None:
    """In the forked child: run the jobs, then leave without running the parent's exit handlers."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child; the parent cleans up
        _run(jobs)
        code = 0
    except BaseException:  # the parent runs the jobs again and raises the error itself
        code = 1
    finally:
        os._exit(code)


@contextlib.contextmanager
def beside(jobs: Sequence[Callable[[], object]]) -> Iterator[None]:
    """Run *jobs* (writers of files that the block does not touch) in a child while the block runs.

    On leaving the block normally, wait for them (or run them here when no child could, or it
    failed); when the block raises, the child is stopped and the error goes on.
    """
    pid = 0
    if FORK and jobs:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:  # no memory or process slot for a child: write in this process
            pid = 0
        else:
            if pid == 0:
                _child(jobs)
    try:
        yield
    except BaseException:
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
        raise
    if pid:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            return
    _run(jobs)
