"""Closed forms in labsim.theory checked against known values and independent formulas."""

from __future__ import annotations

import math
import re

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
