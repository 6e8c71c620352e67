"""Seeded Latin hypercube draws of the uncertain inputs, and their distributions.

Ranges are read as follows (stated in every report):

* triangular: low, mode = value, high;
* uniform: low to high (value is the midpoint for ``[low, high]`` completion ranges);
* lognormal: median = value, low and high the 5th and 95th percentiles:
  sigma = ln(high/low) / (2 * 1.645), so the 5th-95th span is exactly low-high, and the value
  must lie within 10% of the geometric mean sqrt(low * high) (|ln(value / sqrt(low * high))|
  <= ln 1.1, see :func:`lognormal_problem`); the draws then have median = value and 5th/95th
  percentiles within 10% of low/high. Ranges further off are refused: they are not a lognormal
  with that median and those percentiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["LOGNORMAL_TOLERANCE", "Ranges", "chunk_seeds", "draw", "latin_hypercube", "lognormal_problem", "ppf"]

_Z95 = 1.6448536269514722
LOGNORMAL_TOLERANCE = 1.1  # the value may differ from sqrt(low * high) by this factor at most


def lognormal_problem(value: float, low: float | None, high: float | None) -> str | None:
    """Why (value, low, high) is not a lognormal with median value and 5th/95th percentiles low/high, or None.

    low must be > 0, and value within a factor 1.1 of the geometric mean sqrt(low * high):
    a lognormal is symmetric in log space, so its median is the geometric mean of any pair of
    symmetric percentiles.
    """
    if low is None or high is None:
        return None
    if low <= 0:
        return "a lognormal range needs low > 0"
    if high <= low:
        return None
    gm = float(np.sqrt(low * high))
    if value <= 0 or abs(np.log(value / gm)) > np.log(LOGNORMAL_TOLERANCE):
        return (f"a lognormal range reads value as the median and low/high as the 5th/95th percentiles, so value must lie "
                f"within 10% of sqrt(low*high) = {gm:.6g} (between {gm / LOGNORMAL_TOLERANCE:.6g} and {gm * LOGNORMAL_TOLERANCE:.6g}); "
                f"got value {value:g} with low {low:g} and high {high:g}: set value to {gm:.4g}, or use a triangular range")
    return None


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
    x = draw_matrix(params, n, seed)
    return {name: x[:, j] for j, (name, *_rest) in enumerate(params)}


def draw_matrix(params: Sequence[tuple[str, str, float, float | None, float | None]], n: int, seed: np.random.SeedSequence | int) -> np.ndarray:
    """[n, len(params)] Latin hypercube draws, inverse CDFs vectorised per distribution."""
    return Ranges.of(tuple(params)).draw(n, seed)


@dataclass(frozen=True, eq=False)
class Ranges:
    """The ranges of some inputs (name, distribution, value, low, high) as arrays, made once:
    the Monte Carlo draws a block of rows per chunk from the same ranges."""

    value: np.ndarray  # [d] central values (the draw of a column without a range)
    fixed: np.ndarray  # [d] bool: columns without a range
    tri: np.ndarray  # [d] bool: triangular columns, with their low, mode, high and mode's quantile
    tri_low: np.ndarray
    tri_mode: np.ndarray
    tri_high: np.ndarray
    tri_split: np.ndarray
    uni: np.ndarray  # [d] bool: uniform columns, with their low and width
    uni_low: np.ndarray
    uni_width: np.ndarray
    logn: np.ndarray  # [d] indices of lognormal columns
    low: np.ndarray
    high: np.ndarray

    @staticmethod
    @lru_cache(maxsize=64)
    def of(params: tuple[tuple[str, str, float, float | None, float | None], ...]) -> Ranges:
        dist = np.array([p[1] for p in params])
        val = np.array([p[2] for p in params], dtype=float)
        lo = np.array([p[3] if p[3] is not None else p[2] for p in params], dtype=float)
        hi = np.array([p[4] if p[4] is not None else p[2] for p in params], dtype=float)
        tri = (dist == "triangular") & (hi > lo)
        uni = (dist == "uniform") & (hi > lo)
        logn = (dist == "lognormal") & (hi > lo)
        a, c, b = lo[tri], val[tri], hi[tri]
        out = Ranges(val, ~(tri | uni | logn), tri, a, c, b, (c - a) / (b - a), uni, lo[uni], hi[uni] - lo[uni], np.nonzero(logn)[0], lo, hi)
        for arr in vars(out).values():
            arr.flags.writeable = False
        return out

    def draw(self, n: int, seed: np.random.SeedSequence | int) -> np.ndarray:
        """[n, d] Latin hypercube draws from *seed*."""
        rng = np.random.default_rng(seed)
        u = latin_hypercube(n, len(self.value), rng)
        out = np.empty_like(u)
        out[:, self.fixed] = self.value[self.fixed]
        if len(self.tri_low):
            a, c, b, q = self.tri_low, self.tri_mode, self.tri_high, u[:, self.tri]
            left = a + np.sqrt(q * (b - a) * (c - a))
            right = b - np.sqrt((1 - q) * (b - a) * (b - c))
            out[:, self.tri] = np.where(q < self.tri_split, left, right)
        if len(self.uni_low):
            out[:, self.uni] = self.uni_low + u[:, self.uni] * self.uni_width
        for j in self.logn.tolist():
            out[:, j] = ppf(u[:, j], "lognormal", self.value[j], self.low[j], self.high[j])
        return out


def chunk_seeds(seed: int, n_chunks: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences per chunk of samples: same seed, same numbers."""
    return np.random.SeedSequence(seed).spawn(n_chunks)
