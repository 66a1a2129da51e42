"""Amazon SNS: topics, subscriptions, fan-out, filter policies and delivery retries.

Arrays in, arrays out: a topic takes publish times (and one attribute dict per message); a
delivery model returns, per message and subscription, its fate and the time it left SNS (the
arrival time of the next stage: an SQS subscription feeds :func:`labsim.sqs.simulate_queue`).

* **Push pub/sub** (https://docs.aws.amazon.com/sns/latest/dg/welcome.html): a publish to a topic
  becomes one delivery to each subscription whose filter policy matches (all of them, without a
  policy). Protocols: SQS, Lambda, Firehose, HTTP/S, email (and email-json), SMS, mobile push
  (``application``). SNS pushes; nothing polls. A Lambda subscription is an asynchronous
  invocation: once Lambda has accepted the event, Lambda's own retries, DLQ and destinations
  apply (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
* **Message size** (large-message-payloads.html): 256 KiB by default; MaximumMessageSize takes
  1,024 bytes to 1 MiB, and a topic above 256 KiB supports only Firehose, SQS and Lambda
  subscriptions, at most 100 (:func:`check_topic`).
* **Filter policies** (:func:`matches`, :func:`check_policy`, :func:`alternatives`): the AWS
  semantics of https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html:
  scope ``MessageAttributes`` (the default; flat policies) or ``MessageBody`` (nested JSON); every
  key of the policy must match (AND), one of a key's values is enough (OR), and ``"$or"`` ORs
  whole groups of keys, nested too (and-or-logic.html); exact strings and numbers, ``prefix``,
  ``suffix``, ``equals-ignore-case``, ``wildcard``, ``cidr``, ``anything-but`` (values, or a
  prefix, suffix or wildcard), ``numeric`` comparisons and ranges, ``exists``. Attribute types:
  String, String.Array, Number and Binary (ignored); there is no Number.Array
  (https://docs.aws.amazon.com/sns/latest/api/API_MessageAttributeValue.html). Limits
  (subscription-filter-policy-constraints.html): at most 5 keys (leaf keys); at most 150
  combinations: per "$or" branch the product over its keys of the number of values times the
  key's nesting level, summed over the branches; numbers between -10^9 and 10^9; at most 3
  wildcards a pattern and 100 wildcard complexity points. A policy over a limit raises a
  ``ValueError`` that names it. The evaluator is checked against every example of the SNS
  filter-policy pages (tests/sns_filter_policy_examples.json).
* **Delivery retries** (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html):
  SNS retries *server-side* errors (the endpoint unavailable, or answering with an error) in
  four phases after the first attempt: immediate (no delay), pre-backoff (the minimum delay),
  backoff (from the minimum to the maximum delay along a backoff function: linear, arithmetic,
  geometric or exponential) and post-backoff (the maximum delay). Three endpoint classes, each
  with SNS's own policy (:func:`policy_for`): AWS-managed (SQS, Lambda, Firehose): 3 + 2 (1 s
  apart) + 10 (backoff 1 s to 20 s) + 100,000 (20 s apart) = 100,015, over 23 days;
  customer-managed (email, SMS, mobile push): 0 + 2 (10 s apart) + 10 (backoff 10 s to 600 s) +
  38 (600 s apart) = 50, "over 6 hours" in AWS's table (the phases add up to more: about 7.2 h
  with the model's curve); HTTP/S: by default 3 retries 20 s apart, and only HTTP/S takes a
  custom policy, of at most 3,600 s in all. AWS's table calls these totals "attempts"; the page
  says the immediate phase comes after the initial delivery attempt, so the model counts them as
  retries after a first attempt. A *client-side* error (the endpoint deleted, or its policy
  changed so that SNS may not deliver) is not retried (sns-dead-letter-queues.html). When the
  policy is exhausted, or on a client-side error, the message goes to the subscription's
  dead-letter queue if it has one, otherwise it is discarded (lost).

Labelled assumptions (AWS does not document these)
--------------------------------------------------
* **The backoff curve.** AWS names the function but not every delay inside the phase. The model:
  with k backoff retries and x = i / (k - 1) for retry i = 0 .. k - 1, ``linear`` goes
  min + (max - min) x; ``arithmetic`` min + (max - min) x^2 (increments that grow by a fixed
  step); ``geometric`` min (max / min)^x; ``exponential`` min 2^i capped at max, which is
  :class:`labsim.retry.RetryPolicy` with the ``exponential`` strategy (base = min, cap = max).
  The AWS-managed and customer-managed policies use the exponential curve.
* **No jitter.** AWS applies jitter to delivery retries; the model's delays are the curve's.
* **A delivery takes no time** and succeeds whenever the endpoint is up; an endpoint fails
  during given windows (every attempt in a window fails), all with one kind of error, server- or
  client-side, for the whole window.
* **Wildcard complexity**: which patterns of a key count toward the 100 points is the model's
  reading of the constraints page (its one example agrees).
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
API = "https://docs.aws.amazon.com/sns/latest/api/"
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
#: Endpoint classes ({_SNS}sns-message-delivery-retries.html): AWS-managed (Firehose, Lambda,
#: SQS), HTTP/S, and customer-managed (SMTP: email and email-json; SMS; mobile push: application).
AWS_MANAGED_PROTOCOLS = ("sqs", "lambda", "firehose")
HTTP_PROTOCOLS = ("http", "https")
CUSTOMER_MANAGED_PROTOCOLS = ("email", "email-json", "sms", "application")
PROTOCOLS = AWS_MANAGED_PROTOCOLS + HTTP_PROTOCOLS + CUSTOMER_MANAGED_PROTOCOLS
#: A topic whose MaximumMessageSize is above 256 KiB takes only these protocols, and at most 100
#: subscriptions ({_SNS}large-message-payloads.html).
LARGE_MESSAGE_PROTOCOLS = ("firehose", "sqs", "lambda")
MAX_LARGE_TOPIC_SUBSCRIPTIONS = 100
FAILURE_KINDS = ("server", "client")
#: The model's bound on a custom policy's retries: 3,600 s of retries at least 1 s apart.
MAX_HTTP_RETRIES = 3_600
#: The model's bounds for an AWS-managed policy (AWS's is 100,015 retries, 20 s at most apart).
MAX_MANAGED_RETRIES = 200_000
MAX_MANAGED_DELAY_S = 86_400


def _fmt_s(x: float) -> str:
    return f"{x:,.0f} s" if float(x).is_integer() else f"{x:g} s"


# --- filter policies -------------------------------------------------------------------------------
# One evaluator for both scopes, kept apart from the rest of the module so that another service's
# patterns (EventBridge) can share it: check_policy (the limits), _branches (the policy as
# OR-branches of leaves), _compile (each leaf's conditions as predicates), _matches (a message).
#: The operators a condition object may hold. They are also the reserved keywords that stop an
#: "$or" array from being read as OR ({_SNS}and-or-logic.html).
OPERATORS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr", "wildcard")
OR_KEY = "$or"
#: The message attribute data types ({API}API_MessageAttributeValue.html); a policy compares
#: String and String.Array values as strings and Number values as numbers, and ignores Binary.
ATTRIBUTE_TYPES = ("String", "String.Array", "Number", "Binary")
#: Wildcards: at most 3 in a pattern, at most 100 complexity points in a policy
#: ({_SNS}subscription-filter-policy-constraints.html).
MAX_WILDCARDS_PER_PATTERN = 3
MAX_WILDCARD_COMPLEXITY = 100


def _is_or(value) -> bool:
    """Does an "$or" key's value make an OR? An array of at least 2 non-empty objects, none of
    them with an operator's name as a field name; otherwise "$or" is a plain key (and-or-logic)."""
    return (isinstance(value, list) and len(value) >= 2
            and all(isinstance(m, dict) and m and not any(k in OPERATORS for k in m) for m in value))


def _branches(node, scope: str, path=()) -> list:
    """The policy as OR-branches: a list of branches, each a tuple of leaves ``(path, values)``, all
    of whose leaves must match. Plain keys AND together; an "$or" forks the branches."""
    if not isinstance(node, dict) or not node:
        what = "a filter policy" if not path else f"filter policy key {'.'.join(path)!r}"
        raise ValueError(f"{what} must be a non-empty JSON object, got {node!r:.80}")
    out = [()]
    for k, v in node.items():
        if k == OR_KEY and _is_or(v):
            fork = [b for member in v for b in _branches(member, scope, path)]
            out = [a + b for a in out for b in fork]
        elif isinstance(v, dict):
            if scope == "MessageAttributes":
                raise ValueError(f"filter policy key {k!r}: nested policies are allowed only with the "
                                 "MessageBody scope (MessageAttributes policies are flat)")
            out = [a + b for a in out for b in _branches(v, scope, path + (k,))]
        elif isinstance(v, list) and v:
            out = [a + ((path + (k,), tuple(v)),) for a in out]
        else:
            raise ValueError(f"filter policy key {k!r} must hold a non-empty array of values, got {v!r:.80}")
        if len(out) > MAX_POLICY_COMBINATIONS:        # each branch counts at least 1 combination
            raise ValueError(f"filter policy has more than {MAX_POLICY_COMBINATIONS} OR-branches: the limit is "
                             f"{MAX_POLICY_COMBINATIONS} combinations (subscription-filter-policy-constraints)")
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
    elif op == "wildcard":
        _check_wildcard(key, arg)
    elif op == "cidr":
        _network(key, arg)
    elif op == "exists":
        if not isinstance(arg, bool):
            raise ValueError(f"filter policy {key!r}: exists takes true or false, got {arg!r:.80}")
    elif op == "anything-but":
        if isinstance(arg, dict):
            if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix", "wildcard"):
                raise ValueError(f"filter policy {key!r}: anything-but takes values or one prefix, suffix or wildcard")
            _check_condition(key, arg)
        else:
            vals = arg if isinstance(arg, list) else [arg]
            if not vals:
                raise ValueError(f"filter policy {key!r}: anything-but takes at least one value")
            for v in vals:
                if isinstance(v, (dict, list)):
                    raise ValueError(f"filter policy {key!r}: anything-but takes values or one prefix, suffix or wildcard")
                _check_condition(key, v)
    elif op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise ValueError(f"filter policy {key!r}: numeric takes [op, value] or [op, value, op, value]")
        for o, v in zip(arg[::2], arg[1::2]):
            check_choice(f"filter policy {key!r} numeric operator", o, ("=", "<", "<=", ">", ">="))
            if not _num(v):
                raise ValueError(f"filter policy {key!r}: numeric compares with numbers, got {v!r:.80}")
            _check_condition(key, v)
    else:
        raise ValueError(f"filter policy {key!r}: unknown operator {op!r}: choose one of " + ", ".join(OPERATORS))


def _check_wildcard(key, pattern):
    if not isinstance(pattern, str):
        raise ValueError(f"filter policy {key!r}: wildcard takes a string, got {pattern!r:.80}")
    if pattern.count("*") > MAX_WILDCARDS_PER_PATTERN:
        raise ValueError(f"filter policy {key!r}: wildcard {pattern!r:.80} has {pattern.count('*')} wildcards: the "
                         f"limit is {MAX_WILDCARDS_PER_PATTERN} per pattern (subscription-filter-policy-constraints)")


def _network(key, arg):
    import ipaddress
    if not isinstance(arg, str):
        raise ValueError(f"filter policy {key!r}: cidr takes a string such as '10.0.0.0/24', got {arg!r:.80}")
    try:
        return ipaddress.ip_network(arg, strict=False)
    except ValueError:
        raise ValueError(f"filter policy {key!r}: cidr {arg!r:.80} is not an IP address or subnet") from None


def _pattern_points(c) -> int:
    """A condition's wildcard complexity points (constraints page): a wildcard pattern 1 point with
    one ``*``, 3 points per ``*`` with more; ``anything-but`` 1 point; other conditions 0."""
    if not isinstance(c, dict):
        return 0
    op, arg = next(iter(c.items()))
    if op == "wildcard":
        n = arg.count("*")
        return 1 if n <= 1 else 3 * n
    return 1 if op == "anything-but" else 0


def _has_wildcard(c) -> bool:
    return isinstance(c, dict) and ("wildcard" in c or (isinstance(c.get("anything-but"), dict)
                                                        and "wildcard" in c["anything-but"]))


def wildcard_complexity(policy: dict, scope: str = "MessageAttributes") -> int:
    """The policy's wildcard complexity (at most 100): over the keys that use a wildcard, the sum
    of their patterns' points times their number of patterns. The points are the constraints
    page's; which patterns count is the model's reading of it (the page's one example agrees)."""
    check_choice("scope", scope, SCOPES)
    leaves = {(p, repr(v)): v for b in _branches(policy, scope) for p, v in b}      # each key once
    return sum(sum(_pattern_points(c) for c in v) * len(v) for v in leaves.values() if any(map(_has_wildcard, v)))


def _nesting(path) -> int:
    return len(path)


def combinations(policy: dict, scope: str = "MessageAttributes") -> int:
    """The policy's total combination (at most 150): for each OR-branch, the product over its keys
    of the number of values times the key's nesting level (1 for a top-level key), summed over
    the branches (subscription-filter-policy-constraints.html, and-or-logic.html)."""
    check_choice("scope", scope, SCOPES)
    return sum(math.prod(len(v) * _nesting(p) for p, v in b) for b in _branches(policy, scope))


def alternatives(policy: dict, scope: str = "MessageAttributes") -> list:
    """The checked policy as OR-branches: a message passes when every key of one branch matches.
    Each branch is a dict ``{"key" or "a.b": [values]}``; a policy without "$or" has one branch."""
    check_policy(policy, scope)
    return [{".".join(p): list(v) for p, v in b} for b in _branches(policy, scope)]


def check_policy(policy: dict, scope: str = "MessageAttributes") -> dict:
    """Validate a filter policy against the AWS limits; return it. ``ValueError`` names the limit:
    at most 5 keys (leaf keys, counted once across the "$or" branches), 150 combinations,
    numbers within +-10^9, at most 3 wildcards a pattern and 100 wildcard complexity points."""
    check_choice("scope", scope, SCOPES)
    branches = _branches(policy, scope)
    keys = {p for b in branches for p, _ in b}
    if len(keys) > MAX_POLICY_KEYS:
        raise ValueError(f"filter policy has {len(keys)} keys: the limit is {MAX_POLICY_KEYS} keys "
                         "(subscription-filter-policy-constraints)")
    combos = sum(math.prod(len(v) * _nesting(p) for p, v in b) for b in branches)
    if combos > MAX_POLICY_COMBINATIONS:
        raise ValueError(f"filter policy has {combos:,} value combinations: the limit is "
                         f"{MAX_POLICY_COMBINATIONS} combinations (the product of the number of values per key, "
                         "times each key's nesting level, summed over the \"$or\" branches)")
    for b in branches:
        for path, vals in b:
            for c in vals:
                _check_condition(".".join(path), c)
    wc = wildcard_complexity(policy, scope)
    if wc > MAX_WILDCARD_COMPLEXITY:
        raise ValueError(f"filter policy has a wildcard complexity of {wc:,} points: the limit is "
                         f"{MAX_WILDCARD_COMPLEXITY} points (subscription-filter-policy-constraints)")
    return policy


def _attr_values(name, a):
    """A message attribute (``{"Type": ..., "Value": ...}`` or a plain value) as a list of values."""
    if isinstance(a, dict) and "Type" in a:
        typ, val = a["Type"], a.get("Value")
        if not isinstance(typ, str) or typ not in ATTRIBUTE_TYPES:
            raise ValueError(f"message attribute {name!r}: Type must be one of String, String.Array, Number, Binary "
                             f"(SNS has no Number.Array), got {typ!r:.80}")
        if typ == "Binary":
            return []                              # SNS ignores Binary attributes when it filters
        try:
            if typ == "String.Array":
                vals = json.loads(val) if isinstance(val, str) else list(val)
                if not isinstance(vals, list):
                    raise TypeError
                return vals
            if typ == "Number":
                if isinstance(val, bool) or val is None:
                    raise TypeError
                return [float(val)]
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"message attribute {name!r}: Value {val!r:.80} is not a {typ}") from None
        return [val]
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


_REGEX_CACHE: dict = {}


def _wildcard_ok(v, pattern) -> bool:
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        import re
        rx = _REGEX_CACHE[pattern] = re.compile(".*".join(map(re.escape, pattern.split("*"))), re.S)
    return isinstance(v, str) and rx.fullmatch(v) is not None


def _cidr_ok(v, arg) -> bool:
    import ipaddress
    if not isinstance(v, str):
        return False
    try:
        return ipaddress.ip_address(v) in ipaddress.ip_network(arg, strict=False)
    except ValueError:
        return False


def _predicate(c):
    """The condition ``c`` (not ``exists``) as a function of one value: does it match?"""
    if isinstance(c, dict):
        op, arg = next(iter(c.items()))
        if op == "prefix":
            return lambda v: isinstance(v, str) and v.startswith(arg)
        if op == "suffix":
            return lambda v: isinstance(v, str) and v.endswith(arg)
        if op == "equals-ignore-case":
            low = arg.lower()
            return lambda v: isinstance(v, str) and v.lower() == low
        if op == "wildcard":
            return lambda v: _wildcard_ok(v, arg)
        if op == "cidr":
            return lambda v: _cidr_ok(v, arg)
        if op == "numeric":
            return lambda v: _numeric_ok(v, arg)
        if isinstance(arg, dict):                                 # anything-but a prefix, suffix or wildcard
            inner = _predicate(arg)
            return lambda v: isinstance(v, str) and not inner(v)
        preds = [_predicate(x) for x in (arg if isinstance(arg, list) else [arg])]     # anything-but values
        return lambda v: not any(p(v) for p in preds)
    if c is None:
        return lambda v: v is None
    if _num(c):
        x = float(c)
        return lambda v: _num(v) and float(v) == x
    return lambda v: isinstance(v, str) and v == c


def _compile(branches) -> tuple:
    """A checked policy's OR-branches, each leaf as ``(path, exists values, predicates)``."""
    return tuple(tuple((p, tuple(c["exists"] for c in conds if isinstance(c, dict) and "exists" in c),
                        tuple(_predicate(c) for c in conds if not (isinstance(c, dict) and "exists" in c)))
                       for p, conds in b) for b in branches)


def _leaf_ok(leaf, message: dict, scope: str) -> bool:
    """Does one key of the policy match the message? One of its conditions is enough (OR)."""
    path, exists, preds = leaf
    node, present = message, True
    for k in path:
        if isinstance(node, dict) and k in node:
            node = node[k]
        else:
            present = False
            break
    if not present:
        values = ()
    elif scope == "MessageAttributes":
        values = _attr_values(path[0], node)
    elif isinstance(node, dict):                 # exists works on leaves only
        present, values = False, ()
    else:
        values = node if isinstance(node, list) else (node,)
    if exists:
        nonempty = present and any(v is not None and v != "" for v in values)
        if nonempty in exists:
            return True
    if present:
        for pred in preds:
            for v in values:
                if pred(v):
                    return True
    return False


def matches(policy: dict | None, message: dict, scope: str = "MessageAttributes") -> bool:
    """Does a message pass a subscription's filter policy (``None``: no policy, everything does)?

    ``message``: with the ``MessageAttributes`` scope, the attributes by name, each
    ``{"Type": "String" | "String.Array" | "Number" | "Binary", "Value": ...}`` or a plain value;
    with ``MessageBody``, the parsed JSON body (a dict, possibly nested).
    """
    check_choice("scope", scope, SCOPES)
    if not isinstance(message, dict):
        raise ValueError(f"message must be a dict ({'attributes by name' if scope == 'MessageAttributes' else 'the parsed JSON body'}), "
                         f"got {message!r:.80}")
    if policy is None:
        return True
    check_policy(policy, scope)
    return _matches(_compile(_branches(policy, scope)), message, scope)


def _matches(compiled, message: dict, scope: str) -> bool:
    """:func:`matches` for a compiled policy: one OR-branch whose every key matches."""
    if not message:                      # "exists": false needs at least one attribute
        return False
    for branch in compiled:
        for leaf in branch:
            if not _leaf_ok(leaf, message, scope):
                break
        else:
            return True
    return False


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
        return _matches(_compile(_branches(self.filter_policy, self.scope)), message, self.scope)

    @property
    def endpoint_class(self) -> str:
        """``"aws-managed"`` (SQS, Lambda, Firehose), ``"customer-managed"`` (email, SMS, mobile
        push) or ``"http"`` (HTTP/S): which of SNS's delivery policies applies."""
        return endpoint_class(self.protocol)

    @property
    def delivery_policy(self) -> "DeliveryPolicy":
        """SNS's delivery policy for this protocol (HTTP/S: the default; a custom one is
        :func:`http_policy`, given to :func:`simulate_delivery`)."""
        return policy_for(self.protocol)


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
            compiled = _compile(_branches(s.filter_policy, s.scope))
            out[:, j] = [_matches(compiled, m, s.scope) for m in msgs]
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
    """A message's size (bytes: body and attributes together) against the topic's MaximumMessageSize
    (256 KiB by default, 1,024 bytes to 1 MiB)."""
    maximum = check_int("maximum_message_size", maximum_message_size, 1_024, MAX_MESSAGE_BYTES,
                        why="MaximumMessageSize is 1 KiB to 1 MiB")
    return check_int("size", size, 0, maximum, why=f"the topic's MaximumMessageSize is {maximum:,} bytes")


def check_topic(subscriptions, maximum_message_size: int = DEFAULT_MAX_MESSAGE_BYTES) -> tuple:
    """A topic's subscriptions against its MaximumMessageSize: above 256 KiB the topic takes only
    Firehose, SQS and Lambda subscriptions, at most 100 of them (large-message-payloads.html).
    Returns the subscriptions; a ``ValueError`` names the rule."""
    maximum = check_int("maximum_message_size", maximum_message_size, 1_024, MAX_MESSAGE_BYTES,
                        why="MaximumMessageSize is 1 KiB to 1 MiB")
    subs = _check_subscriptions(subscriptions)
    if maximum > DEFAULT_MAX_MESSAGE_BYTES:
        for s in subs:
            if s.protocol not in LARGE_MESSAGE_PROTOCOLS:
                raise ValueError(f"subscriptions: {s.name!r} uses protocol {s.protocol!r}, but a topic with "
                                 f"maximum_message_size={maximum:,} (above 262,144 bytes) supports only Firehose, SQS "
                                 "and Lambda subscriptions")
        if len(subs) > MAX_LARGE_TOPIC_SUBSCRIPTIONS:
            raise ValueError(f"subscriptions: {len(subs):,} subscriptions, but a topic with maximum_message_size="
                             f"{maximum:,} (above 262,144 bytes) supports at most {MAX_LARGE_TOPIC_SUBSCRIPTIONS} "
                             "subscriptions")
    return subs


# --- delivery policies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryPolicy:
    """A delivery (retry) policy: ``num_retries`` after the first attempt, split into the four phases.

    Immediate (``num_no_delay_retries``, no delay), pre-backoff (``num_min_delay_retries``, ``min_delay``
    apart), backoff (the rest, from ``min_delay`` to ``max_delay`` along ``backoff_function``) and
    post-backoff (``num_max_delay_retries``, ``max_delay`` apart). ``managed``: one of SNS's own
    fixed policies (:data:`AWS_MANAGED`, :data:`CUSTOMER_MANAGED`: no 3,600 s limit); otherwise an
    HTTP/S policy, checked against that limit.
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
#: Customer-managed endpoints (email, SMS, mobile push): 0 immediate, 2 at 10 s, 10 backoff from 10 s
#: to 600 s (the model's exponential curve), 38 at 600 s = 50 (AWS: "50 attempts, over 6 hours"; the
#: phases add up to about 7.2 hours with this curve, the 38 at 600 s alone to 6.3 hours).
CUSTOMER_MANAGED = DeliveryPolicy(num_retries=50, min_delay=10.0, max_delay=600.0, num_no_delay_retries=0,
                                  num_min_delay_retries=2, num_max_delay_retries=38,
                                  backoff_function="exponential", managed=True)
#: HTTP/S default: 3 retries, 20 s apart (linear from 20 s to 20 s).
HTTP_DEFAULT = DeliveryPolicy()


def endpoint_class(protocol: str) -> str:
    """``"aws-managed"``, ``"http"`` or ``"customer-managed"``: the protocol's delivery-policy class."""
    protocol = check_choice("protocol", protocol, PROTOCOLS)
    if protocol in AWS_MANAGED_PROTOCOLS:
        return "aws-managed"
    return "http" if protocol in HTTP_PROTOCOLS else "customer-managed"


def policy_for(protocol: str, policy: DeliveryPolicy | None = None) -> DeliveryPolicy:
    """The delivery policy SNS applies to a protocol: :data:`AWS_MANAGED` for SQS, Lambda and
    Firehose, :data:`CUSTOMER_MANAGED` for email, SMS and mobile push, :data:`HTTP_DEFAULT` for
    HTTP/S, or ``policy``: a custom policy, which only HTTP/S takes ("Only HTTP/S supports custom
    policies", sns-message-delivery-retries.html)."""
    cls = endpoint_class(protocol)
    own = {"aws-managed": AWS_MANAGED, "customer-managed": CUSTOMER_MANAGED, "http": HTTP_DEFAULT}[cls]
    if policy is None:
        return own
    if not isinstance(policy, DeliveryPolicy):
        raise ValueError(f"policy must be a DeliveryPolicy, got {type(policy).__name__}")
    if cls != "http" and policy != own:
        raise ValueError(f"policy: protocol {protocol!r} takes only SNS's own delivery policy (only HTTP/S supports "
                         "custom policies)")
    if cls == "http" and policy.managed:
        raise ValueError(f"policy: protocol {protocol!r} takes an HTTP/S policy (at most 3,600 s of retries), not "
                         "one of SNS's fixed policies for other endpoints")
    return policy


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
    DLQ = 2              #: failed for good (retries exhausted, or a client-side error): in the subscription's DLQ
    LOST = 3             #: failed for good, no DLQ: discarded
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
    client_error: np.ndarray  #: bool: it failed for good on a client-side error (not retried)
    params: dict = field(default_factory=dict)

    def count(self, fate) -> int:
        return int(np.count_nonzero(self.fate == int(fate)))

    def books(self) -> dict:
        out = {"published": len(self.publish)}
        out.update({FATE_NAMES[f].replace(" ", "_").lower(): self.count(f) for f in Fate})
        return out

    @property
    def client_errors(self) -> int:
        """Messages that failed on a client-side error (in the DLQ or lost, never retried)."""
        return int(np.count_nonzero(self.client_error))

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
    return out


def _check_failures(failure, n: int) -> list:
    """``failure``: one kind for every window, or one per window (in ``endpoint_down``'s order)."""
    if isinstance(failure, str) or not isinstance(failure, (list, tuple)):
        return [check_choice("failure", failure, FAILURE_KINDS)] * n
    if len(failure) != n:
        raise ValueError(f"failure must be one of {FAILURE_KINDS} or a list of one per endpoint_down window "
                         f"({n}), got {failure!r:.80}")
    return [check_choice("failure", f, FAILURE_KINDS) for f in failure]


def simulate_delivery(publish, *, policy: DeliveryPolicy | None = None, protocol: str | None = None,
                      endpoint_down=None, failure="server", dlq: bool = False,
                      horizon: float | None = None) -> DeliveryResult:
    """Deliveries of messages published at ``publish`` to one endpoint that fails during the
    ``endpoint_down`` windows ``[(t0, t1), ...]`` (an attempt at t fails when t0 <= t < t1).

    ``failure`` (one kind, or one per window): ``"server"``, a server-side error (the endpoint is
    unavailable or answers with an error): SNS retries on the policy's schedule; ``"client"``, a
    client-side error (the endpoint was deleted, or its policy no longer lets SNS deliver): SNS
    does not retry, and the message goes to the DLQ or is lost at that attempt
    (sns-dead-letter-queues.html). Each message is tried at ``publish + offsets`` until an attempt
    falls outside every window: delivered (late if not the first). If every attempt fails it goes
    to the DLQ (``dlq``) or is lost, at its last attempt. An attempt due after ``horizon`` is pending.

    ``policy``: the retry schedule; ``protocol``: the endpoint's protocol, which picks SNS's own
    policy for it (:func:`policy_for`; only HTTP/S takes a custom ``policy``). Neither: the HTTP/S
    default.
    """
    t = check_array("publish", publish)
    if protocol is not None:
        policy = policy_for(protocol, policy)
    elif policy is None:
        policy = HTTP_DEFAULT
    if not isinstance(policy, DeliveryPolicy):
        raise ValueError(f"policy must be a DeliveryPolicy, got {type(policy).__name__}")
    if not isinstance(dlq, (bool, np.bool_)):
        raise ValueError(f"dlq={dlq!r} is not allowed: choose True or False")
    wins = _check_windows(endpoint_down)
    kinds = _check_failures(failure, len(wins))
    order = sorted(range(len(wins)), key=lambda i: wins[i])
    wins, kinds = [wins[i] for i in order], [kinds[i] for i in order]
    for (a0, b0), (a1, b1) in zip(wins, wins[1:]):
        if a1 < b0:
            raise ValueError("endpoint_down windows must not overlap")
    last = float(t[-1]) if len(t) else 0.0
    horizon = math.inf if horizon is None else check_number("horizon", horizon, last,
                                                            why="the last publish or later")
    off = np.concatenate([[0.0], np.cumsum(policy.delays())])
    n, m = len(t), len(off)
    k = np.zeros(n, np.int64)                     # index of the attempt that ends the message's story
    cur = t.copy()                                # that attempt's time (inf: no attempt left)
    client = np.zeros(n, bool)
    for (a, b), kind in zip(wins, kinds):
        inside = (cur >= a) & (cur < b)
        if not inside.any():
            continue
        i = np.nonzero(inside)[0]
        if kind == "client":                      # not retried: failed for good at this attempt
            client[i] = True
            cur[i] = np.inf
            continue
        # a server-side error: the first attempt at or after the window's end
        k[i] = np.searchsorted(off, b - t[i], side="left")
        ok = k[i] < m
        cur[i] = np.where(ok, t[i] + off[np.minimum(k[i], m - 1)], np.inf)
    exhausted = (k >= m) & ~client
    failed = exhausted | client
    fate = np.where(k == 0, Fate.DELIVERED, Fate.DELIVERED_LATE).astype(np.int64)
    fate[failed] = Fate.DLQ if dlq else Fate.LOST
    dep = np.where(exhausted, t + off[-1], cur)
    dep[client] = t[client] + off[k[client]]
    attempts = np.where(exhausted, m, k + 1)
    late = dep > horizon
    if late.any():                                # still being retried at the horizon
        fate[late] = Fate.PENDING
        client[late] = False
        attempts[late] = np.searchsorted(off, horizon - t[late], side="right")
        dep[late] = np.inf
    return DeliveryResult(t, attempts, fate, dep, off, float(horizon), client,
                          dict(policy=policy, protocol=protocol, endpoint_down=wins, failure=kinds, dlq=bool(dlq)))


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
