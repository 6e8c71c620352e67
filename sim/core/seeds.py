"""Seeds of the random draws: what a seed may be (imports nothing, so the CLI states it cheaply)."""

from __future__ import annotations

__all__ = ["SEED_MAX"]

#: largest seed: seeds are stored as 64-bit signed integers in results.nc and the manifests
SEED_MAX = 2**63 - 1
