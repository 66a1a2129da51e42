"""Where every item went: one figure panel shared by every service (SQS, SNS, Kinesis, capstone).

:func:`flow` draws the total sent on the left and one band to each final outcome on the right,
with counts, so a reader sees the books balance: nothing lost, nothing counted twice. It takes
an ordered mapping ``outcome name -> count`` plus the total, and refuses books that do not
balance. Colours come from :data:`ROLE_COLOURS` (a role per outcome, the same across the book).
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import BLUE, CYCLE, GREEN, GREY, ORANGE, PURPLE, RED

#: A colour per outcome role, the same in every service's flow.
ROLE_COLOURS = {
    "deleted": GREEN, "processed": GREEN, "succeeded": GREEN, "delivered": GREEN,
    "dlq": PURPLE, "DLQ": PURPLE, "dead-letter queue": PURPLE,
    "expired": GREY, "queued": "#aec7e8", "pending": "#aec7e8", "in flight": BLUE, "in_flight": BLUE,
    "deduplicated": ORANGE, "throttled": RED, "send throttled": RED, "lost": RED, "dropped": RED,
}


def flow(ax, total: int, outcomes: Mapping[str, int], colours: Mapping[str, str] | None = None,
         source: str = "sent", title: str | None = None) -> None:
    """Draw ``total`` splitting into ``outcomes`` (ordered name -> count) on ``ax``.

    Raises ValueError when the counts do not add up to ``total``.
    """
    counts = [int(v) for v in outcomes.values()]
    names = list(outcomes)
    if any(c < 0 for c in counts) or sum(counts) != int(total):
        raise ValueError(f"the books do not balance: {source}={int(total):,} but the outcomes "
                         f"{dict(zip(names, counts))} add up to {sum(counts):,}")
    colours = dict(colours or {})
    k = len(names)
    top = max(int(total), 1)
    slot = 0.09 * top                                    # room for a label, even for a count of 0
    gap = 0.03 * top
    boxes = [max(c, slot) for c in counts]               # layout heights on the right
    height = max(sum(boxes) + gap * (k - 1), top)
    ax.fill([0, 0.08, 0.08, 0], [height - top, height - top, height, height], color=GREY, lw=0)
    ax.text(0.04, height - top / 2, f"{source}\n{int(total):,}", rotation=90, ha="center", va="center",
            fontsize=8, color="white")
    left = 0.0
    right = height
    for j, (name, c) in enumerate(zip(names, counts)):
        col = colours.get(name) or ROLE_COLOURS.get(name) or CYCLE[j % len(CYCLE)]
        mid = right - boxes[j] / 2
        r0, r1 = mid - c / 2, mid + c / 2
        # a band from the left slice (read from the top) to the right box
        y_l1 = height - left
        y_l0 = y_l1 - c
        if c:
            ax.fill([0.08, 0.62, 0.62, 0.08], [y_l0, r0, r1, y_l1], color=col, alpha=0.35, lw=0)
            ax.fill([0.62, 0.7, 0.7, 0.62], [r0, r0, r1, r1], color=col, lw=0)
        else:
            ax.plot([0.62, 0.7], [mid, mid], color=col, lw=1)
        ax.text(0.72, mid, f"{name} {c:,}", va="center", fontsize=8,
                fontweight="bold" if c else "normal", color="black" if c else GREY)
        left += c
        right -= boxes[j] + gap
    ax.set_xlim(0, 1.3)
    ax.set_ylim(0, height * 1.02)
    ax.set_axis_off()
    ax.set_title(title or "Where every message went", fontsize=10)


def sqs_outcomes(books: Mapping[str, int], fifo: bool | None = None) -> dict:
    """SQS books (``QueueResult.books()``) as the ordered outcome mapping :func:`flow` draws.

    Send throttling and deduplication appear when ``fifo`` is true (or when they happened)."""
    out = {}
    if fifo or books.get("send_throttled", 0):
        out["send throttled"] = books["send_throttled"]
    if fifo or books.get("deduplicated", 0):
        out["deduplicated"] = books["deduplicated"]
    out["deleted"] = books["deleted"]
    out["dlq"] = books["dlq"]
    out["expired"] = books["expired"]
    out["queued"] = books["queued"]
    out["in flight"] = books["in_flight"]
    return out
