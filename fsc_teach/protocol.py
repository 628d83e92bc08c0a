"""The course's one rule for "method A beats method B": paired over the same sample draws, with a confidence interval.

Every comparison of the course runs each method on the *same* draws of few-shot images (the same seeds), so the
right comparison is paired: for draw ``i`` the difference ``d_i = a_i − b_i`` removes what the draw itself did to
both methods (an easy or a hard handful of images). ``compare(a, b)`` gives the mean difference and its
two-sided confidence interval from Student's t with ``n − 1`` degrees of freedom; ``A`` beats ``B`` when the whole
interval lies above zero, ``B`` beats ``A`` when it lies below, and otherwise the data cannot tell them apart.

With ``n = 5`` draws the interval is ``mean ± 2.78 · sd/√5``: about 1.24 standard deviations of the paired
differences on either side. A sign test would need at least 6 draws to reach 95 % at all (``2/2⁵ > 0.05``), which
is why the course uses the t interval. Unpaired rules (the larger standard deviation, the sum of the two) ignore
that the draws are shared and are not used anywhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from . import validate

__all__ = ["Comparison", "compare", "MIN_DRAWS"]

MIN_DRAWS = 5  # the fewest draws a comparison in the course's results is made on


@dataclass(frozen=True)
class Comparison:
    """``a − b`` over paired draws: the mean difference, its confidence interval, and the verdict."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    a: str = "A"
    b: str = "B"

    @property
    def sign(self) -> int:
        """``+1``: A beats B; ``−1``: B beats A; ``0``: no difference the draws can resolve."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    @property
    def verdict(self) -> str:
        """A sentence: who wins, by how much, and the interval it rests on."""
        ci = f"{self.mean:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"
        if self.sign > 0:
            return f"{self.a} beats {self.b}: {ci} over {self.n} draws"
        if self.sign < 0:  # said from the winner's side: b − a and its interval
            return f"{self.b} beats {self.a}: {-self.mean:+.2f} [{-self.high:+.2f}, {-self.low:+.2f}] over {self.n} draws"
        return f"no clear difference between {self.a} and {self.b}: {ci} over {self.n} draws"


def compare(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, names: tuple[str, str] = ("A", "B")
            ) -> Comparison:
    """Paired comparison of two methods' scores on the same draws (``a[i]`` and ``b[i]`` share draw ``i``).

    Returns the mean of ``a − b`` and its two-sided ``confidence`` interval from Student's t. One draw gives an
    interval of infinite width (nothing can be concluded); identical differences give a zero-width interval.
    """
    if not isinstance(a, Sequence) or not isinstance(b, Sequence) or isinstance(a, str) or isinstance(b, str):
        raise TypeError(f"a and b must be sequences of scores, one per draw; got {validate.describe(a)} and "
                        f"{validate.describe(b)}")
    if len(a) != len(b) or not a:
        raise ValueError(f"a and b must hold one score per draw for the same draws; got {len(a)} and {len(b)} "
                         "scores")
    for name, values in (("a", a), ("b", b)):
        for v in values:
            validate.real(f"every score in {name}", v)
    validate.real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    d = [float(x) - float(y) for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    if n == 1:
        return Comparison(mean, -math.inf, math.inf, n, confidence, *names)
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / (n - 1))
    half = _t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return Comparison(mean, mean - half, mean + half, n, confidence, *names)


def _t_quantile(p: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))
