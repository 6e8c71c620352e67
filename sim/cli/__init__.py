"""The ``ersim`` command (a thin click layer over :mod:`sim.api`)."""

from sim.cli.main import main

__all__ = ["main"]
