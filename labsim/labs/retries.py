"""Labs for client retries (chapters/04): a retry storm against a concurrency limit, and the contention
experiment."""

from __future__ import annotations

from functools import lru_cache

from .. import plots, retry
from ..retry import RetryBudget, RetryPolicy
from ..validation import check_bool, check_choice, check_int, check_number
from .base import Lab, checkbox, dropdown, float_slider, int_slider, register

__all__ = ["retry_storm_lab", "contention_lab", "storm_model", "contention_model",
           "STORM_DEFAULTS", "CONTENTION_SETS", "cached_sweep"]

#: The retry-storm scenario: 200 calls/s to a function limited to 50 concurrent executions of
#: 0.1 s (it can serve 500/s), with a spike of extra calls in half a second at t = 2 s.
STORM_DEFAULTS = dict(base_rate=200.0, spike_start=2.0, spike_length=0.5, horizon=30.0,
                      duration=0.1, concurrency_limit=50, rtt=0.01)
#: The retry budget the lab switches on.
LAB_BUDGET = RetryBudget(capacity=50, refill=0.1)

_STRATEGY_OPTIONS = [(plots.STRATEGY_LABELS[s], s) for s in retry.STRATEGIES]


#: Most calls the storm lab's spike may hold (its slider stops at 4,000; at 10 attempts each this
#: stays within the model's bound on attempts).
STORM_MAX_SPIKE_CALLS = 40_000


def storm_model(strategy, base, cap, max_attempts, budget, spike_calls):
    spike_calls = check_number("spike_calls", spike_calls, 0, STORM_MAX_SPIKE_CALLS)
    budget = check_bool("budget", budget)
    policy = RetryPolicy(strategy, base, cap, max_attempts)
    kw = dict(STORM_DEFAULTS)
    spike_rate = spike_calls / kw["spike_length"]
    return retry.simulate_client_retries(policy, LAB_BUDGET if budget else None,
                                         spike_rate=spike_rate, **kw)


def storm_view(r, strategy, base, cap, max_attempts, budget, spike_calls):
    b = r.books()
    text = (f"{plots.STRATEGY_LABELS[strategy]}, base {base:g} s, cap {cap:g} s, up to "
            f"{max_attempts} attempts, retry budget {'on' if budget else 'off'}; spike of about "
            f"{spike_calls:,} calls in {STORM_DEFAULTS['spike_length']:g} s. "
            f"<b>{100 * r.success_rate:.1f}%</b> of {r.calls:,} calls succeeded "
            f"({b['gave_up']:,} gave up, {b['budget_denied']:,} refused by the budget); "
            f"<b>{r.amplification:.2f}</b> attempts per call ({r.total_attempts:,} in all); "
            f"the spike's backlog drained <b>{r.drain_time:.1f} s</b> after it ended.")
    return plots.retry_storm_figure(r), text


@register
def retry_storm_lab() -> Lab:
    """Client retries of 429s during a spike: storm or cure, depending on the policy."""
    return Lab({"strategy": dropdown("retry strategy", _STRATEGY_OPTIONS, "exponential"),
                "base": float_slider("base delay (s)", 0.1, 0.01, 1.0, 0.01),
                "cap": float_slider("cap (s)", 20.0, 1.0, 60.0, 1.0),
                "max_attempts": int_slider("max attempts", 10, 1, 10),
                "budget": checkbox("retry budget (token bucket)", False),
                "spike_calls": int_slider("calls in the spike", 2_000, 0, 4_000, 250)},
               storm_model, storm_view,
               "Attempts per second reaching the function, and running executions and waiting "
               "callers over time, during a spike of calls retried by their callers")


# --- the contention experiment -------------------------------------------------------------------
#: Strategy subsets the contention lab can show.
CONTENTION_SETS = {
    "all five strategies": retry.CONTENTION_STRATEGIES,
    "jittered only": retry.JITTERED,
    "exponential vs full jitter": ("exponential", "full_jitter"),
}
#: Replications per (strategy, N) point of the precomputed sweep.
SWEEP_REPLICATIONS = 20


@lru_cache(maxsize=1)
def cached_sweep() -> retry.ContentionSweep:
    """The blog's sweep (N = 10 .. 100, all strategies), computed once: no control changes it."""
    return retry.contention_sweep(replications=SWEEP_REPLICATIONS)


def contention_model(n_clients, strategies):
    """The precomputed sweep: the controls only choose what the view shows (checked here)."""
    check_int("n_clients", n_clients, 1, retry.MAX_CLIENTS)
    check_choice("strategies", strategies, CONTENTION_SETS)
    return cached_sweep()


def contention_view(sw, n_clients, strategies):
    shown = CONTENTION_SETS[strategies]
    n_clients = sw.nearest_n(n_clients)          # a typed 78 shows the swept N = 80
    parts = []
    for s in shown:
        calls, t = sw.at(s, n_clients)
        parts.append(f"{plots.STRATEGY_LABELS[s]} <b>{calls:,.0f}</b> calls, {t:.2f} s")
    text = (f"{strategies}; with N = {n_clients} clients (mean of {sw.replications} runs): "
            + "; ".join(parts) + ".")
    return plots.contention_figure(sw, shown, n_clients), text


@register
def contention_lab() -> Lab:
    """N clients writing one record with optimistic concurrency, per backoff strategy."""
    return Lab({"n_clients": int_slider("clients N", 100, 10, 100, 10),
                "strategies": dropdown("show", list(CONTENTION_SETS), "all five strategies")},
               contention_model, contention_view,
               "Total write calls and completion time against the number of contending clients, "
               "one line per backoff strategy")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)

def _spike_success(r):
    """Share of the calls that arrived during the spike that succeeded (after however many attempts)."""
    m = (r.arrival >= r.spike_start) & (r.arrival < r.spike_end)
    return float((r.outcome[m] == int(retry.CallOutcome.SUCCEEDED)).mean())


steps("retry_storm_lab",
      Step(key="defaults", title="Plain exponential backoff",
           values={},
           ask="At the defaults every refused caller retries with plain exponential backoff (base 0.1 s, cap "
               "20 s, up to 10 attempts). What share of the calls succeed, and how long after the spike does the "
               "backlog of waiting callers drain? Watch when the refused callers come back.",
           answer="About {success:.0%} of all calls in the 30-second run succeed, {spike:.0%} of the spike's, but "
                  "slowly: the refused callers come back together, in waves at "
                  "0.1, 0.3, 0.7, 1.5 s ... after their refusal, and each wave is refused again except for the 50 "
                  "that fit. The backlog drains only about {drain} s after the spike.",
           measure=lambda r: {"success": r.success_rate, "drain": r.drain_time, "spike": _spike_success(r)},
           expect={"success": Expect(0.98, abs=0.005), "drain": Expect(45, rel=0.15), "spike": Expect(0.92, abs=0.005)}),
      Step(key="full-jitter", title="Full jitter",
           values={"strategy": "full_jitter"},
           ask="Choose full jitter: each wait is drawn at random between zero and the exponential backoff. How "
               "many calls succeed now, and how soon does the backlog drain?",
           answer="Every call succeeds ({success:.0%}) and the backlog drains in about {drain} s, less than half "
                  "the time of plain exponential backoff: the retries are spread out evenly.",
           measure=lambda r: {"success": r.success_rate, "drain": r.drain_time},
           expect={"success": Expect(1.0), "drain": Expect(20, rel=0.15)}),
      Step(key="three-attempts", title="The SDKs' three attempts",
           values={"strategy": "full_jitter", "max_attempts": 3},
           ask="Keep full jitter but allow 3 attempts, the SDKs' default, instead of 10. Does full jitter still "
               "save every call of the half-second spike?",
           answer="No: only about {spike:.0%} of the spike's calls succeed ({success:.0%} of all calls in the run), "
                  "hardly more than the 12% with no retries. With a base of 0.1 s "
                  "both retries come within 0.3 s of the refusal, inside the spike; it takes more attempts, or a "
                  "longer base, for the waits to reach past it.",
           measure=lambda r: {"success": r.success_rate, "spike": _spike_success(r)},
           expect={"success": Expect(0.79, abs=0.005), "spike": Expect(0.18, abs=0.005)}),
      Step(key="budget", title="A retry budget",
           values={"strategy": "immediate", "budget": True},
           ask="Choose no backoff (immediate), the storm of the figure above, and tick retry budget: a token "
               "bucket of 50 tokens, one per retry, a tenth of a token back per success. What happens to the "
               "attempts per call, and to the share that succeeds?",
           answer="The budget runs dry within the spike: about {attempts} attempt per call. It stops the storm "
                  "but also the retries that would have helped: {spike:.0%} of the spike's calls succeed "
                  "({success:.0%} of all), as with no retries at all.",
           measure=lambda r: {"attempts": r.amplification, "success": r.success_rate, "spike": _spike_success(r)},
           expect={"attempts": Expect(1.0, abs=0.05), "success": Expect(0.77, abs=0.005), "spike": Expect(0.12, abs=0.005)}),
      Step(key="short-cap", title="A bigger spike and a short cap",
           values={"strategy": "full_jitter", "spike_calls": 4_000, "cap": 1.0},
           ask="Full jitter, twice the spike (spike calls 4,000: 8,000 per second for the same half second), and "
               "the cap lowered to 1 s. Does full jitter still save every call?",
           answer="No: with every wait under 1 s the retries all land while the function is still full. Only "
                  "about {spike:.0%} of the spike's calls succeed ({success:.0%} of all), at about {attempts} "
                  "attempts per call.",
           measure=lambda r: {"success": r.success_rate, "attempts": r.amplification, "spike": _spike_success(r)},
           expect={"success": Expect(0.78, abs=0.005), "attempts": Expect(4.4, rel=0.05),
                   "spike": Expect(0.47, abs=0.01)}))


def _spread(sweep, i):
    """Most calls over fewest calls among the strategies, at the sweep's i-th N."""
    c = sweep.calls[:, i]
    return float(c.max() / c.min())


steps("contention_lab",
      Step(key="clients-20", title="Fewer clients",
           values={"n_clients": 20},
           ask="Move clients N from 100 down to 20. How much more work does the most wasteful strategy do "
               "than the thriftiest one?",
           answer="About {spread_20} times the calls at 20 clients, against about {spread_100} times at 100: "
                  "the gap between strategies grows with contention.",
           measure=lambda sw: {"spread_20": _spread(sw, list(sw.n_values).index(20)),
                               "spread_100": _spread(sw, list(sw.n_values).index(100))},
           expect={"spread_20": Expect(1.5, rel=0.15), "spread_100": Expect(2.8, rel=0.15)}))
