"""One place to validate parameters at a model's boundary.

Every error is a ``ValueError`` that names the parameter, the value it got and the
allowed range, e.g. ``concurrency_limit=0 is out of range: allowed 1 to 100,000``.

Hostile values are refused the same way, never with another exception: NaN and infinities,
strings, ``None``, booleans where a number is meant, arrays where one value is meant, and
integers too large for a float (``10**400``; whole numbers are compared exactly, so
``seed=10**30`` is a whole number and ``10**400`` is out of range, not an ``OverflowError``).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

#: Largest finite float; a whole number beyond it cannot be used as a float.
FLOAT_MAX = float(np.finfo(float).max)


def _fmt(x) -> str:
    """A number for a message: whole numbers with thousands separators, big ones as 1.23e+400."""
    if isinstance(x, Integral):
        x = int(x)
        if abs(x) < 10**15:
            return f"{x:,}"
        s = str(abs(x))
        return f"{'-' if x < 0 else ''}{s[0]}.{s[1:3]}e+{len(s) - 1}"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    try:
        return f"{x:g}"
    except (TypeError, ValueError):
        return f"{x!r:.80}"


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


def _empty(lo, hi, lo_open: bool, hi_open: bool) -> bool:
    """True if no number lies in the range (for example ``0 to -50``)."""
    return lo is not None and hi is not None and (hi < lo or (hi == lo and (lo_open or hi_open)))


def _out_of_range(name, shown, lo, hi, lo_open, hi_open, suffix) -> ValueError:
    if _empty(lo, hi, lo_open, hi_open):
        return ValueError(f"{name}={shown} is out of range: no value is allowed here (the range would be "
                          f"{_range_text(lo, hi, lo_open, hi_open)}){suffix}")
    return ValueError(f"{name}={shown} is out of range: allowed {_range_text(lo, hi, lo_open, hi_open)}{suffix}")


def _outside(v, lo, hi, lo_open: bool, hi_open: bool) -> bool:
    """Exact comparison (Python compares ints and floats exactly, whatever their size)."""
    return ((lo is not None and (v <= lo if lo_open else v < lo))
            or (hi is not None and (v >= hi if hi_open else v > hi)))


def check_number(name: str, value, lo=None, hi=None, *, lo_open: bool = False,
                 hi_open: bool = False, why: str | None = None) -> float:
    """Return ``value`` as a float or raise a ValueError naming ``name``, value and range.

    ``why`` is appended to the message (for example the AWS limit behind the range).
    """
    suffix = f" ({why})" if why else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise ValueError(f"{name}={value!r:.80} is not a number: allowed "
                         f"{_range_text(lo, hi, lo_open, hi_open)}{suffix}")
    if isinstance(value, Integral):
        value = int(value)                      # exact, however large
        if _outside(value, lo, hi, lo_open, hi_open):
            raise _out_of_range(name, _fmt(value), lo, hi, lo_open, hi_open, suffix)
        if abs(value) > FLOAT_MAX:
            raise ValueError(f"{name}={_fmt(value)} is out of range: allowed "
                             f"{_range_text(lo, hi, lo_open, hi_open)}, and at most {FLOAT_MAX:.3g} "
                             f"in size (a float){suffix}")
        return float(value)
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"{name}={value!r:.80} is out of range: allowed "
                         f"{_range_text(lo, hi, lo_open, hi_open)}{suffix}") from None
    if not math.isfinite(v) or _outside(v, lo, hi, lo_open, hi_open):
        raise _out_of_range(name, _fmt(v) if math.isfinite(v) else value, lo, hi, lo_open, hi_open, suffix)
    return v


def check_int(name: str, value, lo=None, hi=None, *, why: str | None = None) -> int:
    """Like :func:`check_number` for whole numbers (``3.0`` is accepted, ``3.5`` is not).

    Any whole number is compared exactly: ``10**30`` is a whole number (and may be out of range).
    """
    suffix = f" ({why})" if why else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise ValueError(f"{name}={value!r:.80} is not a whole number: allowed "
                         f"{_range_text(lo, hi, False, False)}{suffix}")
    if isinstance(value, Integral):
        v = int(value)
    else:
        try:
            f = float(value)
        except (OverflowError, ValueError, TypeError):
            f = math.nan
        if not math.isfinite(f) or not f.is_integer():
            raise ValueError(f"{name}={value!r:.80} is not a whole number: allowed "
                             f"{_range_text(lo, hi, False, False)}{suffix}")
        v = int(f)
    if _outside(v, lo, hi, False, False):
        raise _out_of_range(name, _fmt(v), lo, hi, False, False, suffix)
    return v


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool if it is one (``True``/``False``, numpy's too), else raise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r:.80} is not allowed: choose True or False")
    return bool(value)


def _equal(a, b) -> bool:
    """``a == b`` as a plain bool, False when the comparison is not one (arrays, odd types)."""
    if isinstance(b, (bool, np.bool_)) != isinstance(a, (bool, np.bool_)):
        return False                            # 1 is not True, 0 is not False
    if isinstance(b, str) != isinstance(a, str):
        return False
    try:
        eq = a == b
    except Exception:                           # noqa: BLE001 (any comparison error means "no")
        return False
    return isinstance(eq, (bool, np.bool_)) and bool(eq)


def check_choice(name: str, value, choices):
    """Return the choice equal to ``value`` if there is one, else raise a ValueError listing them.

    Values of another kind never match: an array, ``1`` for ``True``, ``3`` for ``"3"``.
    """
    choices = tuple(choices)
    for c in choices:
        if _equal(value, c):
            return c
    raise ValueError(f"{name}={value!r:.80} is not allowed: choose one of "
                     + ", ".join(repr(c) for c in choices))


def check_array(name: str, value, lo=0.0, hi=None, *, sorted_: bool = True, hi_open: bool = False):
    """Return ``value`` as a 1-D float array or raise a ValueError naming ``name``.

    Every element must be a finite number (not a bool, not a string) in ``[lo, hi]``
    (``hi_open``: ``[lo, hi)``); with ``sorted_`` the array must be in non-decreasing order
    (arrival times).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be a 1-D array of numbers, got {value!r:.80}")
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":
            if raw.dtype.kind != "O" or not all(isinstance(x, Real) and not isinstance(x, (bool, np.bool_))
                                                for x in raw.ravel().tolist()):
                raise TypeError
        a = np.asarray(raw, dtype=float)
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


def check_grid(name: str, value, lo=None, hi=None) -> np.ndarray:
    """A finite number or a 1-D array of finite numbers (any order) in ``[lo, hi]``, as an array
    (0-d for a number): times at which to evaluate something, for example."""
    if isinstance(value, Real) and not isinstance(value, (bool, np.bool_)):
        return np.asarray(check_number(name, value, lo, hi))
    return check_array(name, value, lo, hi, sorted_=False)


def check_window(name: str, value, latest_start: float = 1e12) -> tuple:
    """A pair ``(t0, t1)`` of times with ``0 <= t0 <= latest_start`` and ``t0 <= t1``, as floats: an
    outage window. Errors name ``name``, or ``name[0]`` / ``name[1]`` for one bad end."""
    try:
        shape = np.shape(value)
    except ValueError:
        shape = None
    if shape != (2,) or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a pair (t0, t1) of times, got {value!r:.80}")
    t0 = check_number(f"{name}[0]", value[0], 0, latest_start)
    t1 = check_number(f"{name}[1]", value[1], t0, 1e12, why="the window ends at or after it starts")
    return t0, t1
