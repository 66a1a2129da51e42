"""Figures for the Kinesis chapter: per-shard load against the write limit, what each consuming
application gets, and iterator age per shard while a poison record blocks one. Each has the
shared "where every record went" panel beside it."""

from __future__ import annotations

import numpy as np

from ..kinesis import FATE_NAMES, FATE_ROLES, HASH_SPACE, MB, SHARD_WRITE_RECORDS_PER_S, Fate, StreamResult, md5_hash_key, route
from .base import CYCLE, ROLE, figure, flow

__all__ = ["hot_shard_figure", "consumers_figure", "poison_figure", "stream_flow", "routing_figure"]


def stream_flow(ax, r: StreamResult, labels: dict | None = None, title: str | None = None) -> None:
    """The shared flow panel for a stream: sent, then every fate with its count."""
    labels = labels or {}
    flow(ax, len(r.arrival), [(labels.get(f, FATE_NAMES[f]), r.count(f), FATE_ROLES[f]) for f in Fate
                              if f in labels or r.count(f) or f == Fate.THROTTLED],
         what="records", title=title or f"Where all {len(r.arrival):,} records went")


def _limit_per_s(size: float) -> float:
    return min(SHARD_WRITE_RECORDS_PER_S, MB / size)


def hot_shard_figure(r: StreamResult, since: float = 0.0) -> "Figure":  # noqa: F821
    """Left: records per second offered to each shard (accepted + throttled) against the write
    limit (1,000 records/s, or 1 MiB/s over the record size if that is lower). Right: flow."""
    fig, (ax, axf) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    m = r.arrival >= since
    span = r.horizon - since
    n = r.n_shards
    acc = np.bincount(r.shard[m & r.accepted], minlength=n) / span
    thr = np.bincount(r.shard[m & ~r.accepted], minlength=n) / span
    x = np.arange(n)
    ax.bar(x, acc, color=ROLE["processed"], label="accepted")
    ax.bar(x, thr, bottom=acc, color=ROLE["throttled"], label="throttled (ProvisionedThroughputExceeded)")
    size = float(np.median(r.size)) if len(r.size) else 1.0
    lim = _limit_per_s(size)
    ax.axhline(lim, color=ROLE["limit"], ls="--", lw=1.2)
    ax.text(n - 0.5, lim, f"limit {lim:,.0f} records/s", color=ROLE["limit"], ha="right", va="bottom", fontsize=8)
    ax.set_xticks(x, [str(i) for i in x] if n <= 16 else [str(i) if i % 4 == 0 else "" for i in x])
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, max(1.25 * lim, 1.1 * float((acc + thr).max(initial=0))))
    worst = int(np.argmax(acc + thr)) if n else 0
    busy = (acc + thr)[worst] if n else 0.0
    ax.set(xlabel="shard", ylabel="records per second",
           title=(f"Shard {worst} is hot: {busy:,.0f} records/s against {lim:,.0f}" if busy > lim
                  else "Every shard is under its write limit"))
    ax.legend(loc="upper left", fontsize=7)
    stream_flow(axf, r, {Fate.PENDING: "accepted (in the stream)", Fate.THROTTLED: "throttled at put"})
    return fig


def consumers_figure(r: StreamResult, names) -> "Figure":  # noqa: F821
    """Left: bytes per second each application reads, against the write rate and the 2 MB/s
    shared read limit split between them; each bar is labelled with the application's delay."""
    fig, (ax, axf) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    since = min(5.0, r.horizon / 2)
    got = r.throughput(since) / 1024
    m = r.accepted & (r.arrival >= since)
    written = r.size[m].sum() / 1024 / (r.horizon - since)
    x = np.arange(len(got))
    ax.bar(x, got, color=[CYCLE[i % len(CYCLE)] for i in x])
    delays = r.read_delay()
    for i, d in enumerate(delays):
        last = d[-1] if len(d) else float("nan")
        ax.text(i, got[i], f"{last:.2f} s" if last < 10 else f"{last:.0f} s", ha="center", va="bottom", fontsize=7)
    ax.axhline(written, color="black", ls=":", lw=1.2)
    ax.text(-0.5, written, f"written {written:,.0f} KiB/s", ha="left", va="bottom", fontsize=8)
    efo = r.params["efo"]
    per = 2 * MB / 1024 if efo else 2 * MB / 1024 / max(len(got), 1)
    ax.axhline(per, color=ROLE["limit"], ls="--", lw=1.2)
    ax.text(len(got) - 0.5, per, f"{'own' if efo else 'shared'} read limit {per:,.0f} KiB/s each",
            color=ROLE["limit"], ha="right", va="top" if per < written else "bottom", fontsize=8)
    ax.set_xticks(x, list(names)[:len(got)], fontsize=7)
    ax.set_xlim(-0.6, len(got) - 0.4)
    ax.set_ylim(0, 1.3 * max(written, per))
    behind = got < 0.97 * written
    ax.set(ylabel="KiB per second per shard",
           title=("Each application keeps up" if not behind.any() else
                  f"{int(behind.sum())} of {len(got)} applications fall behind") + " (label: delay)")
    stream_flow(axf, r, {Fate.PROCESSED: "read by every app", Fate.PENDING: "not yet read by all"})
    return fig


def poison_figure(r: StreamResult, bad_index: int, where: str, points: int = 301) -> "Figure":  # noqa: F821
    """Left: iterator age per shard over time (the shard holding the bad record highlighted).
    Right: flow, with the on-failure destination named."""
    fig, (ax, axf) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    g = np.linspace(0.0, r.horizon, points)
    age = r.iterator_age(g)
    s = int(r.shard[bad_index])
    for i in range(r.n_shards):
        if i != s:
            ax.plot(g / 60, age[i], color=ROLE["other"], lw=1, label="other shards" if i == (1 if s == 0 else 0) else None)
    ax.plot(g / 60, age[s], color=ROLE["lost"], lw=2, label=f"shard {s} (the bad record's)")
    ax.axvline(r.arrival[bad_index] / 60, color="black", ls=":", lw=1)
    ax.set(xlabel="time (min)", ylabel="iterator age (s)", title=f"Bad record: {where}")
    ax.legend(loc="upper left", fontsize=7)
    dest = r.params["destination"]
    stream_flow(axf, r, {Fate.DESTINATION: f"on-failure destination ({dest})" if dest != "none"
                         else "on-failure destination (none)"})
    return fig


def routing_figure(keys, layouts) -> "Figure":  # noqa: F821
    """Each row is one layout of open shards, ``(title, ranges)``: the hash-key space [0, 2^128)
    as a bar cut into the shards' ranges, and each key's MD5 hash key as a marker in its shard.
    A range keeps its colour from row to row, so a split shows as the one range that changed."""
    fig, ax = figure(1, size=(10, 1.4 + 1.0 * len(layouts)))
    pos = np.array([md5_hash_key(k) / HASH_SPACE for k in keys])
    colour: dict = {}
    for row, (title, ranges) in enumerate(layouts):
        y = len(layouts) - 1 - row
        cols = [colour.setdefault(rg, CYCLE[len(colour) % len(CYCLE)]) for rg in ranges]
        for i, (a, b) in enumerate(ranges):
            ax.barh([y], [(b - a + 1) / HASH_SPACE], left=a / HASH_SPACE, height=0.5,
                    color=cols[i], alpha=0.35, edgecolor="black", linewidth=0.6)
            ax.text((a + (b - a + 1) / 2) / HASH_SPACE, y - 0.2, f"shard {i}", ha="center", va="center", fontsize=7)
        sh = route(np.array(keys), ranges)
        ax.scatter(pos, np.full(len(pos), y + 0.05), c=[cols[i] for i in sh], s=18, zorder=3,
                   edgecolors="black", linewidths=0.5)
        ax.text(0.002, y + 0.3, title, ha="left", va="bottom", fontsize=8)
    for x, k in zip(pos, keys):
        ax.text(x, -0.4, str(k), rotation=60, ha="right", va="top", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_ylim(-1.5, len(layouts) - 0.3)
    ax.set_yticks([])
    ax.set_xlabel("MD5 hash key as a fraction of 2^128")
    ax.set_title("Each key's MD5 hash picks a shard; a split moves only the split shard's keys")
    return fig
