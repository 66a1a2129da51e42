"""API Gateway: endpoint types, throttling at every level, usage plans and API keys.

Throttling (the AWS rule)
-------------------------
API Gateway throttles with the token bucket algorithm (api-gateway-request-throttling.html; the
model: :mod:`labsim.tokenbucket`). AWS applies the levels in this order (same page):

1. ``USAGE_PLAN``: the usage plan of the request's API key: its rate and burst, then its quota
   per day, week or month (REST APIs only);
2. ``STAGE``: the per-method limits on the stage (REST), or the route limits (HTTP API). The
   stage default applies to *each* method separately (one bucket per method);
3. ``ACCOUNT``: the account limit per Region, shared by all APIs of the account
   (10,000 requests per second with a bucket of 5,000; some newer Regions 2,500 and 1,250);
4. ``REGIONAL``: the AWS Regional limit. AWS publishes no number and no customer can change it;
   here it is off unless you give one.

A request over any limit gets ``429 Too Many Requests``; the result records the level that
refused it (``refused_at``).

Best effort: AWS applies every throttle and quota, at every level, on a best-effort basis, as
targets rather than guaranteed ceilings (api-gateway-request-throttling.html), and advises not to
rely on usage plans to block access (use AWS WAF, for example its rate-based rules) or to control
costs (use AWS Budgets) (api-gateway-api-usage-plans.html). **The model applies every limit
exactly**: its counts (what passes, when a bucket empties) are the model's figures, a best case
that real clients can exceed a little.

The refund assumption
---------------------
AWS does not say whether a request refused at a later level keeps the token it took at an
earlier one. ``refund`` is that assumption, labelled:

* ``refund=False`` (default): a token, once taken, is spent. An earlier level's decisions then do
  not depend on later levels, so applying :func:`labsim.tokenbucket.admit` level by level to the
  survivors of the previous level is exact (and vectorised).
* ``refund=True``: a request refused at a later level gives its earlier tokens (and its quota
  unit) back at once. That is the same as checking every level first and taking a token at every
  level only when all of them have one; an earlier level then depends on later ones, so the model
  runs one loop in arrival order over the scalar :class:`labsim.tokenbucket.TokenBucket` (same
  rule, same tie rule). It decides whether a noisy key can take more of the shared account bucket:
  with refunds, its refused attempts cost it nothing and it presses on the account at its full
  sending rate.

The quota (assumption): a request is counted against its key's quota once it has passed the
key's rate and burst; the quota's periods start at time 0 of the simulation, and ``offset``
(AWS's ``QuotaSettings.offset``) is the number of requests already counted in the first period.
The model's month is 30 days (AWS counts calendar months).

Arrays in, arrays out: :func:`simulate_throttling` takes arrival times with a key and a method per
request and returns each request's outcome and the time it left API Gateway (``departure``:
towards the integration if it passed, back to the caller with a 429 if not), so a capstone can
feed ``departure[passed]`` to the next service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import tokenbucket, traffic
from .tokenbucket import TokenBucket
from .validation import _fmt, check_array, check_bool, check_choice, check_int, check_number

# --- AWS numbers, each with its source --------------------------------------------------------
_DG = "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
#: Account limit per Region, shared by all APIs: 10,000 requests per second, bucket of 5,000.
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html and
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
ACCOUNT_RATE = 10_000
ACCOUNT_BURST = 5_000
#: Some newer Regions: 2,500 requests per second, bucket of 1,250 (same pages).
NEWER_REGION_RATE = 2_500
NEWER_REGION_BURST = 1_250
#: What the course notes say: "5000 requests across all APIs within an AWS account".
NOTES_ACROSS_ALL_APIS = 5_000
#: Throttled requests get HTTP 429 Too Many Requests.
THROTTLE_STATUS = 429
#: Every throttle and quota, at every level, is a target applied on a best-effort basis.
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
#: Do not rely on usage plans to block access (AWS WAF, rate-based rules) or to control costs
#: (AWS Budgets). https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html
BEST_EFFORT = True
#: REST API integration timeout: 50 ms to 29 s by default, for every integration type; raisable
#: above 29 s for Regional and private REST APIs (since June 2024, possibly with a lower account
#: throttle), not for edge-optimized ones.
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html and
#: https://aws.amazon.com/about-aws/whats-new/2024/06/amazon-api-gateway-integration-timeout-limit-29-seconds/
INTEGRATION_TIMEOUT_MIN_S = 0.05
INTEGRATION_TIMEOUT_MAX_S = 29.0
TIMEOUT_RAISABLE = {"edge-optimized": False, "regional": True, "private": True}
#: HTTP API integration timeout: at most 30 s, and it cannot be raised; 50 ms at least, as for REST
#: (TimeoutInMillis: 50 to 30,000 ms for HTTP APIs).
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html and
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigatewayv2-apigatewaymanagedoverrides-integrationoverrides.html
HTTP_INTEGRATION_TIMEOUT_MAX_S = 30.0
#: The integration timeout's ranges by API type: (minimum, default maximum), seconds.
INTEGRATION_TIMEOUT_RANGE = {"REST": (INTEGRATION_TIMEOUT_MIN_S, INTEGRATION_TIMEOUT_MAX_S),
                             "HTTP": (INTEGRATION_TIMEOUT_MIN_S, HTTP_INTEGRATION_TIMEOUT_MAX_S)}

API_TYPES = ("REST", "HTTP")
ENDPOINT_TYPES = ("edge-optimized", "regional", "private")
#: Which API types support which endpoint type (http-api-vs-rest.html).
SUPPORTED_ENDPOINTS = {"REST": ("edge-optimized", "regional", "private"), "HTTP": ("regional",)}
#: API keys, usage plans and per-client throttling: REST APIs only (http-api-vs-rest.html).
USAGE_PLANS = {"REST": True, "HTTP": False}
#: The default endpoint type of a REST API (api-gateway-api-endpoint-types.html).
REST_DEFAULT_ENDPOINT = "edge-optimized"

#: Quota periods (AWS: DAY, WEEK, MONTH). MONTH is 30 days here: an assumption (AWS: calendar months).
QUOTA_PERIODS = {"DAY": 86_400.0, "WEEK": 7 * 86_400.0, "MONTH": 30 * 86_400.0}
#: Largest quota: AWS's API types QuotaSettings ``limit`` as an Integer (API_QuotaSettings.html); the model
#: takes the 32-bit range.
MAX_QUOTA = 2**31 - 1

# Where a request ended: passed, or the level that refused it (in AWS's order).
PASSED, USAGE_PLAN, QUOTA, STAGE, ACCOUNT, REGIONAL = range(6)
LEVELS = (USAGE_PLAN, QUOTA, STAGE, ACCOUNT, REGIONAL)
LEVEL_NAMES = {PASSED: "passed", USAGE_PLAN: "429 usage plan (rate/burst)", QUOTA: "429 usage plan quota",
               STAGE: "429 stage/method", ACCOUNT: "429 account", REGIONAL: "429 AWS Regional"}
NO_KEY = -1


def check_endpoint(api_type: str, endpoint_type: str) -> str:
    """The endpoint type if this API type supports it, else a ValueError naming both."""
    check_choice("api_type", api_type, API_TYPES)
    check_choice("endpoint_type", endpoint_type, ENDPOINT_TYPES)
    ok = SUPPORTED_ENDPOINTS[api_type]
    if endpoint_type not in ok:
        raise ValueError(f"endpoint_type={endpoint_type!r} is not allowed for an {api_type} API: choose one of "
                         + ", ".join(repr(e) for e in ok) + " (http-api-vs-rest.html: edge-optimized and private "
                         "endpoints are REST only)")
    return endpoint_type


def check_integration_timeout(integration_timeout: float, endpoint_type: str = "regional",
                              raised: bool = False, api_type: str = "REST") -> float:
    """An integration timeout in seconds, by API type.

    REST: 0.05 to 29 by default; above 29 only for a Regional or private REST API whose quota was
    raised (``raised=True``; an edge-optimized one cannot). HTTP: 0.05 to 30, never raised (an
    HTTP API is Regional only). The error names the parameter, its value, the allowed range and why.
    """
    check_endpoint(api_type, endpoint_type)
    raised = check_bool("raised", raised)
    lo, hi = INTEGRATION_TIMEOUT_RANGE[api_type]
    if api_type == "HTTP":
        why = "an HTTP API's range, which cannot be raised"
    elif not raised:
        why = "a REST API's default range; only a Regional or private REST API can have it raised"
    elif not TIMEOUT_RAISABLE[endpoint_type]:
        why = "an edge-optimized REST API cannot have it raised"
    else:
        hi, why = None, "a Regional or private REST API with a raised quota"
    return check_number("integration_timeout", integration_timeout, lo, hi, why=why)


@dataclass(frozen=True)
class Throttle:
    """A rate (requests per second) and a burst (the bucket's size, whole requests)."""

    rate: float
    burst: int

    def __post_init__(self):
        object.__setattr__(self, "rate", check_number("rate", self.rate, tokenbucket.MIN_RATE, tokenbucket.MAX_RATE,
                                                      why="requests per second, the range of the book's token bucket"))
        object.__setattr__(self, "burst", check_int("burst", self.burst, 1, tokenbucket.MAX_BURST))


@dataclass(frozen=True)
class UsagePlan:
    """A usage plan: per-key rate and burst, and an optional quota per ``period`` (DAY, WEEK or
    MONTH). ``offset``: requests already counted in the first period (AWS's ``offset``)."""

    name: str
    rate: float
    burst: int
    quota: int | None = None
    period: str = "DAY"
    offset: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name={self.name!r:.80} is not allowed: a usage plan's name is a non-empty string")
        plan = f"usage plan {self.name!r}"
        object.__setattr__(self, "rate", check_number("rate", self.rate, tokenbucket.MIN_RATE, tokenbucket.MAX_RATE,
                                                      why=f"{plan}: requests per second"))
        object.__setattr__(self, "burst", check_int("burst", self.burst, 1, tokenbucket.MAX_BURST, why=plan))
        try:
            check_choice("period", self.period, tuple(QUOTA_PERIODS))
        except ValueError as e:
            raise ValueError(f"{e} ({plan})") from None
        if self.quota is not None:
            object.__setattr__(self, "quota", check_int("quota", self.quota, 0, MAX_QUOTA,
                                                        why=f"{plan}: requests per period; AWS's API types "
                                                            "QuotaSettings.limit as an Integer, 32-bit here"))
            object.__setattr__(self, "offset", check_int("offset", self.offset, 0, self.quota,
                                                         why=f"{plan}: requests already counted in the first "
                                                             "period, at most the quota"))
        else:
            object.__setattr__(self, "offset", check_int("offset", self.offset, 0, 0,
                                                         why=f"{plan} has no quota, so nothing is counted"))


@dataclass(frozen=True)
class ThrottleResult:
    """Per-request arrays (sorted by arrival) and the books of one run."""

    arrival: np.ndarray      #: arrival time, s
    key: np.ndarray          #: index into ``plans`` of the request's API key; -1: no key (other APIs)
    method: np.ndarray       #: index of the method (REST) or route (HTTP API); -1: another API
    refused_at: np.ndarray   #: PASSED, or the level that answered 429
    departure: np.ndarray    #: when the request left API Gateway (to the integration, or with its 429)
    horizon: float
    params: dict = field(default_factory=dict)

    @property
    def passed(self) -> np.ndarray:
        return self.refused_at == PASSED

    def count(self, level: int, mask=None) -> int:
        m = self.refused_at == level
        return int((m if mask is None else m & mask).sum())

    def sent(self, mask=None) -> int:
        return len(self.arrival) if mask is None else int(np.asarray(mask).sum())

    def of_key(self, k: int) -> np.ndarray:
        return self.key == k

    def books(self, mask=None) -> dict:
        """sent == passed + the 429s of every level; and at each level, the requests that reached
        it == the ones it passed + the ones it refused."""
        d = {"sent": self.sent(mask), "passed": self.count(PASSED, mask)}
        for lv in LEVELS:
            d[LEVEL_NAMES[lv]] = self.count(lv, mask)
        return d

    def reached(self, level: int, mask=None) -> int:
        """Requests that reached ``level`` (were not refused before it)."""
        m = (self.refused_at == PASSED) | (self.refused_at >= level)
        return int((m if mask is None else m & mask).sum())

    def throttled_fraction(self, mask=None) -> float:
        n = self.sent(mask)
        return (n - self.count(PASSED, mask)) / n if n else float("nan")

    def rate_series(self, edges, level: int | None = None, mask=None) -> np.ndarray:
        """Requests per second in each bin of ``edges`` (all, or those ending at ``level``)."""
        m = np.ones(len(self.arrival), bool) if level is None else self.refused_at == level
        if mask is not None:
            m &= mask
        return np.histogram(self.arrival[m], bins=edges)[0] / np.diff(edges)

    def account_tokens(self, grid) -> np.ndarray:
        """The account bucket's level at each time of ``grid`` (its takers: every request that
        took an account token; with ``refund``, only the ones that passed every level)."""
        p = self.params
        took = p["account_takers"]
        return tokenbucket.tokens(took, np.ones(len(took), bool), p["account"].rate, p["account"].burst, grid)


def _check_throttle(name: str, value, optional: bool = True):
    """``value`` if it is a :class:`Throttle` (or None when ``optional``), else a ValueError naming ``name``."""
    if isinstance(value, Throttle) or (optional and value is None):
        return value
    raise ValueError(f"{name}={value!r:.80} is not allowed: give a Throttle(rate, burst)"
                     + (" or None (no limit at this level)" if optional else ""))


def _check_indices(name: str, value, n: int, lo: int, hi: int, meaning: str) -> np.ndarray:
    """One whole number in ``[lo, hi]`` per request, as an int64 array."""
    a = check_array(name, value, None, None, sorted_=False)
    if len(a) != n:
        raise ValueError(f"{name} has {len(a):,} {'entry' if len(a) == 1 else 'entries'}: allowed one per "
                         f"request ({n:,})")
    if len(a) and (not np.all(a == np.floor(a)) or a.min() < lo or a.max() > hi):
        bad = a[(a != np.floor(a)) | (a < lo) | (a > hi)][0]
        raise ValueError(f"{name} has a value out of range ({bad:g}): allowed whole numbers {_fmt(lo)} to "
                         f"{_fmt(hi)} ({meaning})")
    return a.astype(np.int64)


#: Largest method (route) index: an index, not a count (each method used gets its own bucket).
MAX_METHOD = 1_000_000


def _check_plans(plans, account: Throttle):
    if isinstance(plans, (str, bytes, UsagePlan)) or not isinstance(plans, (tuple, list)):
        raise ValueError(f"plans={plans!r:.80} is not allowed: give a tuple or list of UsagePlan objects")
    plans = tuple(plans)
    for i, p in enumerate(plans):
        if not isinstance(p, UsagePlan):
            raise ValueError(f"plans[{i}]={p!r:.60} is not allowed: plans must hold UsagePlan objects")
        if p.rate > account.rate:
            raise ValueError(f"{p.name}.rate={_fmt(p.rate)} is out of range: allowed up to the account limit "
                             f"{_fmt(account.rate)} requests per second (AWS: per-client limits cannot exceed "
                             "the per-account limits)")
        if p.burst > account.burst:
            raise ValueError(f"{p.name}.burst={p.burst:,} is out of range: allowed up to the account burst "
                             f"{account.burst:,} (AWS: per-client limits cannot exceed the per-account limits)")
    return plans


def _quota_mask(t: np.ndarray, plan: UsagePlan) -> np.ndarray:
    """Which of the (sorted) requests ``t`` that passed a key's rate fit in its quota."""
    if plan.quota is None:
        return np.ones(len(t), bool)
    per = np.floor(t / QUOTA_PERIODS[plan.period]).astype(np.int64)
    allowed = np.where(per == 0, plan.quota - plan.offset, plan.quota)
    start = np.searchsorted(per, per, side="left")            # first request of each one's period
    rank = np.arange(len(t)) - start                           # 0-based rank inside its period
    return rank < allowed


def _check_method_limits(method_limits) -> dict:
    """``{method index: Throttle}`` checked, or {} for None."""
    if method_limits is not None and not isinstance(method_limits, dict):
        raise ValueError(f"method_limits={method_limits!r:.80} is not allowed: give a dict "
                         "{method index: Throttle} or None")
    limits = {}
    for m, th in (method_limits or {}).items():
        limits[check_int("method_limits key", m, 0, MAX_METHOD, why="a method index")] = \
            _check_throttle(f"method_limits[{m!r}]", th, False)
    return limits


def _plan_level(allt, src, plans, refused, alive):
    """Level 1, each key's usage plan: its rate and burst, then its quota (vectorised per key)."""
    for k, plan in enumerate(plans):
        idx = np.flatnonzero(src == k)                       # sorted: arrivals are sorted
        ok = tokenbucket.admit(allt[idx], plan.rate, plan.burst)
        refused[idx[~ok]] = USAGE_PLAN
        q = idx[ok]
        fit = _quota_mask(allt[q], plan)
        refused[q[~fit]] = QUOTA
        alive[idx] = False
        alive[q[fit]] = True


def _stage_level(allt, meth, ours, stage_limit, refused, alive):
    """Level 2, the stage's per-method (route) limits of this API: one bucket per method."""
    for m in np.unique(meth[ours & alive]):
        lim = stage_limit(m)
        if lim is None:
            continue
        idx = np.flatnonzero(ours & alive & (meth == m))
        ok = tokenbucket.admit(allt[idx], lim.rate, lim.burst)
        refused[idx[~ok]] = STAGE
        alive[idx[~ok]] = False


def _shared_levels(allt, order, account, regional, refused, alive):
    """Levels 3 and 4, the account (shared with the other APIs) and the AWS Regional limit, in
    arrival order over every API's survivors."""
    for level, lim in ((ACCOUNT, account), (REGIONAL, regional)):
        if lim is None:
            continue
        idx = order[alive[order]]
        ok = tokenbucket.admit(allt[idx], lim.rate, lim.burst)
        refused[idx[~ok]] = level
        alive[idx[~ok]] = False


def _levels_in_order(allt, order, src, meth, ours, plans, stage_limit, account, regional):
    """``refund=False``: each level refuses from the survivors of the levels before it; a token,
    once taken, is spent (so each level is one vectorised bucket per key, method or account)."""
    refused = np.zeros(len(allt), np.int64)
    alive = np.ones(len(allt), bool)
    _plan_level(allt, src, plans, refused, alive)
    _stage_level(allt, meth, ours, stage_limit, refused, alive)
    _shared_levels(allt, order, account, regional, refused, alive)
    return refused


def simulate_throttling(arrivals, keys=None, methods=None, *, api_type: str = "REST", plans=(),
                        stage: Throttle | None = None, method_limits: dict | None = None,
                        account: Throttle | None = None, regional: Throttle | None = None,
                        other_arrivals=None, refund: bool = False, overhead: float = 0.0,
                        horizon: float | None = None, params: dict | None = None) -> ThrottleResult:
    """Throttle one API's requests at every level, in AWS's order.

    ``arrivals``: sorted times (s); ``keys``: per request, the index of its API key's plan in
    ``plans`` (REST only; -1 or None: no key); ``methods``: per request, the method or route
    index (None: all one method). ``stage``: the stage's default per-method limit (None: none
    set); ``method_limits``: {method: Throttle} overrides. ``account``: default 10,000 per second,
    bucket 5,000. ``regional``: the AWS Regional limit (no published number; None: off).
    ``other_arrivals``: requests of the account's *other* APIs, which share only the account
    and Regional buckets (their own stage limits are not modelled). ``refund``: see the module
    docstring. ``overhead``: seconds API Gateway adds before a passed request leaves (an
    assumption; default 0).
    """
    check_choice("api_type", api_type, API_TYPES)
    t = check_array("arrivals", arrivals)
    n = len(t)
    other = check_array("other_arrivals", [] if other_arrivals is None else other_arrivals)
    account = Throttle(ACCOUNT_RATE, ACCOUNT_BURST) if account is None else _check_throttle("account", account, False)
    stage = _check_throttle("stage", stage)
    regional = _check_throttle("regional", regional)
    plans = _check_plans(plans, account)
    if plans and not USAGE_PLANS[api_type]:
        raise ValueError(f"plans={len(plans)} usage plans is not allowed for an {api_type} API: usage plans "
                         "and API keys are REST only (http-api-vs-rest.html)")
    if keys is None:
        keys = np.full(n, NO_KEY, np.int64)
    else:
        keys = _check_indices("keys", keys, n, NO_KEY, len(plans) - 1,
                              f"-1: no API key; k: the key of plans[k], and plans holds {len(plans)}")
    methods = (np.zeros(n, np.int64) if methods is None else
               _check_indices("methods", methods, n, 0, MAX_METHOD, "the method or route index"))
    method_limits = _check_method_limits(method_limits)
    overhead = check_number("overhead", overhead, 0, INTEGRATION_TIMEOUT_MAX_S)
    refund = check_bool("refund", refund)
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params={params!r:.80} is not allowed: give a dict (extra entries for the result) or None")
    end = max(float(t[-1]) if n else 0.0, float(other[-1]) if len(other) else 0.0)
    horizon = check_number("horizon", end if horizon is None else horizon, end)

    # All requests that reach the account: this API's (index < n) and the other APIs' (index >= n).
    allt = np.concatenate([t, other])
    order = np.argsort(allt, kind="stable")
    src = np.concatenate([keys, np.full(len(other), NO_KEY, np.int64)])
    meth = np.concatenate([methods, np.full(len(other), -1, np.int64)])

    def stage_limit(m):
        return method_limits.get(int(m), stage)

    if refund:
        refused = _refund_loop(allt, order, src, meth, plans, stage_limit, account, regional)
    else:
        refused = _levels_in_order(allt, order, src, meth, np.arange(len(allt)) < n, plans, stage_limit,
                                   account, regional)
    out = refused[:n]
    took = (refused == PASSED) if refund else (refused == PASSED) | (refused == REGIONAL)
    departure = t + np.where(out == PASSED, overhead, 0.0)
    p = dict(api_type=api_type, plans=plans, stage=stage, method_limits=method_limits, account=account,
             regional=regional, refund=refund, overhead=overhead,
             account_takers=allt[order][took[order]], passed_times=allt[order][refused[order] == PASSED],
             other_sent=len(other),
             other_passed=int((refused[n:] == PASSED).sum()), other_refused={lv: int((refused[n:] == lv).sum()) for lv in (ACCOUNT, REGIONAL)})
    p.update(params or {})
    return ThrottleResult(t, keys, methods, out, departure, horizon, p)


class _Bucket(TokenBucket):
    """The book's bucket with a look that takes nothing: ``ready(t)`` is True exactly when
    ``take(t)`` would admit (the same comparison, so the same tie rule)."""

    __slots__ = ()

    def ready(self, t: float) -> bool:
        return t >= self.dep[0]


def _refund_loop(allt, order, src, meth, plans, stage_limit, account, regional):
    """``refund=True``: check every level, take a token (and a quota unit) at every level only
    when all of them admit. One loop in arrival order; the first level that has no token is the
    one that refuses (AWS's order)."""
    key_b = [_Bucket(p.rate, p.burst) for p in plans]
    quota_left = [None if p.quota is None else p.quota - p.offset for p in plans]
    quota_period = [0] * len(plans)
    stage_b: dict = {}
    acct = _Bucket(account.rate, account.burst)
    reg = _Bucket(regional.rate, regional.burst) if regional is not None else None
    refused = np.zeros(len(allt), np.int64)
    times = allt.tolist()
    srcl = src.tolist()
    methl = meth.tolist()
    for i in order.tolist():
        x = times[i]
        k = srcl[i]
        kb = None
        if k >= 0:
            kb = key_b[k]
            if not kb.ready(x):
                refused[i] = USAGE_PLAN
                continue
            plan = plans[k]
            if plan.quota is not None:
                per = int(x // QUOTA_PERIODS[plan.period])
                if per != quota_period[k]:
                    quota_period[k], quota_left[k] = per, plan.quota
                if quota_left[k] <= 0:
                    refused[i] = QUOTA
                    continue
        sb = None
        m = methl[i]
        if m >= 0:
            sb = stage_b.get(m, False)
            if sb is False:
                lim = stage_limit(m)
                sb = stage_b[m] = None if lim is None else _Bucket(lim.rate, lim.burst)
            if sb is not None and not sb.ready(x):
                refused[i] = STAGE
                continue
        if not acct.ready(x):
            refused[i] = ACCOUNT
            continue
        if reg is not None and not reg.ready(x):
            refused[i] = REGIONAL
            continue
        if kb is not None:
            kb.take(x)
            if quota_left[k] is not None:
                quota_left[k] -= 1
        if sb is not None:
            sb.take(x)
        acct.take(x)
        if reg is not None:
            reg.take(x)
    return refused


# --- traffic for the labs ----------------------------------------------------------------------
SHAPES = ("steady", "spike", "ramp")


def shaped_traffic(shape: str, rate: float, horizon: float, rng) -> np.ndarray:
    """Poisson traffic at a level of ``rate`` per second: steady at ``rate`` (``steady``); at half
    of it with a spike to 4x ``rate`` in the middle fifth of the horizon (``spike``); or a ramp
    from 0 to 2x ``rate`` (``ramp``, averaging ``rate``)."""
    check_choice("shape", shape, SHAPES)
    rate = check_number("rate", rate, 0)
    horizon = check_number("horizon", horizon, 0, lo_open=True)
    if shape == "steady":
        return traffic.poisson(rate, horizon, rng)
    if shape == "spike":
        return traffic.spike(0.5 * rate, 4.0 * rate, 0.4 * horizon, 0.2 * horizon, horizon, rng)
    return traffic.ramp(0.0, 2.0 * rate, horizon, rng)


#: Ranges of the labs' traffic (model assumptions that keep one run well under a second of CPU):
#: a client's level up to 10x the account limit, for a few seconds (usage plans) or tens of
#: seconds (one bucket); at most about 5 million requests in one run.
MAX_TRAFFIC_RATE = 100_000.0
MAX_BUCKET_HORIZON = 40.0
MAX_PLANS_HORIZON = 10.0
_TRAFFIC_WHY = "requests per second; the model's range, 10x the account limit"


def simulate_bucket(rate: float = 100.0, burst: int = 200, shape: str = "spike", traffic_rate: float = 100.0,
                    horizon: float = 20.0, seed: int = 0) -> ThrottleResult:
    """One bucket (a stage's method limit) in front of one traffic shape: lab 1."""
    lim = Throttle(rate, burst)
    check_choice("shape", shape, SHAPES)
    traffic_rate = check_number("traffic_rate", traffic_rate, 0, MAX_TRAFFIC_RATE, why=_TRAFFIC_WHY)
    horizon = check_number("horizon", horizon, 0, MAX_BUCKET_HORIZON, lo_open=True,
                           why="seconds; the model's range keeps a run under a second")
    t = shaped_traffic(shape, traffic_rate, horizon, traffic.make_rng(seed))
    return simulate_throttling(t, stage=lim, account=Throttle(max(ACCOUNT_RATE, lim.rate),
                                                              max(ACCOUNT_BURST, lim.burst)),
                               horizon=horizon, params=dict(shape=shape, traffic_rate=traffic_rate,
                                                            limit=lim, seed=seed))


#: The three clients of the usage-plan lab: plan (rate per second, burst, quota per day) and the
#: rate each sends when it is quiet.
CLIENT_PLANS = {
    "free": (100, 200, 10_000),
    "basic": (1_000, 2_000, 1_000_000),
    "premium": (8_000, 5_000, None),
}
QUIET_RATE = {"free": 50.0, "basic": 800.0, "premium": 4_000.0}


def simulate_usage_plans(noisy: str = "premium", noisy_rate: float = 12_000.0, other_apis_rate: float = 3_000.0,
                         stage_rate: float = 10_000.0, free_quota_left: int = 100, refund: bool = False,
                         horizon: float = 3.0, seed: int = 0) -> ThrottleResult:
    """Three API keys on three plans (free, basic, premium), one of them noisy (``noisy``:
    a client name or "none"), one method whose stage limit is ``stage_rate`` per second (burst
    half of it), the account limit shared with the account's other APIs. The free key has
    ``free_quota_left`` of its daily quota left at the start (AWS's ``offset``)."""
    check_choice("noisy", noisy, ("none",) + tuple(CLIENT_PLANS))
    noisy_rate = check_number("noisy_rate", noisy_rate, 0, MAX_TRAFFIC_RATE)
    other_apis_rate = check_number("other_apis_rate", other_apis_rate, 0, MAX_TRAFFIC_RATE, why=_TRAFFIC_WHY)
    stage_rate = check_number("stage_rate", stage_rate, 1, MAX_TRAFFIC_RATE,
                              why="requests per second; AWS caps a stage only at its unpublished Regional limit")
    refund = check_bool("refund", refund)
    horizon = check_number("horizon", horizon, 0, MAX_PLANS_HORIZON, lo_open=True,
                           why="seconds; the model's range keeps a run about a second at most")
    rng = traffic.make_rng(seed)
    names = tuple(CLIENT_PLANS)
    free_q = CLIENT_PLANS["free"][2]
    free_quota_left = check_int("free_quota_left", free_quota_left, 0, free_q)
    plans = tuple(UsagePlan(nm, r, b, q, "DAY", free_q - free_quota_left if nm == "free" else 0)
                  for nm, (r, b, q) in CLIENT_PLANS.items())
    parts, keys = [], []
    for k, nm in enumerate(names):
        a = traffic.poisson(noisy_rate if nm == noisy else QUIET_RATE[nm], horizon, rng)
        parts.append(a)
        keys.append(np.full(len(a), k))
    t = np.concatenate(parts)
    order = np.argsort(t, kind="stable")
    other = traffic.poisson(other_apis_rate, horizon, rng)
    return simulate_throttling(t[order], np.concatenate(keys)[order], plans=plans,
                               stage=Throttle(stage_rate, max(1, int(stage_rate // 2))),
                               other_arrivals=other, refund=refund, horizon=horizon,
                               params=dict(noisy=noisy, noisy_rate=noisy_rate, other_apis_rate=other_apis_rate,
                                           names=names, seed=seed, free_quota_left=free_quota_left))


# --- endpoint types and latency: an ILLUSTRATIVE model, not AWS numbers ------------------------
#: Where clients and Regions are (latitude, longitude in degrees).
PLACES = {
    "N. Virginia": (38.9, -77.0), "Oregon": (45.6, -121.2), "Sao Paulo": (-23.5, -46.6),
    "Ireland": (53.3, -6.3), "Frankfurt": (50.1, 8.7), "Mumbai": (19.1, 72.9),
    "Singapore": (1.35, 103.8), "Tokyo": (35.7, 139.7), "Sydney": (-33.9, 151.2),
}
REGIONS = {"us-east-1": "N. Virginia", "eu-west-1": "Ireland", "ap-southeast-1": "Singapore"}
CLIENTS = ("N. Virginia", "Oregon", "Sao Paulo", "Ireland", "Frankfurt", "Mumbai", "Singapore", "Tokyo", "Sydney")
IN_VPC = "VPC (API's Region)"
#: ASSUMPTIONS of the latency model (illustrative, not AWS facts): light in fibre covers about
#: 200,000 km per second; internet paths are 1.3x the great-circle distance, the AWS backbone 1.1x;
#: a client is 100 km from its nearest point of presence; each hop adds a fixed processing time.
FIBRE_KM_PER_MS = 200.0
INTERNET_STRETCH = 1.3
BACKBONE_STRETCH = 1.1
POP_KM = 100.0
HOP_MS = 2.0            # processing per network hop (client edge, PoP, Region)
EDGE_EXTRA_MS = 4.0     # the CloudFront point of presence's own work per request
HANDSHAKES = {"new": 2, "reused": 0}   # round trips before the request: TCP + TLS 1.3, or none


#: No two places on Earth are farther apart along the surface than half its circumference
#: (pi x 6,371 km, about 20,015 km).
MAX_KM = 20_016
#: Largest path stretch (path length / great-circle distance) the model takes: an assumption.
MAX_STRETCH = 10.0


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two :data:`PLACES` (haversine, Earth radius 6,371 km)."""
    check_choice("a", a, tuple(PLACES))
    check_choice("b", b, tuple(PLACES))
    (la1, lo1), (la2, lo2) = (np.radians(PLACES[a]), np.radians(PLACES[b]))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return float(2 * 6_371.0 * np.arcsin(np.sqrt(h)))


def round_trip_ms(km: float, stretch: float) -> float:
    """One round trip over ``km`` of great-circle distance on a path ``stretch`` times longer."""
    km = check_number("km", km, 0, MAX_KM, why="km along the Earth's surface; half its circumference is about 20,015")
    stretch = check_number("stretch", stretch, 1, MAX_STRETCH,
                           why="path length / great-circle distance, a model assumption")
    return 2 * km * stretch / FIBRE_KM_PER_MS + HOP_MS


def request_latency_ms(client: str, region: str, endpoint_type: str, connection: str = "new") -> float:
    """Median time of one request, in the model: ``handshakes`` round trips to where TLS ends, then
    the request's own round trip to the Region. Regional: everything goes over the internet to
    the Region. Edge-optimized: TLS ends at the nearest point of presence, the request then rides
    the backbone. Private: from a VPC in the Region only (one short round trip per step); from any
    other client a ValueError (a private endpoint is unreachable from the internet)."""
    check_choice("client", client, CLIENTS + (IN_VPC,))
    check_choice("region", region, tuple(REGIONS))
    check_choice("endpoint_type", endpoint_type, ENDPOINT_TYPES)
    check_choice("connection", connection, tuple(HANDSHAKES))
    h = HANDSHAKES[connection]
    home = REGIONS[region]
    if client == IN_VPC:
        local = round_trip_ms(5.0, 1.0)
        return (h + 1) * local
    if endpoint_type == "private":
        raise ValueError(f"endpoint_type='private' is not reachable from client={client!r}: a private endpoint "
                         f"answers only inside its VPC (client={IN_VPC!r})")
    d = distance_km(client, home)
    if endpoint_type == "regional":
        return (h + 1) * round_trip_ms(d, INTERNET_STRETCH)
    to_pop = round_trip_ms(POP_KM, INTERNET_STRETCH)
    return (h + 1) * to_pop + round_trip_ms(d, BACKBONE_STRETCH) + EDGE_EXTRA_MS


@dataclass(frozen=True)
class LatencyResult:
    """Per-request arrays of the endpoint lab: which client sent it, its latency (NaN:
    unreachable), and where it ended (under the latency target, over it, unreachable)."""

    client: np.ndarray        #: index into ``clients``
    latency: np.ndarray       #: ms, NaN when unreachable
    clients: tuple
    median: dict              #: {endpoint_type: the model's median per client}; private: masked except the VPC client
    params: dict = field(default_factory=dict)

    @property
    def reachable(self) -> np.ndarray:
        return np.isfinite(self.latency)

    def books(self) -> dict:
        slo = self.params["target_ms"]
        ok = self.reachable
        return {"sent": len(self.latency), "under target": int((self.latency[ok] <= slo).sum()),
                "over target": int((self.latency[ok] > slo).sum()), "unreachable": int((~ok).sum())}


def simulate_endpoints(region: str = "us-east-1", endpoint_type: str = "edge-optimized", connection: str = "new",
                       target_ms: float = 200.0, requests_per_client: int = 200, jitter: float = 0.25,
                       api_type: str = "REST", seed: int = 0) -> LatencyResult:
    """Clients around the world (and one in a VPC in the API's Region) call one API. Each request's
    latency is the model's median for its client times a lognormal jitter (``jitter``: its sigma,
    an assumption). Private endpoints answer only the VPC client."""
    check_choice("region", region, tuple(REGIONS))
    check_endpoint(api_type, endpoint_type)
    check_choice("connection", connection, tuple(HANDSHAKES))
    target_ms = check_number("target_ms", target_ms, 0, lo_open=True)
    n = check_int("requests_per_client", requests_per_client, 1, 100_000)
    jitter = check_number("jitter", jitter, 0, 2)
    clients = CLIENTS + (IN_VPC,)
    med = {e: np.array([request_latency_ms(c, region, e, connection) if (e != "private" or c == IN_VPC)
                        else math.nan for c in clients]) for e in ENDPOINT_TYPES}
    rng = traffic.make_rng(seed)
    who = np.repeat(np.arange(len(clients)), n)
    lat = med[endpoint_type][who] * rng.lognormal(0.0, jitter, len(who))      # NaN: unreachable
    # a private endpoint has no latency for the clients that cannot reach it: masked, not a number
    # (the data under the mask stay NaN, so np.ma.getdata gives the old array bit for bit)
    med["private"] = np.ma.masked_invalid(med["private"])
    med["private"].fill_value = math.nan
    return LatencyResult(who, lat, clients, med,
                         dict(region=region, endpoint_type=endpoint_type, connection=connection,
                              target_ms=target_ms, jitter=jitter, api_type=api_type, seed=seed))
