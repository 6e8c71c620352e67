"""Writing beside the main writer: a forked child writes part of an output (a run's charts, or its
input record when it has no charts) while the parent writes the rest, so that on two cores a run
takes about the longer of the two, not their sum.

:func:`beside` forks when the block starts: the child starts from the parent's memory (nothing is
pickled), writes into the same temporary output folder and leaves with ``os._exit``; the parent
waits for it before the folder is closed. ``ersim run`` goes further with a :class:`Worker`
forked before its slow imports, which imports matplotlib while the parent imports and evaluates,
and then draws the charts that :func:`beside` hands it (pickled partials over the run's Dataset),
half of them in a helper it forks at that moment (the parent only waits by then).
Should a child fail, or the process not fork safely (only Linux forks here, and only a process
with one thread), the parent runs the same jobs itself, so an error surfaces exactly as it would
without a child. Imports nothing of the project.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence

__all__ = ["FORK", "Worker", "beside", "hand_over"]

#: whether the jobs run in a forked child (Linux); elsewhere they run after the block
FORK = sys.platform.startswith("linux") and hasattr(os, "fork")


def _can_fork() -> bool:
    """Fork only a process with one thread (the CLI's): a thread of a notebook kernel or of a
    caller may hold a lock that the child would wait for forever."""
    return FORK and threading.active_count() == 1


def _run(jobs: Sequence[Callable[[], object]]) -> None:
    for job in jobs:
        job()


def _stop(pid: int) -> None:
    """End child *pid* (SIGTERM) and reap it."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _succeeded(pid: int) -> bool:
    """Wait for child *pid*; whether it exited 0."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _run_in_two(jobs: Sequence[Callable[[], object]]) -> None:
    """Run *jobs* half here, half in a helper forked now (it starts with what was prepared: for the
    charts, matplotlib and the CJK font loaded). Once the parent has handed over its jobs it only
    waits, so the two halves take both cores. Should the helper fail, its half runs here."""
    if len(jobs) < 2 or not _can_fork():
        _run(jobs)
        return
    mine, theirs = list(jobs[0::2]), list(jobs[1::2])
    helper: list[int] = []

    def stopped(signum: int, frame: object) -> None:  # the parent stops this worker: the helper goes too
        for pid in helper:
            _stop(pid)
        os._exit(1)

    signal.signal(signal.SIGTERM, stopped)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # no SIGTERM between the fork and knowing the helper
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        _child(theirs)
    if pid > 0:
        helper.append(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if pid < 0:
        _run(jobs)
        return
    try:
        _run(mine)
    except BaseException:
        _stop(pid)
        raise
    if not _succeeded(pid):
        _run(theirs)


def _leave_after(work: Callable[[], object]) -> None:
    """In a forked child: run *work*, then leave without running the parent's exit handlers
    (exit code 0 when it ran; on any error 1, and the parent runs the jobs again and raises it)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child; the parent cleans up
        work()
        code = 0
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _child(jobs: Sequence[Callable[[], object]]) -> None:
    """In the forked child: run the jobs, then leave."""
    _leave_after(lambda: _run(jobs))


@contextlib.contextmanager
def beside(jobs: Sequence[Callable[[], object]]) -> Iterator[None]:
    """Run *jobs* (writers of files that the block does not touch) in a child while the block runs.

    On leaving the block normally, wait for them (or run them here when no child could, or it
    failed); when the block raises, the child is stopped and the error goes on.
    """
    worker = _handed.pop() if _handed else None
    if worker is not None and not (jobs and worker.submit(jobs)):
        worker.close()
        worker = None
    pid = 0
    if worker is None and jobs and _can_fork():
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
        if worker is not None:
            worker.close()
        if pid:
            _stop(pid)
        raise
    if worker is not None and worker.wait():
        return
    if pid and _succeeded(pid):
        return
    _run(jobs)


class Worker:
    """A child forked early, before the parent's slow imports, that prepares (imports what its job
    needs, e.g. matplotlib) while the parent imports and computes, then runs the one list of jobs
    :func:`beside` hands it (pickled, through a temporary file).

    :func:`beside` uses the worker handed to it with :func:`hand_over` instead of forking then.
    """

    def __init__(self, prepare: Callable[[], object]):
        self.pid = 0
        self._fd = -1
        self._path = ""  # the pickled jobs, removed by the child once read (or here, if it never read them)
        if not _can_fork():
            return
        sys.stdout.flush()
        sys.stderr.flush()
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:
            os.close(w)
            _worker(r, prepare)
        os.close(r)
        self.pid, self._fd = pid, w

    def submit(self, jobs: Sequence[Callable[[], object]]) -> bool:
        """Hand *jobs* to the child; False (nothing handed) when they cannot be pickled or it is gone."""
        if not self.pid or self._fd < 0:
            return False
        try:
            with tempfile.NamedTemporaryFile("wb", prefix="ersim-jobs-", suffix=".pickle", delete=False) as fh:
                self._path = fh.name
                pickle.dump(list(jobs), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.write(self._fd, os.fsencode(fh.name))
            os.close(self._fd)
            self._fd = -1
            return True
        except Exception:  # an unpicklable job, or no room for the file: the caller writes the jobs itself
            self.close()
            return False

    def wait(self) -> bool:
        """Wait for the child; True when it ran every job."""
        if not self.pid:
            return False
        pid, self.pid = self.pid, 0
        ok = _succeeded(pid)
        self._forget()
        return ok

    def close(self) -> None:
        """Stop the child if it is still waiting or working; safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)  # a child still waiting reads no path and leaves
            self._fd = -1
        if self.pid:
            _stop(self.pid)
            self.pid = 0
        self._forget()

    def _forget(self) -> None:
        if self._path:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = ""


def _worker(fd: int, prepare: Callable[[], object]) -> None:
    """In the early child: prepare, wait for the path of the pickled jobs, run them, leave."""

    def work() -> None:
        prepare()
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        if not chunks:  # the parent handed nothing over (it failed before writing, or wrote itself)
            return
        path = os.fsdecode(b"".join(chunks))
        try:
            with open(path, "rb") as fh:
                jobs = pickle.load(fh)
        finally:
            os.unlink(path)
        _run_in_two(jobs)

    _leave_after(work)


_handed: list[Worker] = []


def hand_over(worker: Worker | None) -> None:
    """Let the next :func:`beside` give its jobs to *worker* (forked earlier) instead of forking
    (None: take back a worker that no :func:`beside` used)."""
    _handed[:] = [worker] if worker is not None else []
