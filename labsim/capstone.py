"""The capstone: one shop, three designs, one flash sale. A composition of the service models.

An online shop takes orders through API Gateway. A flash sale multiplies the traffic for a few
seconds. Three designs take the same orders:

* ``"sync"``: API Gateway -> Lambda (proxy integration). The caller waits for the function.
* ``"queue"``: API Gateway -> SQS -> Lambda (event source mapping). The API answers once the
  message is in the queue; Lambda drains the queue at its own pace.
* ``"stream"``: API Gateway -> Kinesis -> Lambda (event source mapping), partition key = the
  customer, so each customer's orders stay in order.

In every design each order Lambda processed is then published to one SNS topic that fans out to
three SQS queues (billing, email, analytics), each with its own filter policy and its own
consumers.

Arrays in, arrays out: every stage is a call to the service model of its chapter, fed with the
previous stage's departures (``labsim.apigateway.simulate_throttling`` ->
``labsim.awslambda.simulate_sync`` / ``labsim.sqs.simulate_lambda_sqs`` /
``labsim.kinesis.simulate_stream`` -> ``labsim.sns.fan_out`` and ``labsim.sns.simulate_delivery``
-> ``labsim.sqs.simulate_queue``). This module only draws the orders, wires the stages together
and reads their outcomes into one final state per order (:class:`OrderState`) and one delivery
state per (order, subscription) pair that a filter policy matched (:class:`PairState`).

What the caller sees, by design (AWS rules, with their pages):

* API Gateway's own throttles reach the caller as **429**
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html).
* Behind a Lambda proxy integration, an invocation the Lambda API rejects comes back as **500**
  (a throttle is one cause, a missing invoke permission another; the model has only throttles),
  a function error as **502**, and API Gateway does not retry the invocation
  (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).

Labelled assumptions (AWS gives no number, or the model leaves a mechanism out)
--------------------------------------------------------------------------------
* The orders: Poisson at ``base_rate`` per second over ``traffic_length`` seconds, with a
  rectangular spike to ``spike_multiplier`` times that rate (``labsim.traffic.spike``); each
  order has a customer (uniform among ``customers``), a channel, an e-mail opt-in and a total
  drawn from small fixed tables (:data:`CHANNELS`, :data:`OPT_IN`, :data:`TOTALS`).
* Every order costs Lambda ``mean_duration`` seconds of work (fixed), in every design: one
  invocation per order (sync), one after another inside a batch (queue, as
  ``labsim.sqs.simulate_lambda_sqs``) or ``KINESIS_INVOKE_OVERHEAD_S`` plus the same per record
  (stream). An order whose handler fails (``poison``: a share of malformed orders) fails every
  time.
* API Gateway adds no time; SNS delivers to a queue at once (the endpoint is up, so
  ``simulate_delivery`` delivers at the first attempt).
* Queue design: the event source mapping never runs more batches than the function's reserved
  concurrency (``maximum_concurrency`` is lowered to ``reserved_concurrency``, as AWS advises),
  so Lambda never throttles the mapping. ``ReportBatchItemFailures`` is on.
* Stream design: ``parallelization_factor`` (default: as many concurrent batches per shard as
  the reservation allows, ``reserved_concurrency // shards``, 1 to 10). The mapping asks for one
  invocation per shard and lane; Lambda runs at most ``reserved_concurrency`` of them and throttles
  the rest, and a throttled batch is retried (``labsim.kinesis``: 1 s later, an assumption) until
  it succeeds or its records expire, without using up a retry
  (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html). So more
  shards than the reservation add throttles, not work. ``BisectBatchOnFunctionError`` is off (its
  default): a failing batch is retried ``MaximumRetryAttempts`` = ``max_retry_attempts`` times,
  then the whole batch goes to the on-failure destination (an SQS queue: counted as the DLQ).
* A Kinesis put that the shard refuses (``ProvisionedThroughputExceededException``) is an error
  for the caller, as is a Lambda throttle in the sync design: both are *failed*.
* The billing, e-mail and analytics queues are drained by plain consumers
  (:data:`SUBSCRIBERS`: consumers and seconds per message).

Billing units (no prices: each unit is named as its pricing page names it)
------------------------------------------------------------------------
API Gateway: API calls received (https://aws.amazon.com/api-gateway/pricing/). Lambda: requests
and duration in GB-seconds, each invocation rounded up to 1 ms (https://aws.amazon.com/lambda/pricing/).
SQS: requests, every API request the model makes (sends, receives, empty ones too, and deletes;
https://aws.amazon.com/sqs/pricing/). Kinesis (provisioned): shard-hours and PUT payload units of
25 KB (https://aws.amazon.com/kinesis/data-streams/pricing/). SNS: publishes (requests) and
notification deliveries (https://aws.amazon.com/sns/pricing/).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from . import apigateway, awslambda, kinesis, sns, sqs, traffic
from .awslambda import MIN_UNRESERVED, DEFAULT_ACCOUNT_LIMIT
from .outcomes import Outcome
from .validation import check_choice, check_int, check_number

DESIGNS = ("sync", "queue", "stream")
DESIGN_NAMES = {"sync": "API Gateway -> Lambda (sync)", "queue": "API Gateway -> SQS -> Lambda",
                "stream": "API Gateway -> Kinesis -> Lambda"}

# --- AWS numbers, each with its source ---------------------------------------------------------
#: Behind a Lambda proxy integration: a rejected invocation (a throttle, a missing permission) gives 500, a function
#: error 502; API Gateway does not retry. https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html
LAMBDA_REJECTED_STATUS = 500
FUNCTION_ERROR_STATUS = 502
#: API Gateway's own throttles: 429 (api-gateway-request-throttling.html).
API_THROTTLE_STATUS = apigateway.THROTTLE_STATUS
#: Lambda memory: 128 MB to 10,240 MB. https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10_240
#: Lambda bills duration rounded up to the nearest millisecond. https://aws.amazon.com/lambda/pricing/
BILLING_GRANULARITY_S = 0.001
#: Kinesis (provisioned) bills PUT payload units of 25 KB (https://aws.amazon.com/kinesis/data-streams/pricing/);
#: the model reads KB as 1,024 bytes.
PUT_PAYLOAD_UNIT_BYTES = 25 * 1_024
#: The largest reservation one function may have with the default account limit (1,000 - 100).
MAX_RESERVED = DEFAULT_ACCOUNT_LIMIT - MIN_UNRESERVED

# --- the scenario's assumptions ------------------------------------------------------------------
#: Order attributes (SNS message attributes) and their shares. Assumptions of the scenario.
CHANNELS = (("web", 0.6), ("app", 0.3), ("partner", 0.1))
OPT_IN = (("yes", 0.5), ("no", 0.5))
TOTALS = ((0, 0.05), (15, 0.35), (40, 0.3), (90, 0.2), (250, 0.1))      # 0: a free promotional order
#: The three subscriptions and their filter policies (MessageAttributes scope).
SUBSCRIPTIONS = (
    sns.Subscription("billing", "sqs", {"total": [{"numeric": [">", 0]}]}),
    sns.Subscription("email", "sqs", {"email_opt_in": ["yes"]}),
    sns.Subscription("analytics", "sqs", {"channel": [{"anything-but": ["partner"]}]}),
)
#: Each subscription's queue: (consumers, seconds of work per message). Assumptions.
SUBSCRIBERS = {"billing": (2, 0.05), "email": (1, 0.1), "analytics": (1, 0.01)}
#: Stream design: time an invocation takes on top of its records' work (an assumption).
KINESIS_INVOKE_OVERHEAD_S = 0.001
#: The model's bounds (simulation sizes, not AWS limits).
MAX_ORDERS = 50_000
MAX_HORIZON_S = 600.0
MAX_CUSTOMERS = 100_000


class OrderState(IntEnum):
    """Where an order ended. Exactly one per order; the books balance."""

    REJECTED = 0     #: 429 from API Gateway's throttles: never reached the integration
    FAILED = 1       #: an error for the caller: Lambda throttled behind the proxy (500), a function error (502),
    #: or the shard refused the put (stream)
    WAITING = 2      #: accepted, still in the queue or the stream, or being processed, at the horizon
    PROCESSED = 3    #: processed by Lambda (and published to the topic)
    DLQ = 4          #: the queue's dead-letter queue, or the stream's on-failure destination
    EXPIRED = 5      #: removed by the queue's or the stream's retention before it was processed


ORDER_KEYS = {OrderState.REJECTED: "rejected", OrderState.FAILED: "failed", OrderState.WAITING: "waiting",
              OrderState.PROCESSED: "processed", OrderState.DLQ: "dlq", OrderState.EXPIRED: "expired"}
ORDER_LABELS = {OrderState.REJECTED: "429 at API Gateway", OrderState.FAILED: "failed (5xx)",
                OrderState.WAITING: "waiting at the end", OrderState.PROCESSED: "processed",
                OrderState.DLQ: "DLQ", OrderState.EXPIRED: "expired"}
ORDER_ROLES = {OrderState.REJECTED: "throttled", OrderState.FAILED: "lost", OrderState.WAITING: "pending",
               OrderState.PROCESSED: "processed", OrderState.DLQ: "dlq", OrderState.EXPIRED: "expired"}

# Why an order failed (0 for the others).
NOT_FAILED, FAILED_THROTTLED, FAILED_ERROR = 0, 1, 2


class PairState(IntEnum):
    """Where one (order, subscription) delivery that a filter policy matched ended."""

    PROCESSED = 0    #: delivered to the subscription's queue and processed by its consumer
    WAITING = 1      #: in the subscription's queue (or being processed) at the horizon
    DLQ = 2          #: SNS gave up and moved it to the subscription's DLQ
    LOST = 3         #: SNS gave up with no DLQ
    EXPIRED = 4      #: the subscription's queue dropped it at the end of its retention period


PAIR_KEYS = {PairState.PROCESSED: "pair_processed", PairState.WAITING: "pair_waiting",
             PairState.DLQ: "pair_dlq", PairState.LOST: "pair_lost", PairState.EXPIRED: "pair_expired"}


# --- the orders ----------------------------------------------------------------------------------------
def _combos():
    """Every attribute combination an order can have, as SNS message attributes, and its weight."""
    out, weights = [], []
    for ch, pc in CHANNELS:
        for op, po in OPT_IN:
            for tot, pt in TOTALS:
                out.append({"channel": {"Type": "String", "Value": ch},
                            "email_opt_in": {"Type": "String", "Value": op},
                            "total": {"Type": "Number", "Value": tot}})
                weights.append(pc * po * pt)
    return tuple(out), np.array(weights) / np.sum(weights)


COMBOS, COMBO_WEIGHTS = _combos()


@functools.lru_cache(maxsize=1)
def _combo_match() -> np.ndarray:
    """Which subscription's filter policy matches which attribute combination (``sns.fan_out``
    once per combination: every order with the same attributes is matched alike)."""
    m = sns.fan_out(SUBSCRIPTIONS, COMBOS)
    m.flags.writeable = False
    return m


@functools.lru_cache(maxsize=32)
def _orders(base_rate, spike_multiplier, spike_start, spike_length, traffic_length, customers, seed):
    """The orders (cached: a lab that changes only a service setting redraws nothing).

    Returns read-only arrays: arrival times, customer, attribute combination, poison draw u."""
    rng = traffic.make_rng(seed)
    t = traffic.spike(base_rate, base_rate * spike_multiplier, spike_start, spike_length, traffic_length, rng)
    n = len(t)
    cust = rng.integers(0, customers, n)
    combo = rng.choice(len(COMBOS), n, p=COMBO_WEIGHTS)
    u = rng.random(n)
    for a in (t, cust, combo, u):
        a.flags.writeable = False
    return t, cust, combo, u


# --- the result ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineResult:
    """Per-order arrays (in arrival order), per-pair arrays, every stage's own result, billing."""

    design: str
    arrival: np.ndarray        #: when the order reached API Gateway, s
    customer: np.ndarray       #: the customer (the stream design's partition key)
    combo: np.ndarray          #: index into :data:`COMBOS` (the order's SNS message attributes)
    poison: np.ndarray         #: True: the handler fails on this order, every time
    state: np.ndarray          #: :class:`OrderState`
    failed_why: np.ndarray     #: FAILED_THROTTLED or FAILED_ERROR for failed orders, else NOT_FAILED
    done: np.ndarray           #: when the order reached its final state (inf: waiting)
    pair_order: np.ndarray     #: per matched (order, subscription) pair: the order's index
    pair_sub: np.ndarray       #: ... the subscription's index in :data:`SUBSCRIPTIONS`
    pair_state: np.ndarray     #: ... :class:`PairState`
    pair_done: np.ndarray      #: ... when it reached its state (inf: waiting)
    api: apigateway.ThrottleResult
    stage: object              #: the middle stage's result: SyncResult, QueueResult or StreamResult
    delivery: sns.DeliveryResult
    fanout: tuple              #: one ``sqs.QueueResult`` per subscription
    billing: dict              #: {service: {billing unit: amount}}
    horizon: float
    params: dict = field(default_factory=dict)

    # -- the books ------------------------------------------------------------------------------
    def count(self, state) -> int:
        return int(np.count_nonzero(self.state == int(state)))

    def books(self) -> dict:
        """Every order in exactly one final state, every matched pair in exactly one delivery state:

        ``orders == rejected + failed + waiting + processed + dlq + expired``,
        ``failed == failed_throttled + failed_error``, ``processed == published``,
        ``pairs == pair_processed + pair_waiting + pair_dlq + pair_lost + pair_expired``.
        """
        d = {"orders": len(self.arrival)}
        for s, k in ORDER_KEYS.items():
            d[k] = self.count(s)
        d["failed_throttled"] = int(np.count_nonzero(self.failed_why == FAILED_THROTTLED))
        d["failed_error"] = int(np.count_nonzero(self.failed_why == FAILED_ERROR))
        d["published"] = len(self.delivery.publish)
        d["pairs"] = len(self.pair_state)
        for s, k in PAIR_KEYS.items():
            d[k] = int(np.count_nonzero(self.pair_state == int(s)))
        return d

    # -- what the reader asks -------------------------------------------------------------------
    @property
    def lost(self) -> int:
        """Orders the shop lost: refused (429), failed (5xx), in the DLQ, or expired."""
        return self.count(OrderState.REJECTED) + self.count(OrderState.FAILED) + self.count(OrderState.DLQ) \
            + self.count(OrderState.EXPIRED)

    def latency(self) -> np.ndarray:
        """End-to-end latency of every processed order, from API Gateway to Lambda done (s)."""
        m = self.state == OrderState.PROCESSED
        return self.done[m] - self.arrival[m]

    def percentiles(self, q=(50, 95, 99)) -> dict:
        """Latency percentiles of the processed orders, s (NaN when none was processed)."""
        lat = self.latency()
        return {p: (float(np.percentile(lat, p)) if len(lat) else math.nan) for p in q}

    def delayed(self, by: float = 1.0) -> int:
        """Processed orders whose latency exceeded their own work by more than ``by`` seconds."""
        return int(np.count_nonzero(self.latency() > self.params["mean_duration"] + by))

    def out_of_order(self) -> int:
        """Processed orders that finished before an earlier processed order of the same customer."""
        m = self.state == OrderState.PROCESSED
        c, t = self.customer[m], self.done[m]
        if len(c) < 2:
            return 0
        order = np.lexsort((np.arange(len(c)), c))         # by customer, then arrival
        c, t = c[order], t[order]
        span = 2.0 * (float(t.max()) + 1.0)
        key = t + c * span                                  # customers never overlap
        prev = np.maximum.accumulate(np.concatenate([[-np.inf], key[:-1]]))
        same = np.concatenate([[False], c[1:] == c[:-1]])
        return int((same & (key < prev)).sum())

    def in_system(self, grid) -> np.ndarray:
        """Orders accepted by API Gateway and not yet in a final state, at each time of ``grid``."""
        g = np.asarray(grid, float)
        m = self.state != OrderState.REJECTED
        a = self.arrival[m]
        d = np.sort(self.done[m])
        return np.searchsorted(a, g, side="right") - np.searchsorted(d, g, side="right")


# --- the stages ------------------------------------------------------------------------------------------
def _gb_seconds(durations, memory_mb: float) -> float:
    billed = np.ceil(np.round(np.asarray(durations, float) / BILLING_GRANULARITY_S, 9)) * BILLING_GRANULARITY_S
    return float(billed.sum() * memory_mb / 1_024.0)


def _sync_stage(t, bad, p, seed):
    """API Gateway -> Lambda: ``simulate_sync`` on the requests API Gateway passed."""
    r = awslambda.simulate_sync(arrivals=t, mean_duration=p["mean_duration"], reserved=p["reserved_concurrency"],
                                horizon=p["horizon"], warmup=0.0, seed=seed)
    n = len(t)
    state = np.full(n, int(OrderState.WAITING), np.int8)
    why = np.zeros(n, np.int8)
    done = np.full(n, np.inf)
    thr = r.outcome == Outcome.THROTTLED
    ok = r.outcome == Outcome.SUCCEEDED
    state[thr], why[thr], done[thr] = OrderState.FAILED, FAILED_THROTTLED, r.arrival[thr]
    end = r.arrival + r.duration
    state[ok & ~bad], done[ok & ~bad] = OrderState.PROCESSED, end[ok & ~bad]
    err = ok & bad
    state[err], why[err], done[err] = OrderState.FAILED, FAILED_ERROR, end[err]
    ran = ~thr
    lam = {"requests": int(ran.sum()), "duration (GB-seconds)": _gb_seconds(r.duration[ran], p["memory_mb"])}
    return r, state, why, done, {"Lambda": lam}


def _queue_stage(t, bad, p, seed):
    """API Gateway -> SQS -> Lambda: ``simulate_lambda_sqs`` on the requests API Gateway passed."""
    mc = p["maximum_concurrency"]
    cap = p["reserved_concurrency"] if mc is None else min(mc, p["reserved_concurrency"])
    window = p["batching_window"]
    if p["batch_size"] > 10:
        window = max(window, sqs.MIN_WINDOW_FOR_LARGE_BATCH_S)
    r = sqs.simulate_lambda_sqs(t, horizon=p["horizon"], batch_size=p["batch_size"], batching_window=window,
                                maximum_concurrency=cap, report_batch_item_failures=True,
                                visibility_timeout=p["visibility_timeout"], max_receive_count=p["max_receive_count"],
                                mean_duration=p["mean_duration"], poison=bad, message_size=p["order_bytes"], seed=seed)
    n = len(t)
    state = np.full(n, int(OrderState.WAITING), np.int8)
    done = np.full(n, np.inf)
    MO = sqs.MessageOutcome
    for mo, os_ in ((MO.DELETED, OrderState.PROCESSED), (MO.DLQ, OrderState.DLQ), (MO.EXPIRED, OrderState.EXPIRED)):
        m = r.outcome == mo
        state[m], done[m] = os_, r.departure[m]
    lam = {"requests": len(r.receive_time),
           "duration (GB-seconds)": _gb_seconds(r.busy_end - r.receive_time, p["memory_mb"])}
    return r, state, np.zeros(n, np.int8), done, {"Lambda": lam, "SQS": {"requests": r.requests}}


def _stream_stage(t, keys, bad, p):
    """API Gateway -> Kinesis -> Lambda: ``simulate_stream`` on the requests API Gateway passed."""
    r = kinesis.simulate_stream(t, keys, p["order_bytes"], p["shards"], lambda_consumer=True,
                                batch_size=p["batch_size"], batching_window=p["batching_window"],
                                parallelization_factor=p["parallelization_factor"],
                                max_retry_attempts=p["max_retry_attempts"], destination="SQS",
                                duration=KINESIS_INVOKE_OVERHEAD_S, duration_per_record=p["mean_duration"],
                                bad=bad, horizon=p["horizon"], concurrency=p["reserved_concurrency"])
    n = len(t)
    state = np.full(n, int(OrderState.WAITING), np.int8)
    why = np.zeros(n, np.int8)
    done = np.full(n, np.inf)
    F = kinesis.Fate
    for f, os_ in ((F.PROCESSED, OrderState.PROCESSED), (F.DESTINATION, OrderState.DLQ),
                   (F.EXPIRED, OrderState.EXPIRED), (F.THROTTLED, OrderState.FAILED)):
        m = r.fate == f
        state[m], done[m] = os_, r.finish[m]
    if np.any(r.fate == F.DISCARDED):                       # destination="SQS": never discarded
        raise AssertionError("a record was discarded although the mapping has a destination")
    thr = r.fate == F.THROTTLED
    why[thr] = FAILED_THROTTLED
    # Lambda's invocations: records started together on one lane form a batch, tried `attempts` times
    # (BisectBatchOnFunctionError is off, so a batch is never split).
    ran = np.flatnonzero(r.attempts > 0)
    if len(ran):
        key = np.stack([r.shard[ran], r.lane[ran], r.start[ran]])
        _, first, size = np.unique(key, axis=1, return_index=True, return_counts=True)
        tries = r.attempts[ran][first]
        dur = np.repeat(KINESIS_INVOKE_OVERHEAD_S + p["mean_duration"] * size, tries)
    else:
        tries, dur = np.zeros(0, int), np.zeros(0)
    units = int(np.ceil(r.size[r.accepted] / PUT_PAYLOAD_UNIT_BYTES).sum())
    lam = {"requests": int(tries.sum()), "duration (GB-seconds)": _gb_seconds(dur, p["memory_mb"])}
    kin = {"shard-hours": r.n_shards * p["horizon"] / 3_600.0, "PUT payload units": units}
    return r, state, why, done, {"Lambda": lam, "Kinesis": kin}


def _fan_out(order_idx, publish, combo, horizon, seed):
    """Processed orders -> SNS topic -> the three subscriptions' queues."""
    order = np.argsort(publish, kind="stable")
    pub_t, pub_i = publish[order], order_idx[order]
    delivery = sns.simulate_delivery(pub_t, policy=sns.AWS_MANAGED, horizon=horizon)
    match = _combo_match()[combo[pub_i]]                              # (published, subscriptions)
    queues, po, ps, st, dn = [], [], [], [], []
    seeds = np.random.SeedSequence(seed).generate_state(len(SUBSCRIPTIONS))
    arrived = delivery.delivered & (delivery.departure < horizon)
    for j, sub in enumerate(SUBSCRIPTIONS):
        m = match[:, j]
        idx = np.flatnonzero(m & arrived)
        cons, dur = SUBSCRIBERS[sub.name]
        q = sqs.simulate_queue(delivery.departure[idx], horizon=horizon, consumers=cons, mean_duration=dur,
                               seed=int(seeds[j]))
        queues.append(q)
        s = np.full(len(idx), int(PairState.WAITING), np.int8)
        d = np.full(len(idx), np.inf)
        MO = sqs.MessageOutcome
        for mo, ps_ in ((MO.DELETED, PairState.PROCESSED), (MO.DLQ, PairState.DLQ), (MO.EXPIRED, PairState.EXPIRED)):
            k = q.outcome == mo
            s[k], d[k] = ps_, q.departure[k]
        # matched pairs that never reached the queue: SNS still trying, gave up, or published at the horizon
        rest = np.flatnonzero(m & ~arrived)
        fr = delivery.fate[rest]
        s2 = np.full(len(rest), int(PairState.WAITING), np.int8)
        s2[fr == sns.Fate.DLQ] = PairState.DLQ
        s2[fr == sns.Fate.LOST] = PairState.LOST
        d2 = np.where(s2 == PairState.WAITING, np.inf, delivery.departure[rest])
        both = np.concatenate([idx, rest])
        po.append(pub_i[both])
        ps.append(np.full(len(both), j, np.int8))
        st.append(np.concatenate([s, s2]))
        dn.append(np.concatenate([d, d2]))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return (delivery, tuple(queues), cat(po, np.int64), cat(ps, np.int8), cat(st, np.int8), cat(dn, float),
            int(match.sum()))


# --- the model ----------------------------------------------------------------------------------------------
def _check_params(design, base_rate, spike_multiplier, spike_start, spike_length, traffic_length, horizon,
                  customers, stage_rate, stage_burst, reserved_concurrency, mean_duration, memory_mb, batch_size,
                  batching_window, maximum_concurrency, shards, parallelization_factor, max_retry_attempts,
                  visibility_timeout, max_receive_count, order_bytes, poison, seed) -> dict:
    p = {}
    p["design"] = check_choice("design", design, DESIGNS)
    p["base_rate"] = check_number("base_rate", base_rate, 0, 1_000, why="orders per second before the sale")
    p["spike_multiplier"] = check_number("spike_multiplier", spike_multiplier, 1, 100,
                                         why="the sale's traffic as a multiple of base_rate")
    p["traffic_length"] = check_number("traffic_length", traffic_length, 0, MAX_HORIZON_S, lo_open=True,
                                       why="seconds during which orders arrive")
    p["horizon"] = check_number("horizon", horizon, p["traffic_length"], MAX_HORIZON_S,
                                why="the run stops here; at least traffic_length")
    p["spike_start"] = check_number("spike_start", spike_start, 0, p["traffic_length"], hi_open=True,
                                    why=f"the sale starts before traffic_length={p['traffic_length']:g} s")
    p["spike_length"] = check_number("spike_length", spike_length, 0, p["traffic_length"] - p["spike_start"],
                                     lo_open=True, why="the sale ends by traffic_length: at most "
                                                       "traffic_length - spike_start")
    expected = p["base_rate"] * (p["traffic_length"] + (p["spike_multiplier"] - 1) * p["spike_length"])
    if expected > MAX_ORDERS:
        raise ValueError(f"base_rate={p['base_rate']:g}, spike_multiplier={p['spike_multiplier']:g}, "
                         f"spike_length={p['spike_length']:g} and traffic_length={p['traffic_length']:g} give "
                         f"{expected:,.0f} expected orders: allowed {MAX_ORDERS:,} or less (the model's bound)")
    p["customers"] = check_int("customers", customers, 1, MAX_CUSTOMERS)
    p["stage_rate"] = check_number("stage_rate", stage_rate, 1, apigateway.ACCOUNT_RATE,
                                   why="the stage's method limit, requests per second; at most the account's")
    p["stage_burst"] = check_int("stage_burst", stage_burst, 1, apigateway.ACCOUNT_BURST,
                                 why="the stage's bucket; at most the account's burst")
    p["reserved_concurrency"] = check_int(
        "reserved_concurrency", reserved_concurrency, sqs.MIN_MAXIMUM_CONCURRENCY, MAX_RESERVED,
        why=f"the function's reservation; AWS keeps {MIN_UNRESERVED} of the default 1,000 unreserved, "
            f"and the model needs at least {sqs.MIN_MAXIMUM_CONCURRENCY}, MaximumConcurrency's minimum")
    p["mean_duration"] = check_number("mean_duration", mean_duration, 0.001, 10,
                                      why="seconds of Lambda work per order, well under a REST API's default 29 s integration timeout")
    p["memory_mb"] = check_int("memory_mb", memory_mb, MIN_MEMORY_MB, MAX_MEMORY_MB,
                               why="Lambda memory is 128 MB to 10,240 MB")
    p["batch_size"] = check_int("batch_size", batch_size, 1, kinesis.BATCH_SIZE_MAX,
                                why="BatchSize: 1 to 10,000 (SQS standard queues and Kinesis)")
    p["batching_window"] = check_number("batching_window", batching_window, 0, sqs.MAX_BATCHING_WINDOW_S,
                                        why="MaximumBatchingWindowInSeconds is 0 to 300")
    if maximum_concurrency is not None:
        maximum_concurrency = check_int("maximum_concurrency", maximum_concurrency, sqs.MIN_MAXIMUM_CONCURRENCY,
                                        sqs.MAX_MAXIMUM_CONCURRENCY,
                                        why="ScalingConfig MaximumConcurrency is 2 to 1,000; None: not set")
    p["maximum_concurrency"] = maximum_concurrency
    p["shards"] = check_int("shards", shards, 1, 100, why="the stream's shards; the model's bound")
    if parallelization_factor is None:
        pf = max(1, min(kinesis.PARALLELIZATION_MAX, p["reserved_concurrency"] // p["shards"]))
    else:
        pf = check_int("parallelization_factor", parallelization_factor, 1, kinesis.PARALLELIZATION_MAX,
                       why="ParallelizationFactor is 1 to 10; None: reserved_concurrency // shards")
    p["parallelization_factor"] = pf
    p["max_retry_attempts"] = check_int("max_retry_attempts", max_retry_attempts, 0, 100,
                                        why="MaximumRetryAttempts of the Kinesis mapping; the model's bound")
    p["visibility_timeout"] = check_number("visibility_timeout", visibility_timeout, 1, sqs.MAX_VISIBILITY_TIMEOUT_S,
                                           why="the queue's visibility timeout, s (up to 12 hours)")
    p["max_receive_count"] = check_int("max_receive_count", max_receive_count, 1, sqs.MAX_RECEIVE_COUNT,
                                       why="the redrive policy's maxReceiveCount is 1 to 1,000")
    p["order_bytes"] = check_int("order_bytes", order_bytes, 1, 262_144,
                                 why="an order's size in bytes, up to SNS's default message limit of 256 KiB")
    p["poison"] = check_number("poison", poison, 0, 1, why="the share of orders whose handler always fails")
    p["seed"] = check_int("seed", seed, 0, 2**63 - 1, why="a seed")
    return p


def simulate_pipeline(design: str = "sync", *, base_rate: float = 10.0, spike_multiplier: float = 10.0,
                      spike_start: float = 10.0, spike_length: float = 10.0, traffic_length: float = 40.0,
                      horizon: float = 70.0, customers: int = 200, stage_rate: float = 1_000.0,
                      stage_burst: int = 500, reserved_concurrency: int = 10, mean_duration: float = 0.2,
                      memory_mb: int = 512, batch_size: int = 10, batching_window: float = 0.0,
                      maximum_concurrency: int | None = None, shards: int = 2,
                      parallelization_factor: int | None = None, max_retry_attempts: int = 2,
                      visibility_timeout: float = 30.0, max_receive_count: int = 3, order_bytes: int = 1_024,
                      poison: float = 0.0, seed: int = 0) -> PipelineResult:
    """One flash sale through one design (``"sync"``, ``"queue"`` or ``"stream"``; see the module
    docstring for the stages, the AWS rules and the assumptions).

    Traffic: ``base_rate`` orders per second for ``traffic_length`` seconds, ``spike_multiplier``
    times that from ``spike_start`` for ``spike_length`` seconds; the run stops at ``horizon``.
    API Gateway: a stage limit of ``stage_rate`` per second with a bucket of ``stage_burst``, in
    front of the account's 10,000 per second (bucket 5,000). Lambda: ``reserved_concurrency``,
    ``mean_duration`` seconds per order, ``memory_mb`` (billing only). Queue: ``batch_size``,
    ``batching_window`` (raised to 1 s when ``batch_size`` is above 10, as AWS requires),
    ``maximum_concurrency`` (None: not set), ``visibility_timeout``, ``max_receive_count``.
    Stream: ``shards``, ``parallelization_factor`` (None: ``reserved_concurrency // shards``, 1 to
    10), ``batch_size``, ``batching_window``, ``max_retry_attempts``. ``poison``: the share of
    orders whose handler fails every time. Same inputs and seed, same result.
    """
    p = _check_params(design, base_rate, spike_multiplier, spike_start, spike_length, traffic_length, horizon,
                      customers, stage_rate, stage_burst, reserved_concurrency, mean_duration, memory_mb, batch_size,
                      batching_window, maximum_concurrency, shards, parallelization_factor, max_retry_attempts,
                      visibility_timeout, max_receive_count, order_bytes, poison, seed)
    H = p["horizon"]
    t, cust, combo, u = _orders(p["base_rate"], p["spike_multiplier"], p["spike_start"], p["spike_length"],
                                p["traffic_length"], p["customers"], p["seed"])
    bad = u < p["poison"]
    n = len(t)
    s_lam, s_fan = (int(x) for x in np.random.SeedSequence(p["seed"]).generate_state(2))

    # 1. API Gateway: the stage's bucket, then the account's.
    api = apigateway.simulate_throttling(t, stage=apigateway.Throttle(p["stage_rate"], p["stage_burst"]),
                                         horizon=H)
    passed = np.flatnonzero(api.passed)
    state = np.full(n, int(OrderState.REJECTED), np.int8)
    why = np.zeros(n, np.int8)
    done = api.departure.copy()                          # a 429 is final when API Gateway answers it
    # 2. The design's middle: Lambda behind the API, or a queue or stream in between.
    arr = api.departure[passed]
    if p["design"] == "sync":
        stage, st, wy, dn, bill = _sync_stage(arr, bad[passed], p, s_lam)
    elif p["design"] == "queue":
        stage, st, wy, dn, bill = _queue_stage(arr, bad[passed], p, s_lam)
    else:
        stage, st, wy, dn, bill = _stream_stage(arr, cust[passed], bad[passed], p)
    state[passed], why[passed], done[passed] = st, wy, dn
    # 3. Every processed order is published to the topic, which fans out to the three queues.
    proc = np.flatnonzero(state == OrderState.PROCESSED)
    delivery, queues, po, ps, pst, pdn, deliveries = _fan_out(proc, done[proc], combo, H, s_fan)

    sqs_requests = sum(q.requests for q in queues) + bill.get("SQS", {}).get("requests", 0)
    billing = {"API Gateway": {"API calls received": n},
               "Lambda": bill["Lambda"],
               "SQS": {"requests": int(sqs_requests)},
               "Kinesis": bill.get("Kinesis", {"shard-hours": 0.0, "PUT payload units": 0}),
               "SNS": {"publishes (requests)": len(proc), "notification deliveries": deliveries}}
    return PipelineResult(p["design"], t, cust, combo, bad, state, why, done, po, ps, pst, pdn, api, stage, delivery,
                          queues, billing, H, p)


def compare(*, base_rate: float = 10.0, spike_multiplier: float = 10.0, spike_length: float = 10.0,
            reserved_concurrency: int = 10, shards: int = 2, seed: int = 0) -> dict:
    """The three designs on the same orders (the same seed), with the other settings at their
    defaults: ``{design: PipelineResult}``."""
    return {d: simulate_pipeline(d, base_rate=base_rate, spike_multiplier=spike_multiplier, spike_length=spike_length,
                                 reserved_concurrency=reserved_concurrency, shards=shards, seed=seed)
            for d in DESIGNS}
