"""Seeded Latin hypercube draws of the uncertain inputs, and their distributions.

Ranges are read as follows (stated in every report):

* triangular: low, mode = value, high;
* uniform: low to high (value is the midpoint for ``[low, high]`` completion ranges);
* lognormal: median = value, low and high the 5th and 95th percentiles
  (sigma = ln(high/low) / (2 * 1.645)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["chunk_seeds", "draw", "latin_hypercube", "ppf"]

_Z95 = 1.6448536269514722


def ppf(u: np.ndarray, distribution: str, value: float, low: float | None, high: float | None) -> np.ndarray:
    """Inverse CDF of a range at probabilities *u* (vectorised, closed forms)."""
    if low is None or high is None or high <= low or distribution == "fixed":
        return np.full_like(u, value, dtype=float)
    if distribution == "uniform":
        return low + u * (high - low)
    if distribution == "lognormal":
        sigma = np.log(high / low) / (2 * _Z95)
        from scipy.special import ndtri  # imported only when a lognormal range is used

        return np.asarray(value * np.exp(sigma * ndtri(u)), dtype=float)
    # triangular
    c = (value - low) / (high - low)
    left = low + np.sqrt(u * (high - low) * (value - low))
    right = high - np.sqrt((1 - u) * (high - low) * (high - value))
    return np.where(u < c, left, right)


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """[n, d] points in (0,1): each of the n strata of every dim holds exactly one point.

    The same construction as ``scipy.stats.qmc.LatinHypercube(d, scramble=True)`` (random
    permutation of strata, uniform jitter within each); written here because importing
    scipy.stats costs about 1.8 s of start-up on this class of machine, more than a whole
    ``ersim run --samples 10000`` may take. tests/test_uncertainty.py checks the property.
    """
    perms = rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T
    return (perms + rng.random((n, d))) / n


def draw(params: Sequence[tuple[str, str, float, float | None, float | None]], n: int, seed: np.random.SeedSequence | int) -> dict[str, np.ndarray]:
    """Latin hypercube of *n* samples over *params* (name, distribution, value, low, high)."""
    if not params:
        return {}
    rng = np.random.default_rng(seed)
    u = latin_hypercube(n, len(params), rng)
    return {name: ppf(u[:, j], dist, v, lo, hi) for j, (name, dist, v, lo, hi) in enumerate(params)}


def chunk_seeds(seed: int, n_chunks: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences per chunk of samples: same seed, same numbers."""
    return np.random.SeedSequence(seed).spawn(n_chunks)
