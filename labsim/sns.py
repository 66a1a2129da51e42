"""Amazon SNS: topics, subscriptions, fan-out, filter policies and delivery retries.

Arrays in, arrays out: a topic takes publish times (and one attribute dict per message); a
delivery model returns, per message and subscription, its fate and the time it left SNS (the
arrival time of the next stage: an SQS subscription feeds :func:`labsim.sqs.simulate_queue`).

* **Push pub/sub** (https://docs.aws.amazon.com/sns/latest/dg/welcome.html): a publish to a topic
  becomes one delivery to each subscription whose filter policy matches (all of them, without a
  policy). Subscriptions: SQS, Lambda, HTTP/S, email, SMS (and more). SNS pushes; nothing polls.
* **Filter policies** (:func:`matches`, :func:`check_policy`): the AWS semantics of
  https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html: scope
  ``MessageAttributes`` (the default; flat policies) or ``MessageBody`` (nested JSON); every key of
  the policy must match (AND), and one of a key's values is enough (OR); exact strings and numbers,
  ``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but`` (a list, or a prefix),
  ``numeric`` comparisons and ranges, ``exists``. Limits
  (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html): at
  most 5 keys and 150 value combinations (the product of the lengths of the value arrays);
  numbers between -10^9 and 10^9. A policy over a limit raises a ``ValueError`` that names it.
* **Delivery retries** (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html):
  four phases after the first attempt: immediate (no delay), pre-backoff (the minimum delay),
  backoff (from the minimum to the maximum delay along a backoff function: linear, arithmetic,
  geometric or exponential) and post-backoff (the maximum delay). AWS-managed endpoints (SQS,
  Lambda): 3 + 2 (1 s apart) + 10 (backoff 1 s to 20 s) + 100,000 (20 s apart) = 100,015, over
  23 days: AWS's table calls these 100,015 "attempts"; the page says the immediate phase comes
  after the initial delivery attempt, so the model counts them as retries after a first attempt.
  HTTP/S default: 3 retries 20 s apart; a custom HTTP/S policy may take at most 3,600 s in all.
  When the policy is exhausted the message goes to the subscription's dead-letter queue if it has
  one, otherwise it is discarded (lost).

Labelled assumptions (AWS does not document these)
--------------------------------------------------
* **The backoff curve.** AWS names the function but not every delay inside the phase. The model:
  with k backoff retries and x = i / (k - 1) for retry i = 0 .. k - 1, ``linear`` goes
  min + (max - min) x; ``arithmetic`` min + (max - min) x^2 (increments that grow by a fixed
  step); ``geometric`` min (max / min)^x; ``exponential`` min 2^i capped at max, which is
  :class:`labsim.retry.RetryPolicy` with the ``exponential`` strategy (base = min, cap = max).
* **No jitter.** AWS applies jitter to delivery retries; the model's delays are the curve's.
* **A delivery takes no time** and succeeds whenever the endpoint is up; an endpoint is down
  during given windows (every attempt in a window fails).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import IntEnum
from numbers import Real

import numpy as np

from .retry import RetryPolicy
from .validation import check_array, check_bool, check_choice, check_int, check_number, check_window

_SNS = "https://docs.aws.amazon.com/sns/latest/dg/"
#: Filter policy limits: 5 keys, 150 combinations, numbers within +-10^9.
#: {_SNS}subscription-filter-policy-constraints.html
MAX_POLICY_KEYS = 5
MAX_POLICY_COMBINATIONS = 150
MAX_NUMERIC = 1e9
SCOPES = ("MessageAttributes", "MessageBody")
#: Message size: 256 KiB by default, up to 1 MiB with the topic's MaximumMessageSize attribute.
#: {_SNS}large-message-payloads.html
DEFAULT_MAX_MESSAGE_BYTES = 262_144
MAX_MESSAGE_BYTES = 1_048_576
#: FIFO topics can archive messages and replay them, for up to 365 days; standard topics keep no
#: archive. {_SNS}fifo-message-archiving-replay.html
FIFO_ARCHIVE_MAX_DAYS = 365
#: Delivery retries: {_SNS}sns-message-delivery-retries.html
HTTP_MAX_POLICY_SECONDS = 3_600
BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
PROTOCOLS = ("sqs", "lambda", "http", "https", "email", "sms")
#: The model's bound on a custom policy's retries: 3,600 s of retries at least 1 s apart.
MAX_HTTP_RETRIES = 3_600
#: The model's bounds for an AWS-managed policy (AWS's is 100,015 retries, 20 s at most apart).
MAX_MANAGED_RETRIES = 200_000
MAX_MANAGED_DELAY_S = 86_400


def _fmt_s(x: float) -> str:
    return f"{x:,.0f} s" if float(x).is_integer() else f"{x:g} s"


# --- filter policies -------------------------------------------------------------------------------
def _leaves(policy: dict, scope: str, path=()):
    """(path, values) of every key whose value is an array of conditions."""
    if not isinstance(policy, dict) or not policy:
        raise ValueError(f"a filter policy must be a non-empty JSON object, got {policy!r:.80}")
    out = []
    for k, v in policy.items():
        if isinstance(v, dict):
            if scope == "MessageAttributes":
                raise ValueError(f"filter policy key {k!r}: nested policies are allowed only with the "
                                 "MessageBody scope (MessageAttributes policies are flat)")
            out += _leaves(v, scope, path + (k,))
        elif isinstance(v, list) and v:
            out.append((path + (k,), v))
        else:
            raise ValueError(f"filter policy key {k!r} must hold a non-empty array of values, got {v!r:.80}")
    return out


def _check_condition(key, c):
    if c is None or isinstance(c, (str, bool)):
        return
    if isinstance(c, Real):
        check_number(f"filter policy {key!r} number", c, -MAX_NUMERIC, MAX_NUMERIC,
                     why="SNS matches numbers from -10^9 to 10^9")
        return
    if not isinstance(c, dict) or len(c) != 1:
        raise ValueError(f"filter policy {key!r}: a condition is a string, a number or a one-key object, got {c!r:.80}")
    op, arg = next(iter(c.items()))
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(arg, str):
            raise ValueError(f"filter policy {key!r}: {op} takes a string, got {arg!r:.80}")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise ValueError(f"filter policy {key!r}: exists takes true or false, got {arg!r:.80}")
    elif op == "anything-but":
        vals = arg if isinstance(arg, list) else [arg]
        for v in vals:
            if isinstance(v, dict):
                if set(v) != {"prefix"} and set(v) != {"suffix"}:
                    raise ValueError(f"filter policy {key!r}: anything-but takes values or one prefix/suffix")
            else:
                _check_condition(key, v)
    elif op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise ValueError(f"filter policy {key!r}: numeric takes [op, value] or [op, value, op, value]")
        for o, v in zip(arg[::2], arg[1::2]):
            check_choice(f"filter policy {key!r} numeric operator", o, ("=", "<", "<=", ">", ">="))
            _check_condition(key, v)
    else:
        raise ValueError(f"filter policy {key!r}: unknown operator {op!r}: choose one of prefix, suffix, "
                         "equals-ignore-case, anything-but, numeric, exists")


def check_policy(policy: dict, scope: str = "MessageAttributes") -> dict:
    """Validate a filter policy against the AWS limits; return it. ``ValueError`` names the limit."""
    check_choice("scope", scope, SCOPES)
    leaves = _leaves(policy, scope)
    if len(leaves) > MAX_POLICY_KEYS:
        raise ValueError(f"filter policy has {len(leaves)} keys: the limit is {MAX_POLICY_KEYS} keys "
                         "(subscription-filter-policy-constraints)")
    combos = math.prod(len(v) for _, v in leaves)
    if combos > MAX_POLICY_COMBINATIONS:
        raise ValueError(f"filter policy has {combos:,} value combinations: the limit is "
                         f"{MAX_POLICY_COMBINATIONS} combinations (the product of the number of values per key)")
    for path, vals in leaves:
        for c in vals:
            _check_condition(".".join(path), c)
    return policy


def combinations(policy: dict, scope: str = "MessageAttributes") -> int:
    """The policy's total combination of values: the product of its arrays' lengths."""
    check_choice("scope", scope, SCOPES)
    return math.prod(len(v) for _, v in _leaves(policy, scope))


def _attr_values(name, a):
    """A message attribute (``{"Type": ..., "Value": ...}`` or a plain value) as a list of values."""
    if isinstance(a, dict) and "Type" in a:
        typ, val = a["Type"], a.get("Value")
        if not isinstance(typ, str) or typ.split(".")[0] not in ("String", "Number", "Binary"):
            raise ValueError(f"message attribute {name!r}: Type must be String, Number or Binary (or one of "
                             f"their .Array forms), got {typ!r:.80}")
        try:
            if typ.endswith(".Array"):
                vals = json.loads(val) if isinstance(val, str) else list(val)
            else:
                vals = [val]
            if typ.startswith("Number"):
                return [float(v) if not isinstance(v, bool) and v is not None else v for v in vals]
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"message attribute {name!r}: Value {val!r:.80} is not a {typ}") from None
        if typ.startswith("Binary"):
            return []                              # SNS compares String and Number types only
        return vals
    return list(a) if isinstance(a, list) else [a]


def _num(v):
    return isinstance(v, Real) and not isinstance(v, bool)


def _numeric_ok(v, spec):
    if not _num(v):
        return False
    for o, x in zip(spec[::2], spec[1::2]):
        ok = {"=": v == x, "<": v < x, "<=": v <= x, ">": v > x, ">=": v >= x}[o]
        if not ok:
            return False
    return True


def _one(v, c) -> bool:
    """Does the single value ``v`` match the condition ``c``?"""
    if isinstance(c, dict):
        op, arg = next(iter(c.items()))
        if op == "prefix":
            return isinstance(v, str) and v.startswith(arg)
        if op == "suffix":
            return isinstance(v, str) and v.endswith(arg)
        if op == "equals-ignore-case":
            return isinstance(v, str) and v.lower() == arg.lower()
        if op == "numeric":
            return _numeric_ok(v, arg)
        if op == "anything-but":
            vals = arg if isinstance(arg, list) else [arg]
            return not any(_one(v, x) for x in vals)
        return False
    if c is None:
        return v is None
    if _num(c):
        return _num(v) and float(v) == float(c)
    return isinstance(v, str) and v == c


def _key_ok(present: bool, values, conds) -> bool:
    for c in conds:
        if isinstance(c, dict) and "exists" in c:
            if c["exists"] == (present and any(v is not None and v != "" for v in values)):
                return True
        elif present and any(_one(v, c) for v in values):
            return True
    return False


def matches(policy: dict | None, message: dict, scope: str = "MessageAttributes") -> bool:
    """Does a message pass a subscription's filter policy (``None``: no policy, everything does)?

    ``message``: with the ``MessageAttributes`` scope, the attributes by name, each
    ``{"Type": "String" | "String.Array" | "Number" | "Number.Array", "Value": ...}`` or a plain
    value; with ``MessageBody``, the parsed JSON body (a dict, possibly nested).
    """
    check_choice("scope", scope, SCOPES)
    if not isinstance(message, dict):
        raise ValueError(f"message must be a dict ({'attributes by name' if scope == 'MessageAttributes' else 'the parsed JSON body'}), "
                         f"got {message!r:.80}")
    if policy is None:
        return True
    check_policy(policy, scope)
    return _matches(_leaves(policy, scope), message, scope)


def _matches(leaves, message: dict, scope: str) -> bool:
    """:func:`matches` for a checked policy's leaves."""
    if not message:                      # "exists": false needs at least one attribute
        return False
    for path, conds in leaves:
        node, present = message, True
        for k in path:
            if isinstance(node, dict) and k in node:
                node = node[k]
            else:
                present = False
                break
        if present:
            values = _attr_values(path[0], node) if scope == "MessageAttributes" else (
                list(node) if isinstance(node, list) else [node])
            if scope == "MessageBody" and isinstance(node, dict):
                present, values = False, []          # exists works on leaves only
        else:
            values = []
        if not _key_ok(present, values, conds):
            return False
    return True


# --- topics and subscriptions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Subscription:
    """One subscription: its protocol, optional filter policy (checked) and whether it has a DLQ."""

    name: str
    protocol: str = "sqs"
    filter_policy: dict | None = None
    scope: str = "MessageAttributes"
    dlq: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r:.80} is not allowed: a subscription's name is a non-empty string")
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_choice("scope", self.scope, SCOPES)
        if self.filter_policy is not None:
            try:
                check_policy(self.filter_policy, self.scope)
            except ValueError as e:
                raise ValueError(f"filter_policy of subscription {self.name!r}: {e}") from None
        object.__setattr__(self, "dlq", check_bool("dlq", self.dlq))

    def accepts(self, message: dict) -> bool:
        if not isinstance(message, dict):
            raise ValueError(f"message must be a dict, got {message!r:.80}")
        if self.filter_policy is None:
            return True
        return _matches(_leaves(self.filter_policy, self.scope), message, self.scope)


def fan_out(subscriptions, messages) -> np.ndarray:
    """Which subscription gets which message: a (messages, subscriptions) boolean matrix.

    One publish becomes one delivery per matching subscription; a row of ``False`` is a message
    no subscription matched (SNS accepted it and delivered it nowhere).
    """
    subs = _check_subscriptions(subscriptions)
    msgs = _check_messages(messages)
    out = np.zeros((len(msgs), len(subs)), bool)
    for j, s in enumerate(subs):
        if s.filter_policy is None:
            out[:, j] = True
        else:
            leaves = _leaves(s.filter_policy, s.scope)
            out[:, j] = [_matches(leaves, m, s.scope) for m in msgs]
    return out


def _check_subscriptions(subscriptions) -> tuple:
    if isinstance(subscriptions, Subscription):
        subscriptions = [subscriptions]
    if isinstance(subscriptions, (str, bytes, dict)) or not isinstance(subscriptions, (list, tuple)):
        raise ValueError(f"subscriptions must be a list of Subscription, got {subscriptions!r:.80}")
    for s in subscriptions:
        if not isinstance(s, Subscription):
            raise ValueError(f"subscriptions must be a list of Subscription, got an element {s!r:.80}")
    return tuple(subscriptions)


def _check_messages(messages) -> list:
    if not isinstance(messages, (list, tuple)):
        raise ValueError(f"messages must be a list of dicts (one per message), got {messages!r:.80}")
    for m in messages:
        if not isinstance(m, dict):
            raise ValueError(f"messages must be a list of dicts (one per message), got an element {m!r:.80}")
    return list(messages)


def check_message_size(size: int, maximum_message_size: int = DEFAULT_MAX_MESSAGE_BYTES) -> int:
    """A message's size (bytes) against the topic's MaximumMessageSize (256 KiB default, up to 1 MiB)."""
    maximum = check_int("maximum_message_size", maximum_message_size, 1_024, MAX_MESSAGE_BYTES,
                        why="MaximumMessageSize is 1 KiB to 1 MiB")
    return check_int("size", size, 0, maximum, why=f"the topic's MaximumMessageSize is {maximum:,} bytes")


# --- delivery policies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryPolicy:
    """A delivery (retry) policy: ``num_retries`` after the first attempt, split into the four phases.

    Immediate (``num_no_delay_retries``, no delay), pre-backoff (``num_min_delay_retries``, ``min_delay``
    apart), backoff (the rest, from ``min_delay`` to ``max_delay`` along ``backoff_function``) and
    post-backoff (``num_max_delay_retries``, ``max_delay`` apart). ``managed``: an AWS-managed
    endpoint's fixed policy (no 3,600 s limit); otherwise an HTTP/S policy, checked against it.
    """

    num_retries: int = 3
    min_delay: float = 20.0
    max_delay: float = 20.0
    num_no_delay_retries: int = 0
    num_min_delay_retries: int = 0
    num_max_delay_retries: int = 0
    backoff_function: str = "linear"
    managed: bool = False

    def __post_init__(self):
        managed = check_bool("managed", self.managed)
        hi = MAX_MANAGED_RETRIES if managed else MAX_HTTP_RETRIES
        n = check_int("num_retries", self.num_retries, 0, hi,
                      why="a bound of the model" if managed else "retries at least 1 s apart, within the 3,600 s limit")
        top = MAX_MANAGED_DELAY_S if managed else HTTP_MAX_POLICY_SECONDS
        lo = check_number("min_delay", self.min_delay, 1, top, why="minDelayTarget is at least 1 s")
        hi_d = check_number("max_delay", self.max_delay, lo, top,
                            why=f"maxDelayTarget is at least minDelayTarget: min_delay={_fmt_s(lo)}")
        a = check_int("num_no_delay_retries", self.num_no_delay_retries, 0, n,
                      why="the phases add up to at most num_retries")
        b = check_int("num_min_delay_retries", self.num_min_delay_retries, 0, n - a,
                      why="the phases add up to at most num_retries")
        c = check_int("num_max_delay_retries", self.num_max_delay_retries, 0, n - a - b,
                      why="the phases add up to at most num_retries")
        f = check_choice("backoff_function", self.backoff_function, BACKOFF_FUNCTIONS)
        # store the checked values (a numpy number or a bool counts as what it stands for)
        for k, v in (("managed", managed), ("num_retries", n), ("num_no_delay_retries", a),
                     ("num_min_delay_retries", b), ("num_max_delay_retries", c), ("backoff_function", f),
                     ("min_delay", lo), ("max_delay", hi_d)):
            object.__setattr__(self, k, v)
        if not managed and self.total_seconds > HTTP_MAX_POLICY_SECONDS + 1e-9:
            raise ValueError(f"the delivery policy (num_retries={n:,}, min_delay={_fmt_s(lo)}, max_delay="
                             f"{_fmt_s(hi_d)}, backoff_function={f!r}, num_no_delay_retries={a:,}, "
                             f"num_min_delay_retries={b:,}, num_max_delay_retries={c:,}) takes "
                             f"{self.total_seconds:,.0f} s in all: the limit is {HTTP_MAX_POLICY_SECONDS:,} s for "
                             "an HTTP/S endpoint (a hard limit)")

    @property
    def phases(self) -> dict:
        """Retries per phase, in order."""
        back = self.num_retries - self.num_no_delay_retries - self.num_min_delay_retries - self.num_max_delay_retries
        return {"immediate": self.num_no_delay_retries, "pre-backoff": self.num_min_delay_retries,
                "backoff": back, "post-backoff": self.num_max_delay_retries}

    def backoff_delays(self, k: int) -> np.ndarray:
        """The k delays of the backoff phase (the model's curve: an assumption, module docstring)."""
        lo, hi, f = float(self.min_delay), float(self.max_delay), self.backoff_function
        if k <= 0:
            return np.empty(0)
        if f == "exponential":
            return RetryPolicy("exponential", base=lo, cap=hi, max_attempts=2).delay(np.arange(k))
        x = np.arange(k) / (k - 1) if k > 1 else np.zeros(1)
        if f == "linear":
            return lo + (hi - lo) * x
        if f == "arithmetic":
            return lo + (hi - lo) * x ** 2
        return lo * (hi / lo) ** x                                 # geometric

    def delays(self) -> np.ndarray:
        """The wait before each retry, phase after phase (``num_retries`` values)."""
        p = self.phases
        return np.concatenate([np.zeros(p["immediate"]), np.full(p["pre-backoff"], float(self.min_delay)),
                               self.backoff_delays(p["backoff"]), np.full(p["post-backoff"], float(self.max_delay))])

    def phase_of_retry(self) -> np.ndarray:
        """The phase (0 immediate .. 3 post-backoff) of each retry."""
        return np.repeat(np.arange(4), list(self.phases.values()))

    @property
    def total_seconds(self) -> float:
        """From the first attempt to the last retry."""
        return float(self.delays().sum())

    @property
    def attempts(self) -> int:
        """Deliveries a message gets at most: the first attempt and every retry."""
        return 1 + self.num_retries


#: AWS-managed endpoints (SQS, Lambda): 3 immediate, 2 at 1 s, 10 exponential 1-20 s, 100,000 at 20 s.
AWS_MANAGED = DeliveryPolicy(num_retries=100_015, min_delay=1.0, max_delay=20.0, num_no_delay_retries=3,
                             num_min_delay_retries=2, num_max_delay_retries=100_000,
                             backoff_function="exponential", managed=True)
#: HTTP/S default: 3 retries, 20 s apart (linear from 20 s to 20 s).
HTTP_DEFAULT = DeliveryPolicy()


def http_policy(num_retries: int, min_delay: float, max_delay: float | None = None, backoff_function="linear",
                num_no_delay_retries=0, num_min_delay_retries=0, num_max_delay_retries=0) -> DeliveryPolicy:
    """A custom HTTP/S delivery policy (checked against the 3,600 s limit)."""
    return DeliveryPolicy(num_retries, min_delay, min_delay if max_delay is None else max_delay,
                          num_no_delay_retries, num_min_delay_retries, num_max_delay_retries, backoff_function)


# --- delivery to one endpoint ------------------------------------------------------------------------
class Fate(IntEnum):
    """Where one delivery (one message to one subscription) ended."""
    DELIVERED = 0        #: delivered at the first attempt
    DELIVERED_LATE = 1   #: delivered by a retry
    DLQ = 2              #: retries exhausted, moved to the subscription's dead-letter queue
    LOST = 3             #: retries exhausted, no DLQ: discarded
    PENDING = 4          #: still being retried at the horizon


FATE_NAMES = {Fate.DELIVERED: "delivered", Fate.DELIVERED_LATE: "delivered late", Fate.DLQ: "DLQ",
              Fate.LOST: "lost", Fate.PENDING: "pending"}
FATE_ROLES = {Fate.DELIVERED: "processed", Fate.DELIVERED_LATE: "expired", Fate.DLQ: "dlq", Fate.LOST: "lost",
              Fate.PENDING: "pending"}


@dataclass(frozen=True)
class DeliveryResult:
    """Per message: publish time, attempts made, fate and when it left SNS (delivered or given up)."""

    publish: np.ndarray
    attempts: np.ndarray      #: delivery attempts made by the horizon (first one included)
    fate: np.ndarray          #: :class:`Fate`
    departure: np.ndarray     #: delivered / moved to the DLQ / dropped at (inf: pending), s
    offsets: np.ndarray       #: the policy's attempt times after publish (0 first)
    horizon: float
    params: dict = field(default_factory=dict)

    def count(self, fate) -> int:
        return int(np.count_nonzero(self.fate == int(fate)))

    def books(self) -> dict:
        out = {"published": len(self.publish)}
        out.update({FATE_NAMES[f].replace(" ", "_").lower(): self.count(f) for f in Fate})
        return out

    @property
    def delivered(self) -> np.ndarray:
        return self.fate <= Fate.DELIVERED_LATE

    def attempt_times(self) -> np.ndarray:
        """Every attempt's time (sorted by message, then attempt)."""
        k = self.attempts
        if not len(k):
            return np.empty(0)
        idx = np.repeat(np.arange(len(k)), k)
        start = np.cumsum(k) - k
        j = np.arange(k.sum()) - np.repeat(start, k)
        return self.publish[idx] + self.offsets[j]


def _check_windows(down):
    out = []
    if down is not None and (isinstance(down, (str, bytes, dict)) or not np.iterable(down)):
        raise ValueError(f"endpoint_down must be a list of pairs (t0, t1), got {down!r:.80}")
    for k, w in enumerate([] if down is None else list(down)):
        out.append(check_window(f"endpoint_down[{k}]", w))
    out.sort()
    for (a0, b0), (a1, b1) in zip(out, out[1:]):
        if a1 < b0:
            raise ValueError("endpoint_down windows must not overlap")
    return out


def simulate_delivery(publish, *, policy: DeliveryPolicy = HTTP_DEFAULT, endpoint_down=None, dlq: bool = False,
                      horizon: float | None = None) -> DeliveryResult:
    """Deliveries of messages published at ``publish`` to one endpoint that is down during the
    ``endpoint_down`` windows ``[(t0, t1), ...]`` (an attempt at t fails when t0 <= t < t1).

    Each message is tried at ``publish + offsets`` (the policy's schedule) until an attempt falls
    outside every window: delivered (late if not the first). If every attempt fails it goes to the
    DLQ (``dlq``) or is lost, at its last attempt. An attempt due after ``horizon`` is pending.
    """
    t = check_array("publish", publish)
    if not isinstance(policy, DeliveryPolicy):
        raise ValueError(f"policy must be a DeliveryPolicy, got {type(policy).__name__}")
    if not isinstance(dlq, (bool, np.bool_)):
        raise ValueError(f"dlq={dlq!r} is not allowed: choose True or False")
    wins = _check_windows(endpoint_down)
    last = float(t[-1]) if len(t) else 0.0
    horizon = math.inf if horizon is None else check_number("horizon", horizon, last,
                                                            why="the last publish or later")
    off = np.concatenate([[0.0], np.cumsum(policy.delays())])
    n, m = len(t), len(off)
    k = np.zeros(n, np.int64)                     # index of the first attempt that can succeed
    cur = t.copy()
    # every window the current attempt falls in pushes it to the first attempt at or after its end
    for a, b in wins:
        inside = (cur >= a) & (cur < b)
        if inside.any():
            i = np.nonzero(inside)[0]
            k[i] = np.searchsorted(off, b - t[i], side="left")
            ok = k[i] < m
            cur[i] = np.where(ok, t[i] + off[np.minimum(k[i], m - 1)], np.inf)
    exhausted = k >= m
    fate = np.where(k == 0, Fate.DELIVERED, Fate.DELIVERED_LATE).astype(np.int64)
    fate[exhausted] = Fate.DLQ if dlq else Fate.LOST
    dep = np.where(exhausted, t + off[-1], cur)
    attempts = np.where(exhausted, m, k + 1)
    late = dep > horizon
    if late.any():                                # still being retried at the horizon
        fate[late] = Fate.PENDING
        attempts[late] = np.searchsorted(off, horizon - t[late], side="right")
        dep[late] = np.inf
    return DeliveryResult(t, attempts, fate, dep, off, float(horizon),
                          dict(policy=policy, endpoint_down=wins, dlq=bool(dlq)))


def _per_subscription(name: str, value, n: int, check) -> list:
    """One value, or a list of one value per subscription; ``check(name, v)`` checks each."""
    try:
        nd = np.ndim(value) if not isinstance(value, (str, bytes, dict)) and value is not None else 0
    except ValueError:
        nd = -1
    if nd == 0:
        check(name, value)
        return [value] * n
    if nd != 1 or len(value) != n:
        raise ValueError(f"{name} must be one value or one per subscription ({n}), got {value!r:.80}")
    for v in value:
        check(name, v)
    return list(value)


# --- fan-out to SQS queues -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FanOutResult:
    """A topic's publishes, which subscription matched which, and each SQS queue's run."""

    publish: np.ndarray
    match: np.ndarray               #: (messages, subscriptions) bool
    subscriptions: tuple
    queues: tuple                   #: one ``labsim.sqs.QueueResult`` per subscription
    params: dict = field(default_factory=dict)

    @property
    def unmatched(self) -> int:
        """Published messages no subscription's filter policy matched."""
        return int((~self.match.any(axis=1)).sum())

    def books(self) -> dict:
        """``deliveries == delivered + dlq + lost + pending``: one delivery per published message and
        matching subscription (SQS endpoints are up: every delivery arrives at once), and
        ``published == matched + unmatched``. What each queue did with its copies:
        :meth:`queue_books` (each queue's own books balance too)."""
        copies = int(self.match.sum())
        return {"published": len(self.publish), "deliveries": copies, "delivered": copies, "dlq": 0, "lost": 0,
                "pending": 0, "matched": len(self.publish) - self.unmatched, "unmatched": self.unmatched}

    def queue_books(self) -> dict:
        """Each subscription's queue's books, by subscription name."""
        return {s.name: q.books() for s, q in zip(self.subscriptions, self.queues)}


def simulate_fan_out(publish, messages, subscriptions, *, horizon: float, consumers=1, mean_duration=1.0,
                     seed: int = 0) -> FanOutResult:
    """Publish ``messages`` (attribute dicts) at ``publish``; each SQS subscription's queue gets the
    matching ones and is drained by its own consumers (``labsim.sqs.simulate_queue``): one publish,
    one copy per matching queue, each queue at its own pace. ``consumers`` and ``mean_duration``:
    one value, or one per subscription (``consumers`` may be an array, ``mean_duration`` may be an
    array)."""
    from . import sqs
    horizon = check_number("horizon", horizon, 0, sqs.MAX_HORIZON_S, lo_open=True, why=sqs.MODEL_BOUND)
    t = sqs._check_times("publish", publish, horizon)
    messages = _check_messages(messages)
    if len(messages) != len(t):
        raise ValueError(f"messages must hold one attribute dict per publish ({len(t):,}), got {len(messages):,}")
    subs = _check_subscriptions(subscriptions)
    for s in subs:
        if s.protocol != "sqs":
            raise ValueError(f"subscriptions: simulate_fan_out takes SQS subscriptions, got {s!r:.80}")
    seed = check_int("seed", seed, 0, why="a seed")
    n = len(subs)
    cons = _per_subscription("consumers", consumers, n,
                             lambda k, v: check_int(k, v, 1, sqs.MAX_CONSUMERS, why=sqs.MODEL_BOUND))
    durs = _per_subscription("mean_duration", mean_duration, n,
                             lambda k, v: check_number(k, v, 0, sqs.MAX_MEAN_DURATION_S, lo_open=True,
                                                       why="the mean processing time per message, at most "
                                                           "15 minutes"))
    m = fan_out(subs, messages)
    qs = tuple(sqs.simulate_queue(t[m[:, j]], horizon=horizon, consumers=cons[j], mean_duration=durs[j],
                                  seed=seed + j) for j in range(n))
    return FanOutResult(t, m, subs, qs, dict(consumers=cons, mean_duration=durs, horizon=horizon))
