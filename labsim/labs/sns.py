"""Labs for chapter 7 (SNS): fan-out with filter policies; delivery retries to an endpoint of each
class (HTTP/S, email/SMS/push, AWS-managed), with server- or client-side failures."""

from __future__ import annotations

import numpy as np

from .. import plots, sns, traffic
from ..sns import Fate
from ..validation import check_bool, check_choice, check_number
from .base import Lab, checkbox as _check, dropdown as _drop, int_slider as _int, register

__all__ = ["fanout_lab", "delivery_lab", "POLICY_PRESETS", "DELIVERY_PRESETS", "ENDPOINTS", "FAILURES", "orders"]

#: Filter policies a reader can give each queue (MessageAttributes scope).
POLICY_PRESETS = {
    "all orders (no policy)": None,
    "placed": {"event": ["order_placed"]},
    "cancelled": {"event": ["order_cancelled"]},
    "not cancelled": {"event": [{"anything-but": ["order_cancelled"]}]},
    "price >= 100 USD": {"price_usd": [{"numeric": [">=", 100]}]},
    "EU stores (prefix eu-)": {"store": [{"prefix": "eu-"}]},
    "express (exists)": {"express": [{"exists": True}]},
    "placed AND >= 100 USD": {"event": ["order_placed"], "price_usd": [{"numeric": [">=", 100]}]},
    "express OR >= 100 USD ($or)": {"$or": [{"express": [{"exists": True}]},
                                            {"price_usd": [{"numeric": [">=", 100]}]}]},
}
FANOUT_SEND_S = 600.0
FANOUT_HORIZON_S = 900.0
FANOUT_MAX_RATE = 10.0
QUEUE_NAMES = ("A", "B", "C")
QUEUE_DURATIONS = (0.5, 4.0, 1.0)     # seconds per message: each queue's own pace
STORES = ("eu-west", "eu-north", "us-east", "ap-south")
EVENTS = ("order_placed", "order_shipped", "order_cancelled")
EVENT_P = (0.6, 0.25, 0.15)


def orders(rate: float, seed: int = 11):
    """A stream of orders: publish times (Poisson) and one MessageAttributes dict each: event
    (60% placed, 25% shipped, 15% cancelled), store, price_usd (lognormal, median 50 USD) and, on
    a quarter of them, express."""
    t = traffic.poisson(rate, FANOUT_SEND_S, seed)
    rng = np.random.default_rng(seed + 1)
    n = len(t)
    ev = rng.choice(len(EVENTS), n, p=EVENT_P)
    st = rng.integers(0, len(STORES), n)
    price = np.round(np.exp(np.log(50.0) + rng.standard_normal(n)), 2)
    ex = rng.random(n) < 0.25
    msgs = []
    for e, s, p, x in zip(ev.tolist(), st.tolist(), price.tolist(), ex.tolist()):
        m = {"event": {"Type": "String", "Value": EVENTS[e]}, "store": {"Type": "String", "Value": STORES[s]},
             "price_usd": {"Type": "Number", "Value": p}}
        if x:
            m["express"] = {"Type": "String", "Value": "yes"}
        msgs.append(m)
    return t, msgs


def fanout_model(queue_a, queue_b, queue_c, rate):
    for name, v in (("queue_a", queue_a), ("queue_b", queue_b), ("queue_c", queue_c)):
        check_choice(name, v, POLICY_PRESETS)
    rate = check_number("rate", rate, 0, FANOUT_MAX_RATE,
                        why=f"orders per second: the lab's range (at most {FANOUT_MAX_RATE * FANOUT_SEND_S:,.0f} "
                            "orders, to keep one run short)")
    t, msgs = orders(rate)
    subs = [sns.Subscription(nm, filter_policy=POLICY_PRESETS[p]) for nm, p in zip(QUEUE_NAMES, (queue_a, queue_b, queue_c))]
    return sns.simulate_fan_out(t, msgs, subs, horizon=FANOUT_HORIZON_S, mean_duration=list(QUEUE_DURATIONS))


def fanout_view(r, queue_a, queue_b, queue_c, rate):
    b = r.books()
    got = ", ".join(f"queue {s.name} ({p}): <b>{q.sent:,}</b>" for s, p, q in
                    zip(r.subscriptions, (queue_a, queue_b, queue_c), r.queues))
    wait = [q.count(4) + q.count(5) for q in r.queues]
    text = (f"{b['published']:,} orders at {rate:g} per second for 10 minutes: {got}; "
            f"<b>{b['unmatched']:,}</b> matched no subscription. {b['deliveries']:,} deliveries in all "
            f"(books: {b['deliveries']:,} = {b['delivered']:,} delivered + 0 DLQ + 0 lost + 0 pending); "
            f"still waiting after 15 minutes: " + ", ".join(f"{s.name} {w:,}" for s, w in zip(r.subscriptions, wait)) + ".")
    return plots.fanout_figure(r, (queue_a, queue_b, queue_c)), text


@register
def fanout_lab() -> Lab:
    """Three SQS queues subscribed to one topic with filter policies; a stream of orders."""
    opts = list(POLICY_PRESETS)
    return Lab({"queue_a": _drop("queue A policy", opts, "placed"),
                "queue_b": _drop("queue B policy", opts, "price >= 100 USD"),
                "queue_c": _drop("queue C policy", opts, "cancelled"),
                "rate": _drop("orders per second", [0.5, 1.0, 2.0], 1.0)},
               fanout_model, fanout_view, "Where every delivery went, what each queue received, and queue depths")


# --- delivery retries ----------------------------------------------------------------------------
#: HTTP/S delivery policies (the integration overview's outage lab uses these too).
DELIVERY_PRESETS = {
    "HTTP/S default: 3 retries, 20 s apart": sns.HTTP_DEFAULT,
    "12 retries, exponential 1 s to 600 s": sns.http_policy(12, 1, 600, "exponential"),
    "60 retries, 60 s apart (3,600 s)": sns.http_policy(60, 60),
}
#: The delivery lab's endpoints: the HTTP/S policies above, and SNS's own policies for the other
#: two endpoint classes (which no one can change): (protocol, policy).
ENDPOINTS = {
    **{k: ("https", v) for k, v in DELIVERY_PRESETS.items()},
    "email, SMS, mobile push: SNS's 50 retries": ("email", sns.CUSTOMER_MANAGED),
    "SQS, Lambda, Firehose: SNS's 100,015 retries": ("sqs", sns.AWS_MANAGED),
}
#: The kind of failure while the endpoint is down (sns-dead-letter-queues.html).
FAILURES = {
    "server-side (endpoint unavailable)": "server",
    "client-side (endpoint deleted, access removed)": "client",
}
DELIVERY_SEND_S = 1_800.0
DELIVERY_HORIZON_S = 7_200.0
DOWN_AT_S = 300.0
DELIVERY_MAX_DOWN_MIN = (DELIVERY_HORIZON_S - DOWN_AT_S) / 60.0


def delivery_model(down_minutes, policy, dlq, failure=list(FAILURES)[0]):
    down_minutes = check_number("down_minutes", down_minutes, 0, DELIVERY_MAX_DOWN_MIN,
                                why="the endpoint is back before the lab's 2-hour horizon")
    check_choice("policy", policy, ENDPOINTS)
    check_bool("dlq", dlq)
    check_choice("failure", failure, FAILURES)
    t = traffic.poisson(0.2, DELIVERY_SEND_S, 21)
    down = (DOWN_AT_S, DOWN_AT_S + 60.0 * down_minutes)
    protocol, pol = ENDPOINTS[policy]
    return sns.simulate_delivery(t, protocol=protocol, policy=pol, endpoint_down=[down], failure=FAILURES[failure],
                                 dlq=dlq, horizon=DELIVERY_HORIZON_S)


def delivery_view(r, down_minutes, policy, dlq, failure=list(FAILURES)[0]):
    b = r.books()
    late = r.departure[r.fate == Fate.DELIVERED_LATE] - r.publish[r.fate == Fate.DELIVERED_LATE]
    kind = FAILURES[failure]
    retries = (f"{ENDPOINTS[policy][1].total_seconds / 3_600:,.1f} h of retries" if ENDPOINTS[policy][1].managed
               else f"{ENDPOINTS[policy][1].total_seconds:,.0f} s of retries")
    text = (f"endpoint failing from 5 min for {down_minutes:g} min with {kind}-side errors; {policy} "
            f"({retries}"
            + ("; a client-side error is never retried" if kind == "client" else "")
            + f"); DLQ {'on' if dlq else 'off'}: "
            f"{b['published']:,} messages: <b>{b['delivered']:,}</b> delivered at once, "
            f"<b>{b['delivered_late']:,}</b> delivered late (up to {late.max(initial=0) / 60:.1f} min), "
            f"<b>{b['dlq']:,}</b> to the DLQ, <b>{b['lost']:,}</b> lost; {len(r.attempt_times()):,} attempts.")
    return plots.delivery_figure(r, (DOWN_AT_S, DOWN_AT_S + 60.0 * down_minutes)), text


@register
def delivery_lab() -> Lab:
    """An endpoint that fails for a while: SNS's retries (by endpoint class), then the DLQ or the bin."""
    return Lab({"down_minutes": _int("endpoint down (minutes)", 20, 0, 90, 5),
                "policy": _drop("endpoint and delivery policy", list(ENDPOINTS), list(ENDPOINTS)[0]),
                "failure": _drop("kind of failure", list(FAILURES), list(FAILURES)[0]),
                "dlq": _check("subscription DLQ", False)},
               delivery_model, delivery_view, "Each message's fate and the delivery attempts per minute")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from ..sns import Fate as _Fate  # noqa: E402
from ..sqs import MessageOutcome as _MO  # noqa: E402
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)


def _waiting(q):
    """Messages still in one subscriber queue at the horizon (queued or in flight)."""
    return q.count(_MO.QUEUED) + q.count(_MO.IN_FLIGHT)


def _late_minutes(r):
    """The longest wait of a message delivered late, from publish to delivery, in minutes."""
    late = r.fate == _Fate.DELIVERED_LATE
    return float((r.departure[late] - r.publish[late]).max(initial=0) / 60)


steps("fanout_lab",
      Step(key="c-not-cancelled", title="Everything but cancellations",
           values={"queue_c": "not cancelled"},
           ask="Set queue C's policy to not cancelled. Predict: which orders still match no subscription?",
           answer="Only the cancelled orders under 100 USD, about {unmatched}: no policy wants them. Queue C "
                  "receives about {queue_c}, every order that is not cancelled.",
           measure=lambda r: {"queue_c": r.queues[2].sent, "unmatched": r.unmatched},
           expect={"queue_c": Expect(470, rel=0.15), "unmatched": Expect(80, rel=0.15)}),
      Step(key="rate-2", title="Twice the orders",
           values={"rate": 2.0},
           ask="Back at the defaults, raise the orders to 2 per second. Queue B's consumer is the slowest. "
               "Predict which queues still hold messages after 15 minutes.",
           answer="Only queue B, with about {left_b} messages still waiting; A and C are empty. Each queue "
                  "drains at its own pace: a slow subscriber does not slow the others.",
           measure=lambda r: {"left_a": _waiting(r.queues[0]), "left_b": _waiting(r.queues[1]),
                              "left_c": _waiting(r.queues[2])},
           expect={"left_a": Expect(0), "left_b": Expect(60, rel=0.15), "left_c": Expect(0)}),
      Step(key="c-or", title="OR across two keys",
           values={"queue_c": "express OR >= 100 USD ($or)"},
           ask="Back at the defaults, set queue C to express OR >= 100 USD ($or). About 125 orders are express, "
               "about 140 cost 100 USD or more, and some are both. Predict how many orders queue C receives.",
           answer="About {queue_c}: each order that matches either branch, once. An order that is express and "
                  "costs 100 USD or more is not delivered twice, so the total is less than the sum.",
           measure=lambda r: {"queue_c": r.queues[2].sent},
           expect={"queue_c": Expect(230, rel=0.15)}))

_LONGEST_HTTP_POLICY = list(DELIVERY_PRESETS)[2]     # "60 retries, 60 s apart (3,600 s)"
_EMAIL = list(ENDPOINTS)[3]                          # "email, SMS, mobile push: SNS's 50 retries"
_AWS_MANAGED = list(ENDPOINTS)[4]                    # "SQS, Lambda, Firehose: SNS's 100,015 retries"
_CLIENT = list(FAILURES)[1]                          # "client-side (endpoint deleted, access removed)"

steps("delivery_lab",
      Step(key="hour-of-retries", title="An hour of HTTP/S retries",
           values={"policy": _LONGEST_HTTP_POLICY},
           ask="Choose the longest HTTP/S policy, 60 retries 60 s apart, for the same 20-minute outage. How "
               "many of the messages published during the outage are lost now?",
           answer="None: all the messages published during the outage, about {late}, are delivered late, "
                  "because an hour of retries outlasts the outage. But no HTTP/S policy retries longer than "
                  "3,600 s: a message published more than an hour before the endpoint is back is lost whatever "
                  "the policy.",
           measure=lambda r: {"lost": r.count(_Fate.LOST), "late": r.count(_Fate.DELIVERED_LATE)},
           expect={"lost": Expect(0), "late": Expect(260, rel=0.15)}),
      Step(key="down-90-email", title="A 90-minute outage, an email endpoint",
           values={"down_minutes": 90, "policy": _EMAIL},
           ask="Stretch the outage to 90 minutes, longer than any HTTP/S policy, and choose email, SMS, mobile "
               "push: SNS's own policy of 50 retries over 6 hours. Are the messages published during the "
               "outage lost?",
           answer="No: all about {late} are delivered late, the last about {late_min:.0f} minutes after they "
                  "were published ({lost} lost). SNS keeps retrying email, SMS and push every 10 minutes for "
                  "hours.",
           measure=lambda r: {"late": r.count(_Fate.DELIVERED_LATE), "lost": r.count(_Fate.LOST),
                              "late_min": _late_minutes(r)},
           expect={"late": Expect(320, rel=0.15), "lost": Expect(0), "late_min": Expect(90, rel=0.15)}),
      Step(key="client-error", title="A client-side error",
           values={"policy": _AWS_MANAGED, "failure": _CLIENT},
           ask="Back at 20 minutes, choose SQS, Lambda, Firehose, the class SNS retries longest, and make the "
               "failure client-side: the queue was deleted, or its access policy no longer lets SNS send. "
               "Predict how many messages the retries save.",
           answer="None: SNS does not retry a client-side error. Each message gets a single attempt, and all "
                  "about {lost} published during the outage are lost (with the DLQ ticked they land there).",
           measure=lambda r: {"attempts": int(r.attempts.max()), "lost": r.count(_Fate.LOST),
                              "late": r.count(_Fate.DELIVERED_LATE)},
           expect={"attempts": Expect(1), "lost": Expect(260, rel=0.15), "late": Expect(0)}))
