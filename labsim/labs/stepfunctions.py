"""Lab for the Step Functions chapter: chapter 1's long job run as a Map state."""

from __future__ import annotations

from .. import plots, stepfunctions as sf
from ..validation import check_int, check_number
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["map_lab"]

_HANDLING = [("none", "none"), ("Retry (1 s, x2, 3 retries)", "retry"), ("Retry + Catch", "retry_catch")]

#: The job of chapter 1: 20,000 items of about 0.5 s each.
LAB_ITEMS, LAB_SECONDS_PER_ITEM = 20_000, 0.5


def map_model(mode, max_concurrency, chunk_size, workflow, failure_pct, handling, tolerated_pct):
    failure_pct = check_int("failure_pct", failure_pct, 0, 99, why="percent of attempts that fail")
    tolerated_pct = check_number("tolerated_pct", tolerated_pct, 0, 100, why="ToleratedFailurePercentage")
    return sf.simulate_map(LAB_ITEMS, LAB_SECONDS_PER_ITEM, chunk_size=chunk_size, mode=mode,
                           max_concurrency=max_concurrency, workflow=workflow, failure_rate=failure_pct / 100,
                           handling=handling, tolerated_failure_pct=tolerated_pct)


def _cost(r: sf.MapResult) -> str:
    if r.workflow == "standard":
        return f"<b>{r.state_transitions:,}</b> state transitions (Standard)"
    parts = (f"<b>{r.express_requests:,}</b> Express request{'s' if r.express_requests != 1 else ''} and "
             f"<b>{r.express_duration:,.1f} s</b> of duration (billed per 100 ms; 64 MB assumed)")
    return parts + (f", plus {r.state_transitions} state transition for the parent's Map state"
                    if r.state_transitions else "")


def map_view(r, mode, max_concurrency, chunk_size, workflow, failure_pct, handling, tolerated_pct):
    done = (f"The Map <b>failed</b> after {r.fail_time / 60:,.1f} min ({r.reason})" if r.map_failed
            else f"The Map succeeded in <b>{r.wall_time / 60:,.1f} min</b>")
    text = (f"{r.mode.capitalize()} Map, MaxConcurrency {max_concurrency:,}: <b>{r.concurrency:,}</b> at once; "
            f"{r.iterations:,} iterations of up to {chunk_size:,} items (about {r.work.mean():,.0f} s each). "
            f"{done}. Items done: <b>{r.items_done:,}</b> of {int(r.items.sum()):,} "
            f"({r.items_to_redo:,} to redo). Error handling: {dict((v, k) for k, v in _HANDLING)[handling]}"
            + (f"; tolerated failures {tolerated_pct}%" if mode == "distributed"
               else f" (the tolerated {tolerated_pct}% is a distributed Map's setting)")
            + f". Cost units: {_cost(r)}; the Lambda invocations are billed apart.")
    return plots.map_figure(r), text


@register
def map_lab() -> Lab:
    """Chapter 1's 20,000-item job as a Map state: concurrency, workflow type, failures, Retry and Catch."""
    return Lab({"mode": _drop("Map mode", [("inline", "inline"), ("distributed", "distributed")], "inline"),
                "max_concurrency": _int("MaxConcurrency", 100, 10, 1_000, 10),
                "chunk_size": _int("items per iteration", 100, 100, 2_000, 100),
                "workflow": _drop("Express or Standard (inline: the workflow; distributed: each child)",
                                  [("Standard", "standard"), ("Express", "express")], "standard"),
                "failure_pct": _int("failed attempts (%)", 0, 0, 20),
                "handling": _drop("error handling", _HANDLING, "none"),
                "tolerated_pct": _int("tolerated failures (%, distributed)", 0, 0, 50, 5)},
               map_model, map_view,
               "Iterations running over time against the Map's concurrency, and where every iteration went")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factory: one block per module)

steps("map_lab",
      Step(key="distributed", title="Past the inline limit",
           values={"mode": "distributed"},
           ask="The inline Map asks for 100 at once and needs about 4.3 minutes. Switch to a distributed Map "
               "with the same MaxConcurrency of 100. How many iterations run at once now, and how long does "
               "the job take?",
           answer="{concurrency} at once instead of 40, so the 200 iterations of about 50 s need two rounds: "
                  "about {wall_min:.1f} minutes.",
           measure=lambda r: {"concurrency": r.concurrency, "wall_min": r.wall_time / 60},
           expect={"concurrency": Expect(100), "wall_min": Expect(1.8, rel=0.15)}),
      Step(key="fail-5", title="A failure, no Retry, no Catch",
           values={"failure_pct": 5},
           ask="Back to the inline Map: now 5% of the attempts fail, and the iteration has no Retry and no "
               "Catch. How many of the 20,000 items get done?",
           answer="{items_done}: the first failed iteration fails the whole Map after about {fail_s:.0f} s. "
                  "The {aborted} other running iterations are stopped and {not_started} never start.",
           measure=lambda r: {"items_done": r.items_done, "fail_s": r.fail_time, "aborted": r.count(sf.ABORTED),
                              "not_started": r.count(sf.NOT_STARTED)},
           expect={"items_done": Expect(0), "fail_s": Expect(22, rel=0.15), "aborted": Expect(39),
                   "not_started": Expect(160)}),
      Step(key="retry", title="Add a Retry",
           values={"failure_pct": 5, "handling": "retry"},
           ask="Add a Retry with AWS's defaults (1 s, doubling, 3 retries). How many items get done now, and "
               "how many state transitions does the run cost (201 without failures)?",
           answer="All {items_done:,}. About {retried} iterations needed a retry, some of them twice: {retries} "
                  "retries in all. Each retry, not each iteration, is one more state transition: "
                  "201 + {retries} = {transitions}.",
           measure=lambda r: {"items_done": r.items_done, "retried": r.count(sf.RETRIED),
                              "retries": int((r.attempts - 1).sum()), "transitions": r.state_transitions},
           expect={"items_done": Expect(20_000), "retried": Expect(8, rel=0.15), "retries": Expect(10),
                   "transitions": Expect(211)}),
      Step(key="too-long", title="Retry and Catch a chunk that is too long",
           values={"chunk_size": 2_000, "handling": "retry_catch"},
           ask="No random failures now, but 2,000 items per iteration: about 1,000 s of work, over Lambda's "
               "900 s. With Retry and Catch, does the Map succeed, and how many items are done?",
           answer="The Map succeeds and does nothing: every attempt times out, the {caught} iterations end in "
                  "the Catch's fallback state, {items_done} items are done, and the retries spent about "
                  "{wall_min:.0f} minutes and {transitions} state transitions.",
           measure=lambda r: {"caught": r.count(sf.CAUGHT), "items_done": r.items_done, "map_failed": r.map_failed,
                              "wall_min": r.wall_time / 60, "transitions": r.state_transitions,
                              "work": r.work.mean(), "over_timeout": bool(r.work.min() > 900)},
           expect={"caught": Expect(10), "items_done": Expect(0), "map_failed": Expect(False),
                   "wall_min": Expect(60, rel=0.15), "transitions": Expect(51), "work": Expect(1_000, rel=0.15),
                   "over_timeout": Expect(True)}),
      Step(key="express-children", title="Express child workflows",
           values={"mode": "distributed", "workflow": "express", "chunk_size": 1_000},
           ask="A distributed Map whose children are Express workflows, with 1,000 items per iteration as in "
               "Lambda at a glance (about 500 s each). What happens to the children?",
           answer="All {failed} fail at the Express limit of five minutes ({wall_s:.0f} s), and the Map fails. "
                  "They still cost {requests} requests and {duration:,.0f} s of duration.",
           measure=lambda r: {"failed": r.count(sf.FAILED), "wall_s": r.wall_time, "requests": r.express_requests,
                              "duration": r.express_duration, "map_failed": r.map_failed, "work": r.work.mean()},
           expect={"failed": Expect(20), "wall_s": Expect(300), "requests": Expect(20),
                   "duration": Expect(6_000), "map_failed": Expect(True), "work": Expect(500, rel=0.15)}),
      Step(key="tolerate-25", title="Tolerate some failed items",
           values={"mode": "distributed", "failure_pct": 20, "tolerated_pct": 25},
           ask="A distributed Map, 20% of attempts failing, no Retry, and a tolerated failure threshold of 25%. "
               "Does the Map succeed, and how many items are left to redo?",
           answer="It succeeds: {failed} of the 200 iterations fail, under 25%. {to_redo:,} items are left to "
                  "redo, and nothing in the workflow redoes them.",
           measure=lambda r: {"failed": r.count(sf.FAILED), "to_redo": r.items_to_redo, "map_failed": r.map_failed},
           expect={"failed": Expect(32), "to_redo": Expect(3_200), "map_failed": Expect(False)}))
