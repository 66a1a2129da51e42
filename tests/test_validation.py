"""labsim.validation: hostile values get a ValueError naming the parameter, never another error."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from labsim.validation import check_array, check_bool, check_choice, check_int, check_number, check_window

HUGE = 10**400          # no float can hold it


@pytest.mark.parametrize("lo,hi", [(0, None), (0, 100), (None, None), (1, 10**500)],
                         ids=["0-or-more", "0-to-100", "unbounded", "1-to-10**500"])
def test_huge_int_is_out_of_range_not_an_overflow(lo, hi):
    with pytest.raises(ValueError, match=r"^rate=1\.00e\+400 is out of range: allowed "):
        check_number("rate", HUGE, lo, hi)
    if hi is not None:                  # a whole number has no float limit (seeds)
        with pytest.raises(ValueError, match=r"^n=1\.00e\+400 is out of range"):
            check_int("n", HUGE, lo, min(hi, 10**399))


def test_negative_huge_int_names_its_range():
    with pytest.raises(ValueError, match=r"^rate=-1\.00e\+400 is out of range: allowed 0 or more$"):
        check_number("rate", -HUGE, 0)


def test_big_whole_numbers_are_whole_numbers():
    """10**30 is a whole number: accepted where the range allows it, else out of range."""
    assert check_int("seed", 10**30, 0) == 10**30
    assert check_int("seed", 10**400, 0) == 10**400
    with pytest.raises(ValueError, match=r"^seed=1\.00e\+30 is out of range: allowed 0 to 1,000$"):
        check_int("seed", 10**30, 0, 1_000)
    assert check_int("n", 1e20, 0) == 10**20          # a whole float
    assert check_int("n", np.int64(7), 0, 10) == 7 and type(check_int("n", np.int64(7), 0, 10)) is int


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), 2.5, "3", None, True,
                                   np.True_, np.array([1, 2]), [1], 1 + 0j])
def test_check_int_refuses_non_whole_numbers_naming_the_parameter(value):
    with pytest.raises(ValueError, match=r"^retries="):
        check_int("retries", value, 0, 10)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1", None, True, np.False_, np.array([1.0]),
                                   np.array(1.0), [1.0], 1 + 0j])
def test_check_number_refuses_non_numbers_naming_the_parameter(value):
    with pytest.raises(ValueError, match=r"^p="):
        check_number("p", value, 0, 1)


def test_check_number_accepts_numpy_and_python_numbers_exactly():
    assert check_number("p", np.float64(0.25), 0, 1) == 0.25
    assert check_number("p", np.float32(0.5), 0, 1) == 0.5
    assert check_number("x", 10**300, 0) == 1e300
    assert check_number("x", 5, 5, 10) == 5.0
    for bad, kw in [(5, dict(lo_open=True)), (10, dict(hi_open=True)), (4.999, {}), (10.001, {})]:
        with pytest.raises(ValueError, match=r"^x="):
            check_number("x", bad, 5, 10, **kw)


def test_empty_range_says_so_instead_of_a_backwards_range():
    """reserved with a limit of 50 and 100 kept unreserved: no value is allowed, and the
    message says so (it used to say "allowed 0 to -50")."""
    with pytest.raises(ValueError) as e:
        check_int("reserved", 0, 0, -50, why="AWS keeps at least 100 unreserved")
    msg = str(e.value)
    assert msg.startswith("reserved=0 is out of range: no value is allowed here")
    assert "AWS keeps at least 100 unreserved" in msg
    with pytest.raises(ValueError, match="no value is allowed"):
        check_number("x", 1.0, 1.0, 1.0, lo_open=True)


@pytest.mark.parametrize("value", [np.array(["fixed", "burst"]), np.array([1.0, 2.0]), ["none"], {"none": 1},
                                   {"none"}, math.nan, None, 0, b"none", np.float64(1.0)])
def test_check_choice_refuses_arrays_and_unhashables_naming_the_parameter(value):
    with pytest.raises(ValueError, match=r"^scaling=.* is not allowed: choose one of 'none', 'burst'$"):
        check_choice("scaling", value, ("none", "burst"))


def test_check_choice_keeps_kinds_apart_and_returns_the_choice():
    assert check_choice("rate_cap", np.True_, (True, False)) is True
    assert check_choice("kind", np.str_("fixed"), ("fixed", "other")) == "fixed"
    assert check_choice("k", np.int64(2), (1, 2)) == 2
    for v in (1, 0, 1.0, "True"):
        with pytest.raises(ValueError, match=r"^rate_cap="):
            check_choice("rate_cap", v, (True, False))
    with pytest.raises(ValueError, match=r"^k="):
        check_choice("k", "2", (1, 2))


@pytest.mark.parametrize("value", ["abc", 1, 1.0, None, np.nan, [True], np.array([1, 2])])
def test_check_bool(value):
    if isinstance(value, np.ndarray):
        value = value[0] == 1          # np.True_ is accepted
        assert check_bool("store", value) is True
        return
    with pytest.raises(ValueError, match=r"^store=.* is not allowed: choose True or False$"):
        check_bool("store", value)


@pytest.mark.parametrize("value,what", [
    ("abc", "1-D array"), (b"ab", "1-D array"), (None, "1-D array"), (5.0, "shape"), ([[1.0]], "shape"),
    ([1.0, math.nan], "not finite"), ([1.0, math.inf], "not finite"), ([True, False], "1-D array"),
    (["1", "2"], "1-D array"), ([1, 10**400], "1-D array"), ([1.0, "a"], "1-D array"), ([1 + 1j], "1-D array"),
    ([-1.0], "out of range"), ([3.0, 1.0], "sorted"),
])
def test_check_array_refuses_hostile_arrays_naming_the_parameter(value, what):
    with pytest.raises(ValueError) as e:
        check_array("arrivals", value)
    assert str(e.value).startswith("arrivals "), e.value
    assert what in str(e.value)


def test_check_array_accepts_numbers():
    assert check_array("t", [0, 1, 2]).dtype == float
    assert check_array("t", np.array([0.5, 2], dtype=object)).tolist() == [0.5, 2.0]
    assert len(check_array("t", [])) == 0
    assert check_array("t", [3.0, 1.0], sorted_=False).tolist() == [3.0, 1.0]
    with pytest.raises(ValueError, match=re.escape("allowed 0 to 2 (exclusive)")):
        check_array("t", [2.0], 0, 2, hi_open=True)


@pytest.mark.parametrize("value,match", [
    ("ab", r"^w must be a pair \(t0, t1\) of times"), ((1.0,), r"^w must be a pair"), ([[0, 1]], r"^w must be a pair"),
    ((-1.0, 2.0), r"^w\[0\]=-1"), ((5.0, 4.0), r"^w\[1\]=4 .*ends at or after it starts"), ((20.0, 30.0), r"^w\[0\]=20"),
])
def test_check_window_names_the_pair_or_the_bad_end(value, match):
    """The one outage-window check SQS, SNS and Kinesis share."""
    with pytest.raises(ValueError, match=match):
        check_window("w", value, latest_start=10.0)


def test_check_window_returns_floats():
    assert check_window("w", (np.int64(1), 2)) == (1.0, 2.0)
