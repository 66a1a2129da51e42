"""At-least-once delivery and an idempotent handler: counting duplicated side effects.

The model
---------
``events`` unique events (say, orders) arrive over ``[0, arrival_horizon)`` (Poisson). Delivery
is at least once: with probability ``duplicate_prob`` an event is delivered one more time,
``D`` seconds after the first delivery, where ``D`` is drawn from ``delay_kind``
(``"exponential"`` with mean ``delay_mean``, or ``"fixed"`` = ``delay_mean``). Lambda's async
queue (``labsim.lambda_async``), SQS standard queues and event source mappings all deliver at
least once.

The handler charges a card on every delivery it processes:

* **without a store** every delivery charges;
* **with an idempotency-key store** (say, a DynamoDB table keyed by the event ID with a TTL),
  a delivery first looks up the key. If a key written at ``t_k`` is still valid
  (``t < t_k + ttl``) the delivery is skipped; otherwise it charges and writes the key at ``t``.
  The *handler* compares the stored expiry with the time: DynamoDB's TTL deletes expired items
  in the background, some time after they expire, and reads return them until then
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html), so
  "the item is still there" does not mean "the key is still valid".

When the charge itself can fail, *when* the key is written matters (:func:`simulate_key_writes`):
writing it before charging turns a failed charge into a silently lost one (the retry finds the
key and skips); a conditional write of an "in progress" record with a short expiry (longer than
the function's timeout), turned into "completed" after the charge, lets the retry charge once the
failed run's record has lapsed. The handler passes the same key to the payment API, which
deduplicates: a charge that timed out but went through is not charged again by the retry.

Books: ``deliveries = charges + skipped`` and ``charges = unique events charged + duplicated
charges``. Closed forms (for the generated workload): the expected duplicate deliveries are
``n q``; without the store every one of them is a duplicated charge; with the store only those
arriving after the key expired are, ``n q P(D >= ttl)`` (``exp(-ttl / m)`` for exponential
delays, ``1`` or ``0`` for a fixed delay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import traffic
from .validation import check_array, check_bool, check_choice, check_int, check_number

DELAY_KINDS = ("exponential", "fixed")
#: Simulation bound on the number of unique events (the handler runs event by event in Python:
#: 200,000 events take about a second).
MAX_EVENTS = 200_000


@dataclass(frozen=True)
class Charges:
    """What a handler did with a stream of deliveries (arrays in delivery-time order)."""

    event: np.ndarray      #: event ID of each delivery
    time: np.ndarray       #: delivery time, s
    charged: np.ndarray    #: True where the delivery charged the card
    duplicate: np.ndarray  #: True where the delivery is not the event's first
    store: bool
    ttl: float

    @property
    def deliveries(self) -> int:
        return len(self.event)

    @property
    def unique_events(self) -> int:
        return int(len(np.unique(self.event)))

    @property
    def charges(self) -> int:
        return int(self.charged.sum())

    @property
    def duplicated_charges(self) -> int:
        """Charges beyond the first for each event: the customer paid twice (or more)."""
        return self.charges - int(len(np.unique(self.event[self.charged])))

    @property
    def skipped(self) -> int:
        return self.deliveries - self.charges

    def books(self) -> dict:
        """``deliveries == charges + skipped`` and ``charges == unique_charged + duplicated_charges``."""
        return {"deliveries": self.deliveries, "duplicate_deliveries": int(self.duplicate.sum()),
                "charges": self.charges, "skipped": self.skipped,
                "unique_charged": int(len(np.unique(self.event[self.charged]))),
                "duplicated_charges": self.duplicated_charges}

    def cumulative_charges(self, grid) -> np.ndarray:
        """Charges made by each time of ``grid``."""
        return np.searchsorted(self.time[self.charged], np.asarray(grid, float), side="right")


def charges_from_deliveries(event, time, *, store: bool, ttl: float = 3_600.0) -> Charges:
    """Run the card-charging handler over deliveries ``(event ID, time)`` (any order).

    With ``store=True``, a delivery is skipped while the event's key is valid: the key is
    written when a delivery charges and is valid on ``[t, t + ttl)``.
    """
    ttl = check_number("ttl", ttl, 0, lo_open=True)
    store = check_bool("store", store)
    ev = np.asarray(event) if not isinstance(event, (str, bytes)) else np.asarray(None)
    if ev.ndim != 1 or ev.dtype.kind not in "iuU" and not (ev.dtype.kind == "f" and np.isfinite(ev).all()):
        raise ValueError(f"event must be a 1-D array of event IDs (whole numbers or strings), got {event!r:.80}")
    t = check_array("time", time, None, sorted_=False)
    if ev.shape != t.shape:
        raise ValueError(f"event and time must be 1-D of equal length, got {ev.shape} and {t.shape}")
    order = np.lexsort((t, ev))                     # by event, then time
    ev_s, t_s = ev[order], t[order]
    first = np.ones(len(ev_s), bool)
    first[1:] = ev_s[1:] != ev_s[:-1]
    charged_s = np.ones(len(ev_s), bool)
    if store:
        key_until = -math.inf
        evl, tl = ev_s.tolist(), t_s.tolist()
        for k in range(len(evl)):
            if first[k]:
                key_until = -math.inf
            if tl[k] < key_until:
                charged_s[k] = False
            else:
                key_until = tl[k] + ttl
    back = np.argsort(t[order], kind="stable")      # deliveries in time order
    return Charges(ev_s[back], t_s[back], charged_s[back], ~first[back], bool(store), ttl)


@dataclass(frozen=True)
class IdempotencyResult:
    """One workload delivered at least once, handled without and with a key store."""

    arrival: np.ndarray      #: first delivery of each unique event, s
    delay: np.ndarray        #: delay of the event's duplicate delivery (NaN: delivered once), s
    without_store: Charges
    with_store: Charges
    params: dict = field(default_factory=dict)

    @property
    def events(self) -> int:
        return len(self.arrival)

    @property
    def duplicate_deliveries(self) -> int:
        return int(np.isfinite(self.delay).sum())

    def expected_duplicates(self) -> float:
        """n q: expected duplicate deliveries (= duplicated charges without a store)."""
        return self.events * self.params["duplicate_prob"]

    def expected_duplicated_charges_with_store(self) -> float:
        """n q P(D >= ttl): duplicates that arrive after the key expired."""
        return self.expected_duplicates() * p_after_ttl(self.params["delay_kind"],
                                                         self.params["delay_mean"], self.params["ttl"])


def p_after_ttl(delay_kind: str, delay_mean: float, ttl: float) -> float:
    """P(D >= ttl) for the redelivery delay D."""
    check_choice("delay_kind", delay_kind, DELAY_KINDS)
    delay_mean = check_number("delay_mean", delay_mean, 0, lo_open=True)
    ttl = check_number("ttl", ttl, 0)
    if delay_kind == "exponential":
        return math.exp(-ttl / delay_mean)
    return 1.0 if delay_mean >= ttl else 0.0


def simulate_idempotency(events: int = 1_000, *, duplicate_prob: float = 0.1, delay_kind: str = "exponential",
                         delay_mean: float = 600.0, ttl: float = 3_600.0,
                         arrival_horizon: float = 3_600.0, seed: int = 0) -> IdempotencyResult:
    """Deliver ``events`` unique events at least once; charge without and with a key store."""
    n = check_int("events", events, 0, MAX_EVENTS)
    q = check_number("duplicate_prob", duplicate_prob, 0, 1)
    check_choice("delay_kind", delay_kind, DELAY_KINDS)
    m = check_number("delay_mean", delay_mean, 0, 14 * 86_400, lo_open=True)
    ttl = check_number("ttl", ttl, 0, 366 * 86_400, lo_open=True)
    ah = check_number("arrival_horizon", arrival_horizon, 0, 366 * 86_400, lo_open=True)
    rng = traffic.make_rng(seed)
    arrival = np.sort(rng.uniform(0.0, ah, n))        # n events, uniform order statistics = Poisson given n
    dup = rng.random(n) < q
    d = rng.exponential(m, n) if delay_kind == "exponential" else np.full(n, m)
    delay = np.where(dup, d, np.nan)
    ids = np.arange(n)
    ev = np.concatenate([ids, ids[dup]])
    t = np.concatenate([arrival, arrival[dup] + d[dup]])
    params = dict(events=n, duplicate_prob=q, delay_kind=delay_kind, delay_mean=m, ttl=ttl,
                  arrival_horizon=ah, seed=seed)
    return IdempotencyResult(arrival, delay, charges_from_deliveries(ev, t, store=False, ttl=ttl),
                             charges_from_deliveries(ev, t, store=True, ttl=ttl), params)


# --- when the key is written: failed charges and the retries that follow ---------------------------
KEY_WRITES = ("before_charge", "conditional")
#: Final state of an event in :func:`simulate_key_writes`.
CHARGED_ONCE, LOST_SILENTLY, FAILED_VISIBLY = range(3)
KEY_WRITE_OUTCOMES = ("charged once", "never charged, reported success",
                      "never charged, retries exhausted (to the failure destination)")


@dataclass(frozen=True)
class KeyWriteResult:
    """Per-event final states (``outcome``), charges and handler runs for one key-write rule."""

    outcome: np.ndarray      #: CHARGED_ONCE, LOST_SILENTLY or FAILED_VISIBLY
    charges: np.ndarray      #: successful charges of each event
    runs: np.ndarray         #: handler runs of each event (first delivery, retries, duplicates)
    key_write: str
    params: dict = field(default_factory=dict)

    def books(self) -> dict:
        """Every event in exactly one final state:
        ``events == charged_once + lost_silently + failed_visibly``."""
        d = {"events": len(self.outcome)}
        for k, name in enumerate(("charged_once", "lost_silently", "failed_visibly")):
            d[name] = int((self.outcome == k).sum())
        return d


def simulate_key_writes(events: int = 1_000, *, charge_fail_prob: float = 0.1, key_write: str = "conditional",
                        max_retry_attempts: int = 2, ttl: float = 3_600.0, seed: int = 0) -> KeyWriteResult:
    """Events delivered once to a handler whose card charge fails with ``charge_fail_prob``;
    a failed run is retried by Lambda's async queue (up to ``max_retry_attempts`` times, 60 s and
    120 s later: ``labsim.lambda_async``).

    ``key_write="before_charge"``: the handler writes the key, then charges. A failed charge
    leaves the key behind; the retry finds it and returns success without charging: the event is
    *lost silently*. Expected share: ``p`` (the first charge fails).

    ``key_write="conditional"``: a conditional write creates an "in progress" record only if no
    valid record exists, the charge runs (with the key passed to the payment API, which
    deduplicates), and the record becomes "completed" (valid for ``ttl``). A failed run leaves its
    "in progress" record, whose expiry (longer than the function's timeout, assumed under a minute)
    has passed when the retry comes 60 s later, so the retry charges. An event is lost only visibly,
    when all ``r + 1`` runs fail: ``p^(r+1)``, and then it reaches the failure destination.
    Retries come within ``ttl`` here (seconds apart, TTL an hour), so a key never expires between
    runs of one event.
    """
    from .lambda_async import MAX_RETRY_ATTEMPTS, RETRY_DELAYS_S
    n = check_int("events", events, 0, MAX_EVENTS)
    p = check_number("charge_fail_prob", charge_fail_prob, 0, 1)
    check_choice("key_write", key_write, KEY_WRITES)
    r = check_int("max_retry_attempts", max_retry_attempts, 0, MAX_RETRY_ATTEMPTS,
                  why="AWS allows MaximumRetryAttempts 0 to 2")
    ttl = check_number("ttl", ttl, sum(RETRY_DELAYS_S), 366 * 86_400, lo_open=True,
                       why="longer than the retries of one event, as the model assumes")
    rng = traffic.make_rng(seed)
    fails = rng.random((n, r + 1)) < p             # would the charge fail on run k?
    outcome = np.empty(n, np.int8)
    charges = np.zeros(n, int)
    runs = np.zeros(n, int)
    for i in range(n):
        key = None                                # None, "in_progress" (written before), "completed"
        for k in range(r + 1):
            runs[i] += 1
            if key is not None:                   # a valid key: skip, report success
                outcome[i] = CHARGED_ONCE if charges[i] else LOST_SILENTLY
                break
            key = "in_progress"
            if not fails[i, k]:
                charges[i] += 1
                key = "completed"
                outcome[i] = CHARGED_ONCE
                break
            if key_write == "conditional":
                key = None                        # the failed run's "in progress" record has expired by the retry
        else:
            outcome[i] = FAILED_VISIBLY
    params = dict(events=n, charge_fail_prob=p, key_write=key_write, max_retry_attempts=r, ttl=ttl, seed=seed)
    return KeyWriteResult(outcome, charges, runs, key_write, params)
