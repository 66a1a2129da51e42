"""One place to validate parameters at a model's boundary.

Every error is a ``ValueError`` that names the parameter, the value it got and the
allowed range, e.g. ``concurrency_limit=0 is out of range: allowed 1 to 100,000``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def _fmt(x) -> str:
    if isinstance(x, Integral) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:g}"


def _range_text(lo, hi, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        left = "more than " if lo_open else ""
        right = " (exclusive)" if hi_open else ""
        return f"{left}{_fmt(lo)} to {_fmt(hi)}{right}"
    if lo is not None:
        return f"more than {_fmt(lo)}" if lo_open else f"{_fmt(lo)} or more"
    if hi is not None:
        return f"less than {_fmt(hi)}" if hi_open else f"{_fmt(hi)} or less"
    return "any finite number"


def check_number(name: str, value, lo=None, hi=None, *, lo_open: bool = False,
                 hi_open: bool = False, why: str | None = None) -> float:
    """Return ``value`` as a float or raise a ValueError naming ``name``, value and range.

    ``why`` is appended to the message (for example the AWS limit behind the range).
    """
    suffix = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}={value!r} is not a number: allowed "
                         f"{_range_text(lo, hi, lo_open, hi_open)}{suffix}")
    v = float(value)
    bad = (not math.isfinite(v)
           or (lo is not None and (v <= lo if lo_open else v < lo))
           or (hi is not None and (v >= hi if hi_open else v > hi)))
    if bad:
        raise ValueError(f"{name}={_fmt(value) if math.isfinite(v) else value} is out of range: "
                         f"allowed {_range_text(lo, hi, lo_open, hi_open)}{suffix}")
    return v


def check_int(name: str, value, lo=None, hi=None, *, why: str | None = None) -> int:
    """Like :func:`check_number` for whole numbers (``3.0`` is accepted, ``3.5`` is not)."""
    suffix = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) \
            or float(value) != int(value):
        raise ValueError(f"{name}={value!r} is not a whole number: allowed "
                         f"{_range_text(lo, hi, False, False)}{suffix}")
    check_number(name, int(value), lo, hi, why=why)
    return int(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of "
                         + ", ".join(repr(c) for c in choices))
    return value


def check_array(name: str, value, lo=0.0, hi=None, *, sorted_: bool = True, hi_open: bool = False):
    """Return ``value`` as a 1-D float array or raise a ValueError naming ``name``.

    Every element must be a finite number in ``[lo, hi]`` (``hi_open``: ``[lo, hi)``); with
    ``sorted_`` the array must be in non-decreasing order (arrival times).
    """
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a 1-D array of numbers, got {value!r:.80}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of numbers, got shape {a.shape}")
    if len(a) == 0:
        return a
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has a value that is not finite ({a[~np.isfinite(a)][0]}): allowed "
                         f"{_range_text(lo, hi, False, hi_open)}")
    if (lo is not None and a.min() < lo) or (hi is not None and (a.max() >= hi if hi_open else a.max() > hi)):
        bad = a.min() if lo is not None and a.min() < lo else a.max()
        raise ValueError(f"{name} has a value out of range ({bad:g}): allowed {_range_text(lo, hi, False, hi_open)}")
    if sorted_ and np.any(np.diff(a) < 0):
        raise ValueError(f"{name} must be sorted in increasing order")
    return a
