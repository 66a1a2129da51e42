"""Client retry policies: how long to wait before retrying a failed call.

The strategies follow the AWS Architecture Blog post "Exponential Backoff And Jitter" (Marc
Brooker, 2015, https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
With ``n`` the retry number (0 before the first retry, 1 before the second, ...), base ``b``
and cap ``c``:

=====================  =========================================================
``none``               never retry
``immediate``          0
``fixed``              b
``exponential``        min(c, b 2^n)
``full_jitter``        uniform(0, min(c, b 2^n))
``equal_jitter``       v/2 + uniform(0, v/2) with v = min(c, b 2^n)
``decorrelated_jitter``  min(c, uniform(b, 3 s_prev)) with s_prev = b before the first retry
=====================  =========================================================

A policy also has an attempt limit: ``max_attempts`` calls in all, the first one included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_choice, check_int, check_number

STRATEGIES = ("none", "immediate", "fixed", "exponential", "full_jitter", "equal_jitter",
              "decorrelated_jitter")
#: Strategies whose delay is random.
JITTERED = ("full_jitter", "equal_jitter", "decorrelated_jitter")
#: Simulation bound on the attempt limit.
MAX_ATTEMPTS = 100


@dataclass(frozen=True)
class RetryPolicy:
    """A retry strategy with its base delay, cap (seconds) and attempt limit."""

    strategy: str = "exponential"
    base: float = 0.1
    cap: float = 20.0
    max_attempts: int = 3

    def __post_init__(self):
        check_choice("strategy", self.strategy, STRATEGIES)
        check_number("base", self.base, 0, 3_600)
        check_number("cap", self.cap, self.base, 86_400,
                     why="the cap must be at least the base delay")
        check_int("max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)

    @property
    def retries(self) -> int:
        """Retries allowed after the first call (0 for ``none``)."""
        return 0 if self.strategy == "none" else self.max_attempts - 1

    def delay(self, n, prev=None, rng=None):
        """Delay before retry number ``n`` (0-based); ``n`` and ``prev`` may be arrays.

        ``prev`` is the previous delay (decorrelated jitter only; ``None`` means none yet).
        ``rng`` is a ``numpy.random.Generator``; required for the jittered strategies.
        """
        n = np.asarray(n, dtype=float)
        s, b, c = self.strategy, self.base, self.cap
        if s == "none":
            raise ValueError("strategy='none' never retries: there is no delay to draw")
        if s == "immediate":
            out = np.zeros_like(n)
        elif s == "fixed":
            out = np.full_like(n, b)
        elif s == "decorrelated_jitter":
            p = np.full_like(n, b) if prev is None else np.maximum(np.asarray(prev, dtype=float), b)
            out = np.minimum(c, rng.uniform(b, 3.0 * p))
        else:
            v = np.minimum(c, b * np.exp2(np.minimum(n, 1_000)))
            if s == "exponential":
                out = v
            elif s == "full_jitter":
                out = rng.uniform(0.0, v)
            else:                               # equal_jitter
                out = v / 2 + rng.uniform(0.0, v / 2)
        out = np.asarray(out, dtype=float)
        return float(out) if out.ndim == 0 else out

    def schedule(self, rng=None) -> np.ndarray:
        """All the delays one caller would wait if every attempt failed (``retries`` values)."""
        out = np.empty(self.retries)
        prev = None
        for n in range(self.retries):
            prev = out[n] = self.delay(n, prev, rng)
        return out

    def expected_delay(self, n: int) -> float:
        """Mean delay before retry ``n`` for the strategies with a closed form.

        Decorrelated jitter's mean depends on the path; it raises ``ValueError``.
        """
        s, b, c = self.strategy, self.base, self.cap
        if s in ("none", "decorrelated_jitter"):
            raise ValueError(f"strategy={s!r} has no closed-form mean delay")
        v = min(c, b * 2.0 ** n)
        return {"immediate": 0.0, "fixed": b, "exponential": v, "full_jitter": v / 2,
                "equal_jitter": 0.75 * v}[s]
