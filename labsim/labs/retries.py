"""Labs for chapter 4: a retry storm against a concurrency limit, and the contention experiment."""

from __future__ import annotations

from functools import lru_cache

from .. import plots, retry
from ..retry import RetryBudget, RetryPolicy
from ..validation import check_bool, check_choice, check_int, check_number
from .base import Lab, checkbox, dropdown, float_slider, int_slider, register

__all__ = ["retry_storm_lab", "contention_lab", "storm_model", "contention_model",
           "STORM_DEFAULTS", "CONTENTION_SETS", "cached_sweep"]

#: The retry-storm scenario: 200 calls/s to a function limited to 50 concurrent executions of
#: 0.1 s (it can serve 500/s), with a burst of extra calls in half a second at t = 2 s.
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
