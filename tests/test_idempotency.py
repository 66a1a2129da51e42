"""labsim.idempotency: exact charge counts, closed forms, books, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import idempotency as idem


def test_key_store_with_ttl_by_hand():
    # ttl 100: key written at 0 (valid to 100) skips 50; 120 charges and writes a key to 220,
    # which skips 130. Event 2 is independent of event 1.
    c = idem.charges_from_deliveries([1, 1, 1, 1, 2], [0, 50, 120, 130, 60], store=True, ttl=100)
    assert c.time.tolist() == [0, 50, 60, 120, 130]
    assert c.charged.tolist() == [True, False, True, True, False]
    assert c.charges == 3 and c.duplicated_charges == 1 and c.skipped == 2
    plain = idem.charges_from_deliveries([1, 1, 1, 1, 2], [0, 50, 120, 130, 60], store=False)
    assert plain.charges == 5 and plain.duplicated_charges == 3


def test_key_valid_until_but_not_at_expiry():
    c = idem.charges_from_deliveries([0, 0, 0], [0.0, 99.999, 100.0], store=True, ttl=100)
    assert c.charged.tolist() == [True, False, True]


def test_exact_counts_from_the_delays():
    r = idem.simulate_idempotency(events=2_000, duplicate_prob=0.3, delay_mean=600, ttl=900, seed=5)
    d = r.delay[np.isfinite(r.delay)]
    # without a store every duplicate charges; with it, exactly those arriving at or after the TTL
    assert r.without_store.duplicated_charges == r.duplicate_deliveries == len(d)
    assert r.with_store.duplicated_charges == int((d >= 900).sum())
    for c in (r.without_store, r.with_store):
        b = c.books()
        assert b["deliveries"] == b["charges"] + b["skipped"] == r.events + r.duplicate_deliveries
        assert b["charges"] == b["unique_charged"] + b["duplicated_charges"]
        assert b["unique_charged"] == r.events


@pytest.mark.parametrize("kind,ttl", [("exponential", 600.0), ("exponential", 1_800.0), ("fixed", 300.0)])
def test_duplicated_charges_match_closed_form(kind, ttl):
    n, q, m = 20_000, 0.2, 600.0
    r = idem.simulate_idempotency(events=n, duplicate_prob=q, delay_kind=kind, delay_mean=m, ttl=ttl, seed=11)
    # Duplicates ~ Binomial(n, q); charged duplicates with a store ~ Binomial(n, q P(D >= ttl)).
    # Tolerance: 3 binomial standard errors.
    for got, prob in ((r.without_store.duplicated_charges, q),
                      (r.with_store.duplicated_charges, q * idem.p_after_ttl(kind, m, ttl))):
        assert abs(got - n * prob) <= 3 * math.sqrt(n * prob * (1 - prob)) + 1e-9, (got, n * prob)
    assert math.isclose(r.expected_duplicates(), n * q)
    assert math.isclose(idem.p_after_ttl("exponential", 600, 600), math.exp(-1))
    assert idem.p_after_ttl("fixed", 300, 300) == 1.0 and idem.p_after_ttl("fixed", 299, 300) == 0.0


def test_fixed_delay_shorter_than_ttl_never_charges_twice():
    r = idem.simulate_idempotency(events=500, duplicate_prob=0.5, delay_kind="fixed", delay_mean=60, ttl=61)
    assert r.with_store.duplicated_charges == 0 and r.without_store.duplicated_charges > 0


@settings(max_examples=30, deadline=None, database=None)
@given(ev=st.lists(st.integers(0, 5), min_size=0, max_size=40), ttl=st.floats(0.1, 200),
       seed=st.integers(0, 1000))
def test_books_any_deliveries(ev, ttl, seed):
    t = np.random.default_rng(seed).uniform(0, 300, len(ev))
    for store in (False, True):
        c = idem.charges_from_deliveries(np.array(ev, int), t, store=store, ttl=ttl)
        b = c.books()
        assert b["deliveries"] == len(ev) == b["charges"] + b["skipped"]
        assert b["charges"] == b["unique_charged"] + b["duplicated_charges"]
        assert b["unique_charged"] == len(set(ev))           # every event charged at least once
        assert b["duplicate_deliveries"] == len(ev) - len(set(ev))
        if not store:
            assert b["duplicated_charges"] == b["duplicate_deliveries"]
        # between two charges of the same event at least one TTL passes
        if store:
            for e in set(ev):
                tc = np.sort(c.time[(c.event == e) & c.charged])
                assert np.all(np.diff(tc) >= ttl)


@pytest.mark.parametrize("name,value", [("duplicate_prob", 1.1), ("ttl", 0), ("delay_mean", -1), ("events", -1)])
def test_bad_parameters_are_named(name, value):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}"):
        idem.simulate_idempotency(**{name: value})
    with pytest.raises(ValueError, match="delay_kind='normal'"):
        idem.simulate_idempotency(delay_kind="normal")


# --- when the key is written ----------------------------------------------------------------------
@pytest.mark.parametrize("r", [1, 2])
def test_key_written_before_charging_loses_failed_charges_silently(r):
    """Closed form: the first charge fails with probability p, its retry finds the key and
    reports success: P(lost silently) = p; nothing fails visibly. Within 3 binomial SE."""
    n, p = 20_000, 0.1
    res = idem.simulate_key_writes(n, charge_fail_prob=p, key_write="before_charge", max_retry_attempts=r, seed=5)
    b = res.books()
    assert b["events"] == b["charged_once"] + b["lost_silently"] + b["failed_visibly"]
    assert abs(b["lost_silently"] / n - p) <= 3 * math.sqrt(p * (1 - p) / n)
    assert b["failed_visibly"] == 0 and (res.charges <= 1).all()
    assert (res.charges[res.outcome == idem.LOST_SILENTLY] == 0).all()


@pytest.mark.parametrize("r", [0, 1, 2])
def test_conditional_write_loses_a_charge_only_when_every_run_fails(r):
    """Closed form: P(never charged) = p^(r+1), and then visibly (to the failure destination);
    never silently. Within 3 binomial SE."""
    n, p = 20_000, 0.3
    res = idem.simulate_key_writes(n, charge_fail_prob=p, key_write="conditional", max_retry_attempts=r, seed=6)
    b = res.books()
    q = p ** (r + 1)
    assert b["lost_silently"] == 0 and (res.charges <= 1).all()
    assert abs(b["failed_visibly"] / n - q) <= 3 * math.sqrt(q * (1 - q) / n)
    assert b["events"] == b["charged_once"] + b["failed_visibly"]


def test_key_writes_validate():
    with pytest.raises(ValueError, match="key_write='later'"):
        idem.simulate_key_writes(key_write="later")
    with pytest.raises(ValueError, match="ttl=60"):
        idem.simulate_key_writes(ttl=60)


# --- issue 9: hostile input ------------------------------------------------------------------------
def test_a_nan_delivery_time_is_refused_not_charged_as_a_duplicate():
    """charges_from_deliveries(..., [0, nan, 2], store=True) charged the NaN delivery as a duplicate."""
    with pytest.raises(ValueError, match=r"^time has a value that is not finite \(nan\)"):
        idem.charges_from_deliveries([7, 7, 7], [0.0, math.nan, 2.0], store=True)


@pytest.mark.parametrize("event", ["abc", 5, [[1, 2]], [1.0, math.nan], [True, False], [object(), object()]])
def test_bad_event_ids_are_named(event):
    with pytest.raises(ValueError, match=r"^event"):
        idem.charges_from_deliveries(event, [0.0, 1.0], store=False)


@pytest.mark.parametrize("store", ["abc", 1, None, np.array([True, False])])
def test_store_must_be_a_bool(store):
    with pytest.raises(ValueError, match=r"^store=.* choose True or False"):
        idem.charges_from_deliveries([1, 1], [0.0, 1.0], store=store)


def test_event_ids_may_be_strings_or_whole_floats():
    c = idem.charges_from_deliveries(["a", "a", "b"], [0.0, 5.0, 1.0], store=True, ttl=10.0)
    assert c.books() == dict(deliveries=3, duplicate_deliveries=1, charges=2, skipped=1, unique_charged=2,
                             duplicated_charges=0)
    assert idem.charges_from_deliveries([1.0, 1.0], [0.0, 5.0], store=False).duplicated_charges == 1


def test_p_after_ttl_validates():
    assert idem.p_after_ttl("fixed", 5.0, 5.0) == 1.0 and idem.p_after_ttl("fixed", 4.0, 5.0) == 0.0
    assert idem.p_after_ttl("exponential", 10.0, 0) == 1.0
    for kw, name in ((dict(delay_kind="uniform"), "delay_kind"), (dict(delay_mean=0), "delay_mean"),
                     (dict(ttl=-1), "ttl"), (dict(ttl=10**400), "ttl")):
        with pytest.raises(ValueError, match=rf"^{name}="):
            idem.p_after_ttl(**(dict(delay_kind="exponential", delay_mean=10.0, ttl=5.0) | kw))


def test_event_count_is_bounded_to_about_a_second_of_work():
    with pytest.raises(ValueError, match=r"^events=200,001 is out of range: allowed 0 to 200,000"):
        idem.simulate_idempotency(200_001)
    with pytest.raises(ValueError, match=r"^events=200,001 is out of range"):
        idem.simulate_key_writes(200_001)
