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
            f"{page_size:,} records per call (assumptions); {bad_email_pct}% of emails missing. " + "; ".join(parts)
            + f". Books for {books}: {b.tasks['masked']:,} emails masked, {b.tasks['filtered']:,} rows filtered, "
            f"{b.tasks['rejected']:,} rejected by Validate (no email).")
    return plots.appflow_figure(res, books), text


@register
def appflow_lab() -> Lab:
    """A synthetic CRM day moved to S3 by a scheduled full, a scheduled incremental and an event-triggered flow."""
    return Lab({"interval_min": _int("schedule: every (min)", 60, 15, 240, 15),
                "changes_per_hour": _int("CRM edits per hour", 120, 20, 600, 20),
                "api_rate": _int("SaaS API calls/s (assumption)", 5, 1, 20),
                "page_size": _int("records per API call (assumption)", 200, 100, 2_000, 100),
                "bad_email_pct": _int("missing emails (%)", 3, 0, 20),
                "books": _drop("where every edit went, for", list(af.LAB_FLOWS), "scheduled incremental")},
               appflow_model, appflow_view,
               "Edits not yet in S3 over the day per flow, records moved with the tasks' counts and API calls, "
               "and where every edit went")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factory: one block per module)

_FULL, _INC, _EVENT = "scheduled full", "scheduled incremental", "event-triggered"

steps("appflow_lab",
      Step(key="defaults", title="Hourly flows and an event flow",
           values={},
           ask="At the defaults (the scheduled flows run every 60 minutes; about 120 edits an hour), predict for "
               "each flow: how far behind the CRM is S3 on average? And which flow makes the most API calls in "
               "the day, and roughly how many times more than each of the other two?",
           answer="Both scheduled flows are about {lag_full:.0f} minutes behind (the wait for the next run), the "
                  "event-triggered flow about {lag_event:.0f} minute. The full flow makes the most calls: it "
                  "rewrites every account at every run, and 23 runs finish within the day, each reading all "
                  "50,000 accounts at 200 records per call: 23 × 250 = {calls_full:,} calls and about "
                  "{records_full:,} records, to carry about {records_inc:,} edits. That is about "
                  "{full_over_event:.0f} times the event-triggered flow's {calls_event:,} (one call per edit) "
                  "and about {full_over_inc:.0f} times the incremental flow's {calls_inc}.",
           measure=lambda res: {"lag_full": 60 * af.mean_lag_hours(res[_FULL]),
                                "lag_incremental": 60 * af.mean_lag_hours(res[_INC]),
                                "lag_event": 60 * af.mean_lag_hours(res[_EVENT]),
                                "records_full": res[_FULL].records_transferred,
                                "calls_full": res[_FULL].api_calls,
                                "records_inc": res[_INC].records_transferred,
                                "calls_inc": res[_INC].api_calls,
                                "calls_event": res[_EVENT].api_calls,
                                "full_over_event": res[_FULL].api_calls / res[_EVENT].api_calls,
                                "full_over_inc": res[_FULL].api_calls / res[_INC].api_calls},
           expect={"lag_full": Expect(30, rel=0.15), "lag_incremental": Expect(30, rel=0.15),
                   "lag_event": Expect(1, rel=0.15), "records_full": Expect(1_000_000, rel=0.15),
                   "calls_full": Expect(5_750), "records_inc": Expect(2_600, rel=0.15),
                   "calls_inc": Expect(32), "calls_event": Expect(3_044),
                   "full_over_event": Expect(2, rel=0.15), "full_over_inc": Expect(180, rel=0.15)}),
      Step(key="every-15-minutes", title="Run every 15 minutes",
           values={"interval_min": 15},
           ask="Set the schedule to every 15 minutes (from 60). How far behind the CRM are the scheduled "
               "flows now, and what happens to the full flow's API calls (5,750 a day at 60 minutes)?",
           answer="Both scheduled flows are now about {lag_full:.0f} minutes behind on average, and the full "
                  "flow's API calls quadruple, to about {calls_full:,}.",
           measure=lambda res: {"lag_full": 60 * af.mean_lag_hours(res[_FULL]),
                                "lag_incremental": 60 * af.mean_lag_hours(res[_INC]),
                                "calls_full": res[_FULL].api_calls},
           expect={"lag_full": Expect(9, rel=0.15), "lag_incremental": Expect(9, rel=0.15),
                   "calls_full": Expect(24_000, rel=0.15)}),
      Step(key="edits-600", title="A busy CRM",
           values={"changes_per_hour": 600},
           ask="Back at the defaults, set the CRM edits to 600 an hour, five times more. Which flows' API calls "
               "grow, and which stay as they were?",
           answer="The event-triggered flow's calls grow with the edits, to about {calls_event:,}: now more than "
                  "the full flow's {calls_full:,}, which do not change. The incremental flow needs {calls_inc}.",
           measure=lambda res: {"calls_event": res[_EVENT].api_calls, "calls_full": res[_FULL].api_calls,
                                "calls_inc": res[_INC].api_calls},
           expect={"calls_event": Expect(15_000, rel=0.15), "calls_full": Expect(5_750), "calls_inc": Expect(84)}),
      Step(key="page-2000", title="Bigger pages",
           values={"page_size": 2_000},
           ask="Back at the defaults, set the records per API call to 2,000 (from 200). How many API "
               "calls do the full and the incremental flow need?",
           answer="The full flow needs ten times fewer calls ({calls_full}), and the incremental flow makes "
                  "one call per run ({calls_incremental}).",
           measure=lambda res: {"calls_full": res[_FULL].api_calls, "calls_incremental": res[_INC].api_calls,
                                "runs": len(res[_INC].run_start)},
           expect={"calls_full": Expect(575), "calls_incremental": Expect(23), "runs": Expect(23)}),
      Step(key="bad-emails-20", title="Many missing emails",
           values={"bad_email_pct": 20},
           ask="Back at the defaults, raise the missing emails to 20% (from 3%, where Validate rejects 81 edits). "
               "How many edits does Validate reject now, and does it depend on the flow?",
           answer="{rejected} edits are rejected, the same number for all three flows: an edit is rejected when "
                  "its account has no email, and all three flows see the same edits of the same accounts. "
                  "When a flow reads an edit, and whether a newer edit supersedes it, does not change that.",
           measure=lambda res: {"rejected": res[_INC].count(af.REJECTED),
                                "same_in_all_flows": len({r.count(af.REJECTED) for r in res.values()}) == 1},
           expect={"rejected": Expect(552), "same_in_all_flows": Expect(True)}))
