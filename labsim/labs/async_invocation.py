"""Labs for asynchronous invocation (retries, event age, throttling, destinations: chapters/04a) and
idempotency (duplicated charges with and without a key store: chapters/04)."""

from __future__ import annotations

import math

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
        on_failure=on_failure, on_success=on_success, seed=8)


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


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)

def _expected_failures(r, runs):
    """The formula's expectation for this run: p^runs of its events fail ``runs`` runs in a row, with the
    binomial standard deviation that chance allows around it."""
    share = r.params["error_rate"] ** runs
    return {"events": r.sent, "expected": share * r.sent, "sd": math.sqrt(r.sent * share * (1 - share))}


steps("async_lab",
      Step(key="error-40", title="Twice the errors",
           values={"error_rate": 0.4},
           ask="Raise the function error rate from 20% to 40%, with the default 2 retries. What share of the "
               "events succeed, and how many end in the on-failure destination?",
           answer="About {success:.0%} succeed, as 1 - p^(r+1) = {closed:.1%} predicts. An event reaches the "
                  "on-failure destination when all three runs fail: the formula expects 0.4^3 × {events} = "
                  "{expected:.1f} of this run's {events} events, give or take about {sd:.0f} by chance, and "
                  "{failed} do.",
           measure=lambda r: {"success": r.success_fraction(), "failed": r.books()["failure_destination"],
                              "closed": retry_success_probability(r.params["error_rate"], r.params["max_retry_attempts"]),
                              **_expected_failures(r, 3)},
           expect={"success": Expect(0.94, abs=0.01), "failed": Expect(38), "closed": Expect(0.936, abs=0.0005),
                   "events": Expect(587), "expected": Expect(37.6, abs=0.05), "sd": Expect(6, abs=0.5)}),
      Step(key="no-retries", title="No retries",
           values={"max_retry_attempts": 0},
           ask="Back at a 20% error rate, set MaximumRetryAttempts to 0. Where do the events that fail go, how "
               "many runs does each get, and how many are there?",
           answer="Straight to the on-failure destination after {max_runs} run: the formula expects "
                  "0.2 × {events} = {expected:.1f}, give or take about {sd:.0f} by chance, and {failed} do.",
           measure=lambda r: {"failed": r.books()["failure_destination"], "max_runs": int(r.runs.max()),
                              **_expected_failures(r, 1)},
           expect={"failed": Expect(117), "max_runs": Expect(1), "events": Expect(587),
                   "expected": Expect(117.4, abs=0.05), "sd": Expect(10, abs=0.5)}),
      Step(key="age-1-minute", title="A one-minute event age",
           values={"max_event_age": 60},
           ask="With retries back at 2, set the maximum event age to 1 minute. The first retry comes after "
               "1 minute. What happens to the events that fail their first run?",
           answer="They expire instead of being retried: {expired} events, the same ones that failed their "
                  "first run in Try this 2 (0.2 × {events} = {expected:.1f} expected), and {failed} fail after "
                  "retries.",
           measure=lambda r: {"expired": r.books()["expired"], "failed": r.books()["failed"],
                              **_expected_failures(r, 1)},
           expect={"expired": Expect(117), "failed": Expect(0), "events": Expect(587),
                   "expected": Expect(117.4, abs=0.05)}),
      Step(key="reserved-1", title="A function that cannot keep up",
           values={"reserved_concurrency": 1},
           ask="Set the age back to 6 hours and reserved concurrency to 1. The events arrive at one per "
               "second and run for about a second each. Are the throttled events lost, or do they wait? "
               "(Predict the direction only, not the counts.)",
           answer="They wait: the function cannot keep up, and throttled events go back to the queue and back "
                  "off. None is lost and none expires ({expired}). In this run of the model that makes about "
                  "{throttles:,} throttles, and about {queued} events are still queued after 20 minutes.",
           measure=lambda r: {"throttles": int(r.throttles.sum()), "queued": r.books()["in_flight"],
                              "expired": r.books()["expired"]},
           expect={"throttles": Expect(2_700, rel=0.15), "queued": Expect(25, rel=0.15), "expired": Expect(0)}),
      Step(key="reserved-1-age-15", title="Throttled, with a 15-minute age",
           values={"reserved_concurrency": 1, "max_event_age": 900},
           ask="Keep reserved concurrency 1 and set the maximum event age to 15 minutes. Do throttled "
               "events still wait for ever, or do some now expire?",
           answer="Some expire: an event that waits longer than 15 minutes is discarded and goes to the failure "
                  "target. In this run of the model, about {expired} do.",
           measure=lambda r: {"expired": r.books()["expired"]},
           expect={"expired": Expect(15, rel=0.15)}),
      Step(key="reserved-0", title="Reserved concurrency 0",
           values={"reserved_concurrency": 0},
           ask="Set reserved concurrency to 0. How many events run?",
           answer="None: all {throttled} events are throttled, and all {to_target} go straight to the "
                  "failure target.",
           measure=lambda r: {"throttled": r.books()["throttled"], "to_target": r.books()["failure_destination"],
                              "runs": int(r.runs.sum())},
           expect={"throttled": Expect(587), "to_target": Expect(587), "runs": Expect(0)}),
      Step(key="no-target", title="No failure target",
           values={"on_failure": "none"},
           ask="Back at the defaults, choose neither as the failure target. What happens to the events that "
               "fail all three runs?",
           answer="They are simply lost, with no record of them anywhere: {lost} events, where the formula "
                  "expects 0.2^3 × {events} = {expected:.1f}.",
           measure=lambda r: {"lost": r.books()["lost"], "kept": r.books()["failure_destination"],
                              **_expected_failures(r, 3)},
           expect={"lost": Expect(4), "kept": Expect(0), "events": Expect(587), "expected": Expect(4.7, abs=0.05)}))


def _charges(r, store):
    return (r.with_store if store else r.without_store).duplicated_charges


steps("idempotency_lab",
      Step(key="no-store", title="No key store",
           values={"store": False},
           ask="Turn the key store off. Of 1,000 orders, each delivered a second time with probability 10%, how "
               "many cards are charged twice?",
           answer="About {duplicated}, the formula's n q = 1,000 × 0.1: every duplicate delivery charges again.",
           measure=lambda r: {"duplicated": _charges(r, False), "expected": r.expected_duplicates()},
           expect={"duplicated": Expect(100, rel=0.15), "expected": Expect(100, abs=0.5)}),
      Step(key="ttl-10-minutes", title="A short TTL",
           values={"ttl": 600},
           ask="Turn the store on again and shorten the key TTL from 1 hour to 10 minutes; duplicates still "
               "arrive 20 minutes after the first delivery on average. How many duplicated charges now?",
           answer="About {duplicated}, near the formula's n q e^(-T/m) = 100 × e^(-10/20) = {expected:.0f}: most "
                  "duplicates arrive after their key has expired.",
           measure=lambda r: {"duplicated": _charges(r, True), "expected": r.expected_duplicated_charges_with_store()},
           expect={"duplicated": Expect(65, rel=0.1), "expected": Expect(61, abs=0.5)}),
      Step(key="ttl-1-day", title="A long TTL",
           values={"ttl": 86_400},
           ask="Set the key TTL to 1 day, with duplicates 20 minutes late on average. How many duplicated "
               "charges are left, and what does the store pay for it?",
           answer="None ({duplicated}): no duplicate comes a day late. The price is storage: every key is kept for a day.",
           measure=lambda r: {"duplicated": _charges(r, True)},
           expect={"duplicated": Expect(0)}))
