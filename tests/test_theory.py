"""Closed forms in labsim.theory checked against known values and independent formulas."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from helpers import value_re
from labsim import theory




def assert_names(excinfo, name: str, value) -> None:
    msg = str(excinfo.value)
    assert re.search(re.escape(name) + r"\s*=\s*" + value_re(value), msg), msg


# --- Erlang B ------------------------------------------------------------------------------------
def test_erlang_b_known_value_1000_servers():
    # Standard Erlang B table value: B(1000, 1000 erlangs) = 0.0248 (to 3 decimals 0.025).
    assert round(theory.erlang_b(1000, 1000.0), 3) == 0.025
    assert theory.erlang_b(1000, 1000.0) == pytest.approx(0.0248, abs=5e-5)


@pytest.mark.parametrize("a", [0.0, 0.1, 0.5, 1.0, 3.0, 17.25, 1e3])
def test_erlang_b_one_server(a):
    assert theory.erlang_b(1, a) == pytest.approx(a / (1 + a), rel=1e-15, abs=0)


@pytest.mark.parametrize("c", [1, 2, 10, 500])
def test_erlang_b_no_load(c):
    assert theory.erlang_b(c, 0.0) == 0.0


def test_erlang_b_zero_servers_blocks_everything():
    assert theory.erlang_b(0, 3.0) == 1.0


def _erlang_b_direct(c: int, a: float) -> float:
    """Independent definition: (A^c/c!) / sum_{k<=c} A^k/k!  (log-space for stability)."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c + 1)]
    m = max(logs)
    return math.exp(logs[-1] - m) / sum(math.exp(x - m) for x in logs)


@pytest.mark.parametrize("c,a", [(2, 1.0), (5, 3.0), (10, 5.0), (30, 25.0), (50, 75.0)])
def test_erlang_b_matches_direct_sum(c, a):
    assert theory.erlang_b(c, a) == pytest.approx(_erlang_b_direct(c, a), rel=1e-12)


def test_erlang_b_vectorised_equals_scalar():
    loads = np.array([0.0, 0.5, 5.0, 9.99, 10.0, 42.0, 120.0])
    vec = theory.erlang_b(10, loads)
    assert isinstance(vec, np.ndarray) and vec.shape == loads.shape
    np.testing.assert_allclose(vec, [theory.erlang_b(10, float(a)) for a in loads], rtol=1e-15, atol=0)
    grid = loads.reshape(7, 1) * np.ones((1, 3))
    assert theory.erlang_b(10, grid).shape == (7, 3)
    assert isinstance(theory.erlang_b(10, 5.0), float)


def test_erlang_b_decreases_in_servers_and_increases_in_load():
    assert theory.erlang_b(10, 5.0) > theory.erlang_b(11, 5.0)
    b = theory.erlang_b(10, np.linspace(0, 50, 101))
    assert np.all(np.diff(b) > 0)


# --- Erlang C ------------------------------------------------------------------------------------
def _erlang_c_direct(c: int, a: float) -> float:
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("c,a", [(1, 0.5), (2, 1.0), (3, 2.5), (5, 3.0), (10, 8.0), (20, 19.5)])
def test_erlang_c_matches_direct_sum(c, a):
    assert theory.erlang_c(c, a) == pytest.approx(_erlang_c_direct(c, a), rel=1e-12)


def test_erlang_c_single_server_is_utilisation():
    # M/M/1: P(wait) = rho.
    for rho in (0.1, 0.5, 0.9):
        assert theory.erlang_c(1, rho) == pytest.approx(rho, rel=1e-14)


@pytest.mark.parametrize("c,a,mean", [(1, 0.5, 2.0), (3, 2.5, 0.2), (10, 8.0, 1.5)])
def test_erlang_c_mean_wait(c, a, mean):
    expected = _erlang_c_direct(c, a) * mean / (c - a)
    assert theory.erlang_c_mean_wait(c, a, mean) == pytest.approx(expected, rel=1e-12)


def test_erlang_c_mean_wait_mm1():
    # M/M/1: W_q = rho / (mu - lambda) = rho * s / (1 - rho).
    rho, s = 0.75, 0.4
    assert theory.erlang_c_mean_wait(1, rho, s) == pytest.approx(rho * s / (1 - rho), rel=1e-14)


# --- Little's law, offered load, token bucket ---------------------------------------------------
def test_littles_law_and_offered_load():
    assert theory.littles_law(200.0, 0.25) == pytest.approx(50.0)
    assert theory.littles_law(0.0, 3.0) == 0.0
    assert theory.offered_load(500.0, 0.1) == pytest.approx(50.0)


def test_token_bucket_max_passed():
    assert theory.token_bucket_max_passed(rate=100.0, burst=50.0, window=2.0) == pytest.approx(250.0)
    assert theory.token_bucket_max_passed(rate=100.0, burst=50.0, window=0.0) == pytest.approx(50.0)


@pytest.mark.parametrize("rate,arrival,expected", [(100.0, 400.0, 0.75), (100.0, 100.0, 0.0),
                                                    (100.0, 50.0, 0.0), (0.0, 10.0, 1.0)])
def test_token_bucket_rejected_fraction(rate, arrival, expected):
    assert theory.token_bucket_rejected_fraction(rate, arrival) == pytest.approx(expected)


# --- bad inputs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call,name,value", [
    (lambda: theory.erlang_b(-1, 1.0), "c", -1),
    (lambda: theory.erlang_b(2.5, 1.0), "c", 2.5),
    (lambda: theory.erlang_b(3, -1.0), "load", -1.0),
    (lambda: theory.erlang_c(0, 0.5), "c", 0),
    (lambda: theory.erlang_c(5, 5.0), "load", 5.0),
    (lambda: theory.erlang_c(5, 7.0), "load", 7.0),
    (lambda: theory.erlang_c_mean_wait(5, 2.0, 0.0), "mean_duration", 0.0),
    (lambda: theory.littles_law(-3.0, 1.0), "rate", -3.0),
    (lambda: theory.littles_law(3.0, -1.0), "time_in_system", -1.0),
    (lambda: theory.offered_load(10.0, -0.5), "mean_duration", -0.5),
    (lambda: theory.token_bucket_max_passed(10.0, -5.0, 1.0), "burst", -5.0),
    (lambda: theory.token_bucket_max_passed(10.0, 5.0, -1.0), "window", -1.0),
    (lambda: theory.token_bucket_rejected_fraction(10.0, 0.0), "arrival_rate", 0.0),
    (lambda: theory.token_bucket_rejected_fraction(-10.0, 5.0), "rate", -10.0),
])
def test_bad_inputs_raise_value_error_naming_parameter_and_value(call, name, value):
    with pytest.raises(ValueError) as excinfo:
        call()
    assert_names(excinfo, name, value)


# --- issue 9: hostile input and bounded work -----------------------------------------------------
def erlang_b_full_loop(c, a):
    """The recurrence with no early stop: the reference for the early stop."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


@pytest.mark.parametrize("c,a", [(0, 3.0), (1, 0.0), (200, 80.0), (1_100, 80.0), (3_000, 80.0), (5_000, 1_000.0),
                                 (400, 0.5)])
def test_erlang_b_early_stop_gives_the_same_bits(c, a):
    """The loop stops once B is exactly 0 (it then stays 0): the result is unchanged, bit for bit."""
    assert theory.erlang_b(c, a) == erlang_b_full_loop(c, a)
    arr = theory.erlang_b(c, np.array([a, a / 2, 0.0]))
    assert arr.tolist() == [erlang_b_full_loop(c, x) for x in (a, a / 2, 0.0)]


def test_erlang_b_reaches_exactly_zero_and_stays_there():
    assert erlang_b_full_loop(2_000, 80.0) == 0.0 and erlang_b_full_loop(600, 80.0) > 0.0
    assert theory.erlang_b(600, 80.0) > 0.0 and theory.erlang_b(2_000, 80.0) == 0.0


def test_erlang_with_huge_server_counts_is_cheap_or_refused():
    """erlang_b(10**12, 80) and erlang_c(10**12, 80) did not return."""
    t0 = time.process_time()
    assert theory.erlang_b(10_000_000, 80.0) == 0.0
    assert theory.erlang_c(10_000_000, 80.0) == 0.0
    assert theory.erlang_b(10_000_000, np.array([80.0, 1.0])).tolist() == [0.0, 0.0]
    assert time.process_time() - t0 < 1.0
    for f in (theory.erlang_b, theory.erlang_c):
        with pytest.raises(ValueError, match=r"^c=1,000,000,000,000 is out of range: allowed \S+ to 10,000,000"):
            f(10**12, 80.0)
        with pytest.raises(ValueError, match=r"^c=1\.00e\+400 is out of range"):
            f(10**400, 80.0)
    with pytest.raises(ValueError, match=r"^load=200,000 is out of range: allowed 0 to 100,000 \(erlangs"):
        theory.erlang_b(10, 2e5)
    with pytest.raises(ValueError, match=r"^load has a value out of range \(200000\): allowed 0 to 100,000"):
        theory.erlang_b(10, [1.0, 2e5])
    assert theory.erlang_c(10**7, 1e5) == 0.0        # load may reach the bound when c is above it


@pytest.mark.parametrize("load", ["abc", True, None, math.nan, math.inf, [[1.0, math.nan]], 10**400])
def test_erlang_b_bad_loads_are_named(load):
    with pytest.raises(ValueError, match=r"^load"):
        theory.erlang_b(10, load)


def test_erlang_b_keeps_the_shape_of_its_load():
    assert isinstance(theory.erlang_b(5, 2.0), float) and isinstance(theory.erlang_b(5, np.float64(2.0)), float)
    assert isinstance(theory.erlang_b(5, np.array(2.0)), float)
    assert theory.erlang_b(5, [[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)


def test_retry_closed_forms_bound_retries():
    """retry_attempts_variance(0.3, 10**12) allocated gigabytes."""
    t0 = time.process_time()
    for f in (theory.retry_success_probability, theory.retry_expected_attempts, theory.retry_attempts_variance):
        with pytest.raises(ValueError, match=r"^retries=1,000,000,000,000 is out of range: allowed 0 to 10,000"):
            f(0.3, 10**12)
        with pytest.raises(ValueError, match=r"^retries=1\.00e\+400 is out of range"):
            f(0.3, 10**400)
    assert time.process_time() - t0 < 0.5
    assert theory.retry_attempts_variance(1.0, 10_000) == 0.0
    p = 0.3
    assert theory.retry_attempts_variance(p, 10_000) == pytest.approx(p / (1 - p) ** 2, rel=1e-12)   # geometric


def test_erlang_edges():
    """Zero servers with a 0-d array load is still a float; at c = 100,000 the load stays below c."""
    assert isinstance(theory.erlang_b(0, np.array(2.0)), float) and theory.erlang_b(0, np.array(2.0)) == 1.0
    with pytest.raises(ValueError, match=r"^load=100,000 is out of range: allowed 0 to 100,000 \(exclusive\)"):
        theory.erlang_c(100_000, 100_000.0)
    assert theory.erlang_c(100_001, 100_000.0) > 0
