"""Figures for chapter 4a: where asynchronous events end, and duplicated charges."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..idempotency import IdempotencyResult
from ..lambda_async import (DESTINATION_AND_DLQ, DLQ, FAILURE_DESTINATION, LOST, PENDING, SUCCESS_DESTINATION,
                            SUCCESS_NO_DESTINATION, WHERE_NAMES, AsyncResult)
from ..theory import retry_success_probability
from .base import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, figure

__all__ = ["async_figure", "idempotency_figure"]

#: Drawing order (bottom to top) and colour of each place.
_ORDER = (SUCCESS_DESTINATION, SUCCESS_NO_DESTINATION, FAILURE_DESTINATION, DESTINATION_AND_DLQ, DLQ, LOST,
          PENDING)
_COLOUR = {SUCCESS_DESTINATION: GREEN, SUCCESS_NO_DESTINATION: "#98df8a", FAILURE_DESTINATION: ORANGE,
           DESTINATION_AND_DLQ: "#c49c94", DLQ: PURPLE, LOST: RED, PENDING: GREY}
_SHORT = {SUCCESS_DESTINATION: "on-success dest.", SUCCESS_NO_DESTINATION: "succeeded",
          FAILURE_DESTINATION: "on-failure dest.", DESTINATION_AND_DLQ: "dest. + DLQ", DLQ: "DLQ", LOST: "lost",
          PENDING: "in flight"}


def async_figure(result: AsyncResult, points: int = 120) -> Figure:
    """Left: where the events are over time (stacked). Right: final counts per place, with the
    closed-form success count 1 - p^(r+1) when there is no throttling and no age limit in play."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    g = np.linspace(0.0, result.horizon, points)
    w = result.where_over_time(g)
    shown = [k for k in _ORDER if w[k].any()] or [PENDING]
    ax1.stackplot(g / 60, *[w[k] for k in shown], colors=[_COLOUR[k] for k in shown],
                  labels=[WHERE_NAMES[k] for k in shown])
    ax1.set(xlabel="time (min)", ylabel="events", title="Where the events are")
    ax1.legend(loc="upper left", fontsize=7)
    counts = [result.count_where(k) for k in _ORDER]
    ypos = np.arange(len(_ORDER))[::-1]
    ax2.barh(ypos, counts, color=[_COLOUR[k] for k in _ORDER])
    ax2.set_yticks(ypos, [f"{_SHORT[k]}: {c:,}" for k, c in zip(_ORDER, counts)], fontsize=7)
    p = result.params
    fin = int(result.finished.sum())
    expect = fin * retry_success_probability(p["error_rate"], p["max_retry_attempts"])
    ax2.plot([expect, expect], [ypos[1] - 0.5, ypos[0] + 0.5], color="black", ls="--", lw=1,
             label="1 - p^(r+1) of finished")
    ax2.set(xlabel="events", title="Where they ended", xlim=(0, 1.2 * max(max(counts), 1)))
    ax2.legend(loc="lower right", fontsize=7)
    ax2.tick_params(axis="y", pad=1)
    return fig


def idempotency_figure(result: IdempotencyResult, store: bool = True, points: int = 300) -> Figure:
    """Left: cumulative charges with the chosen handler (``store``: with a key store) against
    unique events, the other handler faint. Right: when the duplicates arrive, against the key's
    TTL; red ones charged the card again."""
    fig, (ax1, ax2) = figure(2)
    p = result.params
    end = max(float(result.without_store.time.max()) if result.without_store.deliveries else 1.0, 1.0)
    g = np.linspace(0.0, end, points)
    ax1.plot(g / 60, np.searchsorted(result.arrival, g, side="right"), color=GREY, ls=":",
             label="unique events")
    ax1.plot(g / 60, result.without_store.cumulative_charges(g), color=RED, alpha=0.3 if store else 1.0,
             label="charges, no key store")
    ax1.plot(g / 60, result.with_store.cumulative_charges(g), color=BLUE, alpha=1.0 if store else 0.3,
             label=f"charges, key store (TTL {p['ttl'] / 60:g} min)")
    ax1.set(xlabel="time (min)", ylabel="card charges",
            title="Charges over time: " + ("with" if store else "without") + " a key store")
    ax1.legend(loc="upper left", fontsize=7)
    d = result.delay[np.isfinite(result.delay)] / 60
    ttl = p["ttl"] / 60
    hi = max(float(d.max()) if len(d) else 1.0, ttl) * 1.05
    edges = np.linspace(0.0, hi, 41)
    skip = (d < ttl) if store else np.zeros(len(d), bool)
    before, _ = np.histogram(d[skip], edges)
    after, _ = np.histogram(d[~skip], edges)
    ax2.stairs(before, edges, fill=True, color=BLUE, alpha=0.6, label="skipped (key still valid)")
    ax2.stairs(after, edges, fill=True, color=RED, alpha=0.8, label="charged again")
    ax2.axvline(ttl, color="black", ls="--", lw=1, label="key TTL")
    ax2.set(xlabel="duplicate arrives after first delivery (min)", ylabel="duplicates",
            title="Duplicates against the key's TTL")
    ax2.legend(loc="upper right", fontsize=7)
    return fig
