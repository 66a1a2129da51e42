"""Lab for the AppFlow chapter: a CRM day moved to S3 by three flows."""

from __future__ import annotations

from .. import appflow as af, plots
from ..validation import check_choice
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["appflow_lab"]


def appflow_model(interval_min, changes_per_hour, api_rate, page_size, bad_email_pct, books):
    check_choice("books", books, tuple(af.LAB_FLOWS))
    return af.simulate_day(interval_min=interval_min, changes_per_hour=changes_per_hour, api_rate=api_rate,
                           page_size=page_size, bad_email_pct=bad_email_pct)


def appflow_view(res, interval_min, changes_per_hour, api_rate, page_size, bad_email_pct, books):
    parts = []
    for name, r in res.items():
        lag = af.mean_lag_hours(r)                   # NaN when no edit reached S3
        parts.append(f"{name}: <b>{r.records_transferred:,}</b> records written, <b>{r.api_calls:,}</b> API calls, "
                     + (f"mean lag {60 * lag:.1f} min" if lag == lag else "no edit reached S3"))
    b = res[books]
    text = (f"Every {interval_min} min; {changes_per_hour:,} edits/hour on average; SaaS API {api_rate} calls/s, "
            f"{page_size:,} records per call (assumptions); {bad_email_pct}% invalid emails. " + "; ".join(parts)
            + f". Books for {books}: {b.tasks['masked']:,} emails masked, {b.tasks['filtered']:,} rows filtered, "
            f"{b.tasks['rejected']:,} rejected by validation.")
    return plots.appflow_figure(res, books), text


@register
def appflow_lab() -> Lab:
    """A synthetic CRM day moved to S3 by a scheduled full, a scheduled incremental and an event-triggered flow."""
    return Lab({"interval_min": _int("schedule: every (min)", 60, 15, 240, 15),
                "changes_per_hour": _int("CRM edits per hour", 120, 20, 600, 20),
                "api_rate": _int("SaaS API calls/s (assumption)", 5, 1, 20),
                "page_size": _int("records per API call (assumption)", 200, 100, 2_000, 100),
                "bad_email_pct": _int("invalid emails (%)", 3, 0, 20),
                "books": _drop("where every edit went, for", list(af.LAB_FLOWS), "scheduled incremental")},
               appflow_model, appflow_view,
               "Edits not yet in S3 over the day per flow, records moved with the tasks' counts and API calls, "
               "and where every edit went")
