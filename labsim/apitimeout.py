"""API Gateway's integration timeout (504) and a caller that retries: what the caller sees, what
it waits, and the load the backend really carries.

AWS rules the model follows: a REST API's integration timeout is 50 ms to 29 s by default (Regional
and private REST APIs may raise it), an HTTP API's is 30 s and cannot be raised
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). When the
integration does not answer in time the caller gets **504** (Gateway Timeout); API Gateway does not
stop the backend, which keeps working (a Lambda function runs on until it ends or its own timeout).

Labelled assumptions:

* Each attempt's backend latency is drawn independently (``traffic.durations``: fixed,
  exponential or lognormal with a coefficient of variation), so a retry may be fast where the
  first attempt was slow.
* The caller retries a 504 up to ``retries`` times, ``backoff`` seconds after the 504 (a fixed
  pause; a real SDK backs off exponentially with jitter), and gives up after the last one.
* API Gateway adds no time of its own; the backend has no concurrency limit (every attempt runs).

The books: every attempt is answered (2xx) or timed out (504); each original request ends
answered or given up; attempts = requests + retries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import apigateway, traffic
from .validation import check_choice, check_int, check_number

#: Integration timeout (seconds) by API type: REST 0.05 to 29 s by default, HTTP API 30 s fixed.
REST_TIMEOUT_MIN_S, REST_TIMEOUT_DEFAULT_S = apigateway.INTEGRATION_TIMEOUT_RANGE["REST"]
HTTP_TIMEOUT_S = apigateway.INTEGRATION_TIMEOUT_RANGE["HTTP"][1]     # an HTTP API's maximum (and default)
API_TYPES = apigateway.API_TYPES
MAX_RETRIES = 10


@dataclass(frozen=True)
class TimeoutResult:
    """One run. Per attempt: its request, start, backend latency and whether it timed out. Per
    request: its arrival, attempts, whether it was answered, and how long the caller waited."""

    arrivals: np.ndarray
    attempt_request: np.ndarray
    attempt_start: np.ndarray
    attempt_latency: np.ndarray
    timed_out: np.ndarray
    answered: np.ndarray
    waited: np.ndarray
    timeout: float
    horizon: float
    params: dict

    @property
    def requests(self) -> int:
        return len(self.arrivals)

    @property
    def attempts(self) -> int:
        return len(self.attempt_start)

    def share_504(self) -> float:
        """Share of attempts that got a 504."""
        return float(self.timed_out.mean()) if self.attempts else math.nan

    def share_given_up(self) -> float:
        """Share of requests whose every attempt got a 504."""
        return float(1.0 - self.answered.mean()) if self.requests else math.nan

    def backend_rate(self) -> float:
        """Backend invocations per second (every attempt runs to its end)."""
        return self.attempts / self.horizon

    def wasted_work(self) -> float:
        """Share of the backend's busy time spent on attempts whose caller had already got a 504."""
        busy = float(self.attempt_latency.sum())
        return float(self.attempt_latency[self.timed_out].sum()) / busy if busy else 0.0

    def backend_busy(self, grid) -> np.ndarray:
        """Backend executions in progress at each time of ``grid`` (offered load, in use)."""
        o = np.argsort(self.attempt_start)                 # in_progress needs the starts sorted
        start = self.attempt_start[o]
        return traffic.in_progress(start, start + self.attempt_latency[o], grid)

    def wait_percentiles(self, q=(50, 95, 99)) -> dict:
        if not self.requests:
            return {p: math.nan for p in q}
        return dict(zip(q, np.percentile(self.waited, q).tolist()))

    def books(self) -> dict:
        """``requests == answered + given_up``, ``attempts == attempts_2xx + attempts_504``,
        ``attempts == requests + retries`` and ``answered == attempts_2xx`` (each answered request
        has exactly one 2xx attempt)."""
        tried = len(np.unique(self.attempt_request))
        return {"requests": self.requests, "answered": int(self.answered.sum()),
                "given_up": int((~self.answered).sum()), "attempts": self.attempts,
                "attempts_2xx": int((~self.timed_out).sum()), "attempts_504": int(self.timed_out.sum()),
                "retries": self.attempts - tried}


def _check_latency(latency_kind, mean_latency, latency_cv) -> tuple:
    """The integration's latency distribution, each parameter checked under its own name."""
    kind = check_choice("latency_kind", latency_kind, traffic.DURATION_KINDS)
    mean = check_number("mean_latency", mean_latency, 0, 900, lo_open=True,
                        why="seconds; a Lambda integration runs at most 900 s")
    cv = check_number("latency_cv", latency_cv, 0, traffic.MAX_DURATION_CV, lo_open=True,
                      why="standard deviation / mean, for the lognormal latency")
    return kind, mean, cv


def check_timeout(api_type: str = "REST", timeout: float = REST_TIMEOUT_DEFAULT_S) -> float:
    """The integration timeout allowed for ``api_type`` at its default quota, by the ranges of
    :data:`labsim.apigateway.INTEGRATION_TIMEOUT_RANGE`: REST 0.05 to 29 s, HTTP 0.05 to 30 s."""
    api_type = check_choice("api_type", api_type, API_TYPES)
    lo, hi = apigateway.INTEGRATION_TIMEOUT_RANGE[api_type]
    why = ("an HTTP API's range, which cannot be raised" if api_type == "HTTP"
           else "a REST API's default range; only a Regional or private REST API can have it raised")
    return check_number("timeout", timeout, lo, hi, why=why)


def simulate_timeouts(rate: float = 20.0, horizon: float = 60.0, *, api_type: str = "REST",
                      timeout: float = REST_TIMEOUT_DEFAULT_S, latency_kind: str = "lognormal",
                      mean_latency: float = 5.0, latency_cv: float = 1.5, retries: int = 0,
                      backoff: float = 1.0, seed: int = 0) -> TimeoutResult:
    """Poisson requests at ``rate`` per second for ``horizon`` seconds to an integration whose
    latency has mean ``mean_latency`` (``latency_kind``, ``latency_cv``), behind an integration
    timeout of ``timeout`` seconds; the caller retries each 504 up to ``retries`` times."""
    timeout = check_timeout(api_type, timeout)
    latency_kind, mean_latency, latency_cv = _check_latency(latency_kind, mean_latency, latency_cv)
    rate = check_number("rate", rate, 0, 10_000, why="requests per second, the model's limit")
    horizon = check_number("horizon", horizon, 0, 3_600, lo_open=True, why="seconds, the model's limit")
    retries = check_int("retries", retries, 0, MAX_RETRIES, why="the caller's retries after a 504")
    backoff = check_number("backoff", backoff, 0, 60, why="seconds between a 504 and the retry")
    rng = traffic.make_rng(seed)
    t = traffic.poisson(rate, horizon, rng)
    n = len(t)
    req_of, starts, lats, outs = [], [], [], []
    answered = np.zeros(n, bool)
    waited = np.zeros(n)
    live = np.arange(n)                               # requests still trying, their next start
    nxt = t.copy()
    for _ in range(retries + 1):
        lat = traffic.durations(latency_kind, mean_latency, len(live), rng, latency_cv)
        late = lat > timeout
        req_of.append(live)
        starts.append(nxt)
        lats.append(lat)
        outs.append(late)
        waited[live] += np.where(late, timeout, lat)
        answered[live[~late]] = True
        live, nxt = live[late], nxt[late] + timeout + backoff
        waited[live] += backoff
        if not len(live):
            break
    waited[~answered] -= backoff                      # no pause after the last 504
    return TimeoutResult(t, np.concatenate(req_of), np.concatenate(starts), np.concatenate(lats),
                         np.concatenate(outs), answered, waited, timeout, float(horizon),
                         {"api_type": api_type, "timeout": timeout, "latency_kind": latency_kind,
                          "mean_latency": mean_latency, "latency_cv": latency_cv, "retries": retries,
                          "backoff": backoff, "seed": seed})


def p_timeout(latency_kind: str, mean_latency: float, latency_cv: float, timeout: float) -> float:
    """Theory: the chance that one attempt's latency passes the timeout, P(L > timeout)."""
    latency_kind, m, cv = _check_latency(latency_kind, mean_latency, latency_cv)
    tau = check_number("timeout", timeout, 0, lo_open=True)
    if latency_kind == "fixed":
        return float(m > tau)
    if latency_kind == "exponential":
        return math.exp(-tau / m)
    s2 = math.log1p(cv * cv)
    z = (math.log(tau) - (math.log(m) - s2 / 2)) / math.sqrt(s2)
    return 0.5 * math.erfc(z / math.sqrt(2))
