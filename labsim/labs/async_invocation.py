"""Labs for chapter 4a: asynchronous invocation (retries, event age, throttling, destinations)
and idempotency (duplicated charges with and without a key store)."""

from __future__ import annotations

from .. import idempotency, lambda_async, plots
from ..outcomes import Outcome
from ..theory import retry_success_probability
from ..validation import check_bool, check_int, check_number
from .base import Lab, checkbox as _check, dropdown as _drop, float_slider as _float, int_slider as _int, register

__all__ = ["async_lab", "idempotency_lab"]

UNRESERVED = -1
AGES = [("1 min (minimum)", 60), ("5 min", 300), ("15 min", 900), ("1 h", 3_600), ("6 h (default)", 21_600)]
TARGETS = [("on-failure destination", "destination"), ("dead-letter queue", "dlq"),
           ("destination and DLQ", "both"), ("neither", "none")]


def async_model(error_rate, max_retry_attempts, max_event_age, reserved_concurrency, on_failure, on_success):
    reserved_concurrency = check_int("reserved_concurrency", reserved_concurrency, UNRESERVED, lambda_async.MAX_RESERVED,
                                     why=f"{UNRESERVED} means none")
    return lambda_async.simulate_async(
        rate=1.0, arrival_horizon=600.0, horizon=1_200.0, mean_duration=1.0, error_rate=error_rate,
        max_retry_attempts=max_retry_attempts, max_event_age=max_event_age,
        reserved_concurrency=None if reserved_concurrency == UNRESERVED else reserved_concurrency,
        on_failure=on_failure, on_success=on_success, seed=1)


def async_view(r, error_rate, max_retry_attempts, max_event_age, reserved_concurrency, on_failure, on_success):
    b = r.books()
    closed = 100 * retry_success_probability(error_rate, max_retry_attempts)
    thr = int(r.throttles.sum())
    fail_name = {v: k for k, v in TARGETS}[on_failure]
    text = (f"{b['sent']:,} events (1 per second for 10 min, 1 s each), error rate {error_rate:.0%}, "
            f"MaximumRetryAttempts {max_retry_attempts}, maximum event age {max_event_age:,} s, "
            f"reserved concurrency {'none' if reserved_concurrency == UNRESERVED else reserved_concurrency}, "
            f"failures to: {fail_name}, on-success destination: {'yes' if on_success else 'no'}. "
            f"After 20 min: <b>{b['succeeded']:,}</b> succeeded, <b>{b['failed']:,}</b> failed after retries, "
            f"<b>{b['expired']:,}</b> expired by age, {b['in_flight']:,} still queued or running; "
            f"{b['throttled']:,} refused (reserved concurrency 0); "
            f"{b['failure_destination'] + b['dlq'] + b['destination_and_dlq']:,} kept for inspection, <b>{b['lost']:,}</b> lost. "
            f"{thr:,} throttles. Success among finished events {100 * r.success_fraction():.1f}% "
            f"(1 - p^(r+1) = {closed:.1f}% without throttling or age limit).")
    return plots.async_figure(r), text


@register
def async_lab() -> Lab:
    """Error rate, MaximumRetryAttempts, MaximumEventAgeInSeconds, throttling, destinations."""
    return Lab({"error_rate": _float("function error rate", 0.2, 0.0, 0.9, 0.05),
                "max_retry_attempts": _int("MaximumRetryAttempts", 2, 0, lambda_async.MAX_RETRY_ATTEMPTS),
                "max_event_age": _drop("MaximumEventAgeInSeconds", AGES, 21_600),
                "reserved_concurrency": _drop("reserved concurrency",
                                              [("none (no throttling)", UNRESERVED), ("0 (function off)", 0), ("1", 1),
                                               ("2", 2), ("3", 3)],
                                              UNRESERVED),
                "on_failure": _drop("failed events go to", TARGETS, "destination"),
                "on_success": _check("on-success destination", False)},
               async_model, async_view, "Where asynchronous events are over time and where they ended")


TTLS = [("1 min", 60), ("10 min", 600), ("1 h", 3_600), ("1 day", 86_400)]


def idempotency_model(duplicate_prob, delay_mean, ttl, store):
    check_bool("store", store)                 # both are simulated; this one is shown
    delay_mean = check_number("delay_mean", delay_mean, 0, 14 * 24 * 60, lo_open=True, why="minutes")
    return idempotency.simulate_idempotency(events=1_000, duplicate_prob=duplicate_prob, delay_mean=delay_mean * 60,
                                            ttl=ttl, arrival_horizon=3_600.0, seed=2)


def idempotency_view(r, duplicate_prob, delay_mean, ttl, store):
    c = r.with_store if store else r.without_store
    expect = r.expected_duplicated_charges_with_store() if store else r.expected_duplicates()
    text = (f"{r.events:,} orders, duplicate probability {duplicate_prob:.0%}, duplicates arrive on average "
            f"{delay_mean:g} min later, key TTL {ttl / 60:g} min, key store {'on' if store else 'off'}: "
            f"{r.duplicate_deliveries:,} duplicate deliveries, <b>{c.charges:,}</b> charges, "
            f"<b>{c.duplicated_charges:,}</b> duplicated (expected {expect:.1f}); {c.skipped:,} deliveries skipped.")
    return plots.idempotency_figure(r, store=store), text


@register
def idempotency_lab() -> Lab:
    """Duplicate deliveries and a card-charging handler, with and without an idempotency-key store."""
    return Lab({"duplicate_prob": _float("duplicate probability", 0.1, 0.0, 0.5, 0.01),
                "delay_mean": _int("mean redelivery delay (min)", 20, 1, 120),
                "ttl": _drop("key TTL", TTLS, 3_600),
                "store": _check("idempotency-key store", True)},
               idempotency_model, idempotency_view,
               "Card charges over time with and without an idempotency-key store, and duplicate arrival times")
