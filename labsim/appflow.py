"""Amazon AppFlow: flows that move SaaS records to AWS, by trigger, with transformation tasks.

A **flow** has a source (a SaaS application, here a synthetic CRM), a destination (here S3), a
trigger and tasks (flows.html, flow-triggers.html, API_Task.html):

* ``on_demand``: runs when someone runs it (here: at the given ``run_times``);
* ``scheduled``: runs every ``interval`` seconds, transferring either a **full** snapshot of all
  records or, **incremental**, only the records added or changed since the last run;
* ``event``: runs on a change event from the SaaS application; only applications that emit
  change events support it (``source_emits_events``).

The model (assumptions, each a parameter; AWS publishes none of these numbers):

* a run reads its records at its start (the snapshot) and they land in S3 when it ends;
* a run takes ``startup`` seconds plus its API calls at the SaaS API's ``api_rate`` calls per
  second; each call returns up to ``page_size`` records (at least one call per run);
* an event-triggered run transfers the one changed record, with one API call;
* tasks, in order: Filter (drop test accounts), Validate (drop records whose email field is empty:
  ``VALIDATE_NON_NULL``; AppFlow's validations check null, zero, negative and numeric values, not an
  email's format, API_ConnectorOperator.html), Mask (mask the email of every record written), Map
  (fields to the destination).

Arrays in, arrays out: every change of a source record is an item with an outcome (delivered,
superseded by a newer version before a run copied it, filtered, rejected by validation, still
pending at the end) and ``landed``: when S3 first reflected it (or a newer version of the record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import traffic
from .validation import check_array, check_bool, check_choice, check_int, check_number

#: Triggers (flow-triggers.html) and the API's names for them (API_TriggerConfig.html).
TRIGGERS = ("on_demand", "scheduled", "event")
TRIGGER_API_NAMES = {"on_demand": "OnDemand", "scheduled": "Scheduled", "event": "Event"}
TRANSFER_MODES = ("full", "incremental")
#: Task types (https://docs.aws.amazon.com/appflow/1.0/APIReference/API_Task.html).
TASK_TYPES = ("Arithmetic", "Filter", "Map", "Map_all", "Mask", "Merge", "Passthrough", "Truncate", "Validate",
              "Partition")
#: The lab's flow: its tasks, in the order the model applies them.
LAB_TASKS = ("Filter", "Validate", "Mask", "Map")
#: What a Validate task can check (https://docs.aws.amazon.com/appflow/1.0/APIReference/API_ConnectorOperator.html):
#: null, zero, negative and non-numeric values. The lab's flow validates the email field with the first.
VALIDATE_OPERATORS = ("VALIDATE_NON_NULL", "VALIDATE_NON_ZERO", "VALIDATE_NON_NEGATIVE", "VALIDATE_NUMERIC")
LAB_VALIDATE = "VALIDATE_NON_NULL"

#: Quotas (https://docs.aws.amazon.com/appflow/latest/userguide/service-quotas.html): per account,
#: flows, flow runs per month and flow runs at once; a run's longest time; scheduled flows at most
#: once a minute; connector profiles (a soft quota).
MAX_FLOWS_PER_ACCOUNT = 1_000
MAX_FLOW_RUNS_PER_MONTH = 10_000_000
MAX_CONCURRENT_FLOW_RUNS = 1_000
MAX_FLOW_RUN_HOURS = 48
MIN_SCHEDULE_INTERVAL_S = 60.0
MAX_CONNECTOR_PROFILES = 100
#: Some sources run less often, or move less per run (same page): two examples each.
SOURCE_MIN_INTERVAL_S = {"Marketo": 3_600.0, "Google Analytics": 86_400.0}
SOURCE_MAX_PER_RUN = {"ServiceNow": "100,000 records", "Marketo": "1 GB"}

DAY = 86_400.0
#: Longest run of the model: a week (a model range: at most 10,080 scheduled runs a minute apart).
MAX_HORIZON = 7 * DAY
# Outcomes of a change (one edit of a source record).
DELIVERED, SUPERSEDED, FILTERED, REJECTED, PENDING = range(5)
OUTCOME_NAMES = {DELIVERED: "delivered", SUPERSEDED: "superseded", FILTERED: "filtered",
                 REJECTED: "rejected", PENDING: "pending"}


@dataclass(frozen=True)
class Flow:
    """A flow's definition: source, destination, trigger (with its transfer mode) and tasks."""

    source: str = "CRM (synthetic SaaS)"
    destination: str = "Amazon S3"
    trigger: str = "scheduled"
    mode: str = "incremental"
    tasks: tuple = LAB_TASKS
    source_emits_events: bool = True

    def __post_init__(self):
        for name in ("source", "destination"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"{name}={v!r:.80} is not allowed: give the application's name (a non-empty string)")
        check_choice("trigger", self.trigger, TRIGGERS)
        check_choice("mode", self.mode, TRANSFER_MODES)
        if not isinstance(self.tasks, (tuple, list)):
            raise ValueError(f"tasks={self.tasks!r:.80} is not allowed: give a tuple of task types, each one of "
                             + ", ".join(repr(t) for t in TASK_TYPES))
        for i, t in enumerate(self.tasks):
            check_choice(f"tasks[{i}]", t, TASK_TYPES)
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "source_emits_events", check_bool("source_emits_events", self.source_emits_events))
        if self.trigger == "event" and not self.source_emits_events:
            raise ValueError(f"trigger={self.trigger!r} is not allowed: {self.source} emits no change events "
                             "(event-triggered flows need a SaaS application that provides change events; "
                             "choose 'on_demand' or 'scheduled')")


@dataclass(frozen=True)
class Accounts:
    """The synthetic CRM: per account, whether it is a test account and whether its email field is empty (null)."""

    test: np.ndarray
    bad_email: np.ndarray

    @property
    def n(self) -> int:
        return len(self.test)


#: Largest synthetic CRM (accounts): a model range, about a second for a full flow's day.
MAX_ACCOUNTS = 1_000_000


def make_accounts(n: int = 2_000, test_share: float = 0.1, bad_email_share: float = 0.03, seed: int = 0) -> Accounts:
    """``n`` synthetic accounts; each is a test account with chance ``test_share`` and has no
    email (the field is empty: null) with chance ``bad_email_share``."""
    n = check_int("n", n, 1, MAX_ACCOUNTS, why="accounts in the synthetic CRM")
    test_share = check_number("test_share", test_share, 0, 1)
    bad_email_share = check_number("bad_email_share", bad_email_share, 0, 1)
    rng = traffic.make_rng(seed)
    return Accounts(rng.random(n) < test_share, rng.random(n) < bad_email_share)


def _check_accounts(accounts) -> Accounts:
    """``accounts`` if it is a well-formed :class:`Accounts` (two boolean arrays of one length)."""
    if not isinstance(accounts, Accounts):
        raise ValueError(f"accounts={accounts!r:.80} is not allowed: give an Accounts (see make_accounts)")
    test, bad = np.asarray(accounts.test), np.asarray(accounts.bad_email)
    if test.dtype != bool or bad.dtype != bool or test.ndim != 1 or test.shape != bad.shape or len(test) < 1:
        raise ValueError(f"accounts must hold two 1-D boolean arrays of one length (at least 1 account), got "
                         f"test {test.dtype} {test.shape} and bad_email {bad.dtype} {bad.shape}")
    return accounts


def day_of_changes(changes_per_hour: float, accounts: Accounts, seed: int = 0):
    """Edits of CRM accounts over one day: a Poisson process whose rate rises from a quarter of
    ``changes_per_hour`` at night to twice it from 09:00 to 17:00 (averaging about
    ``changes_per_hour``); each edit picks an account at random. Returns (times, account)."""
    changes_per_hour = check_number("changes_per_hour", changes_per_hour, 0, 20_000,
                                    why="a simulated day stays within about half a second")
    accounts = _check_accounts(accounts)
    h = changes_per_hour / 3_600.0
    knots = np.array([0, 7, 9, 17, 19, 24]) * 3_600.0
    rates = np.array([0.25, 0.25, 2.0, 2.0, 0.25, 0.25]) * h * (24 / 22.25)
    rng = traffic.make_rng(seed)
    t = traffic.piecewise_linear(knots, rates, rng)
    return t, rng.integers(0, accounts.n, len(t))


@dataclass(frozen=True)
class FlowResult:
    """One flow over one day: per change, its outcome and when S3 reflected it; per run, its
    start, end, records read, API calls and what the tasks did."""

    change_time: np.ndarray
    change_account: np.ndarray
    outcome: np.ndarray          #: DELIVERED, SUPERSEDED, FILTERED, REJECTED or PENDING
    landed: np.ndarray           #: when S3 first reflected the change (or a newer version); NaN if never
    run_start: np.ndarray
    run_end: np.ndarray
    run_read: np.ndarray         #: records read per run
    run_calls: np.ndarray        #: SaaS API calls per run
    flow: Flow
    horizon: float
    tasks: dict                  #: totals per task: read, filtered, rejected, written, masked
    params: dict = field(default_factory=dict)

    def count(self, outcome: int) -> int:
        return int((self.outcome == outcome).sum())

    def books(self) -> dict:
        d = {"changes": len(self.outcome)}
        d.update({OUTCOME_NAMES[o]: self.count(o) for o in OUTCOME_NAMES})
        return d

    @property
    def api_calls(self) -> int:
        return int(self.run_calls.sum())

    @property
    def records_transferred(self) -> int:
        return int(self.tasks["written"])

    def lag(self) -> np.ndarray:
        """Seconds from each eligible change (neither filtered nor rejected) to S3, NaN if pending."""
        m = (self.outcome != FILTERED) & (self.outcome != REJECTED)
        return self.landed[m] - self.change_time[m]

    def stale(self, grid) -> np.ndarray:
        """Eligible changes made in the source but not yet reflected in S3, at each time of ``grid``."""
        m = (self.outcome != FILTERED) & (self.outcome != REJECTED)
        end = np.where(np.isnan(self.landed[m]), np.inf, self.landed[m])
        return traffic.in_progress(self.change_time[m], end, grid)


def simulate_flow(flow: Flow, accounts: Accounts, change_time, change_account, *, interval: float = 3_600.0,
                  run_times=None, api_rate: float = 5.0, page_size: int = 200, startup: float = 60.0,
                  horizon: float = DAY) -> FlowResult:
    """Run ``flow`` over the day's changes. ``interval``: seconds between scheduled runs (the first
    at ``interval``); ``run_times``: the on-demand runs. ``api_rate`` (SaaS API calls per second),
    ``page_size`` (records per call) and ``startup`` (seconds a run takes before its first call)
    are assumptions, not AWS numbers."""
    if not isinstance(flow, Flow):
        raise ValueError(f"flow={flow!r:.80} is not allowed: give a Flow")
    accounts = _check_accounts(accounts)
    n = accounts.n
    api_rate = check_number("api_rate", api_rate, 0, 10_000, lo_open=True)
    page_size = check_int("page_size", page_size, 1, 100_000)
    startup = check_number("startup", startup, 0, 3_600)
    horizon = check_number("horizon", horizon, 0, MAX_HORIZON, lo_open=True,
                           why="seconds; the model's range, a week of runs")
    interval = check_number("interval", interval, MIN_SCHEDULE_INTERVAL_S, DAY)
    run_times = check_array("run_times", [] if run_times is None else run_times, 0, horizon, sorted_=False)
    ct = check_array("change_time", change_time, 0, None, sorted_=False)
    ca = check_array("change_account", change_account, 0, n - 1, sorted_=False)
    if not np.all(ca == np.floor(ca)):
        raise ValueError(f"change_account has a value that is not a whole number ({ca[ca != np.floor(ca)][0]:g}): "
                         f"allowed account indices 0 to {n - 1:,}")
    if len(ca) != len(ct):
        raise ValueError(f"change_account has {len(ca):,} {'entry' if len(ca) == 1 else 'entries'} and "
                         f"change_time {len(ct):,}: allowed one account per change")
    ca = ca.astype(np.int64)
    dropped = np.where(accounts.test[ca], FILTERED, np.where(accounts.bad_email[ca], REJECTED, -1))
    eligible_acc = ~accounts.test & ~accounts.bad_email
    if flow.trigger == "event":
        dur = startup + 1.0 / api_rate
        landed = ct + dur
        outcome = np.where(landed <= horizon, DELIVERED, PENDING)
        starts, ends = ct.copy(), landed
        read = np.ones(len(ct), np.int64)
        calls = np.ones(len(ct), np.int64)
        kept = eligible_acc[ca]
        tasks = dict(read=len(ct), filtered=int(accounts.test[ca].sum()),
                     rejected=int((~accounts.test[ca] & accounts.bad_email[ca]).sum()),
                     written=int(kept.sum()))
        landed = np.where(outcome == DELIVERED, landed, np.nan)
    else:
        if flow.trigger == "scheduled":
            starts = np.arange(interval, horizon + 1e-9, interval)
        else:
            starts = np.sort(run_times)
        # records each run reads: all accounts (full) or those changed since the previous run's start
        k = np.searchsorted(starts, ct, side="left")               # first run whose snapshot includes the change
        prev = np.concatenate([[-np.inf], starts[:-1]])
        if flow.mode == "full":
            read = np.full(len(starts), n, np.int64)
            written_per_run = np.full(len(starts), int(eligible_acc.sum()))
            filt = np.full(len(starts), int(accounts.test.sum()))
            rej = np.full(len(starts), int((~accounts.test & accounts.bad_email).sum()))
        else:
            read = np.zeros(len(starts), np.int64)
            written_per_run = np.zeros(len(starts), np.int64)
            filt = np.zeros(len(starts), np.int64)
            rej = np.zeros(len(starts), np.int64)
            ok = k < len(starts)
            # distinct accounts changed in (prev start, start]: one record each
            pair = np.unique(k[ok] * n + ca[ok])
            run_of, acc = pair // n, pair % n
            np.add.at(read, run_of, 1)
            np.add.at(written_per_run, run_of, eligible_acc[acc])
            np.add.at(filt, run_of, accounts.test[acc])
            np.add.at(rej, run_of, ~accounts.test[acc] & accounts.bad_email[acc])
        calls = np.maximum(1, -(-read // page_size))
        ends = starts + startup + calls / api_rate
        done = ends <= horizon
        in_s3 = k < len(starts)
        in_s3[in_s3] = done[k[in_s3]]
        landed = np.full(len(ct), np.nan)
        landed[in_s3] = ends[k[in_s3]]
        # superseded: a later change to the same account before the run that copies this one
        order = np.lexsort((ct, ca))
        nxt = np.full(len(ct), np.inf)
        same = ca[order][1:] == ca[order][:-1]
        nxt[order[:-1][same]] = ct[order][1:][same]
        snap = np.where(k < len(starts), starts[np.minimum(k, len(starts) - 1)] if len(starts) else np.inf, np.inf)
        outcome = np.where(~in_s3, PENDING, np.where(nxt <= snap, SUPERSEDED, DELIVERED))
        tasks = dict(read=int(read[done].sum()), filtered=int(filt[done].sum()), rejected=int(rej[done].sum()),
                     written=int(written_per_run[done].sum()))
        starts, ends, read, calls = starts[done], ends[done], read[done], calls[done]
    outcome = np.where(dropped >= 0, dropped, outcome)
    landed = np.where(dropped >= 0, np.nan, landed)
    tasks["masked"] = tasks["written"] if "Mask" in flow.tasks else 0
    return FlowResult(ct, ca, outcome.astype(np.int64), landed, starts, ends, read, calls, flow, horizon, tasks,
                      dict(interval=interval, api_rate=api_rate, page_size=page_size, startup=startup))


LAB_FLOWS = {"scheduled full": Flow(trigger="scheduled", mode="full"),
             "scheduled incremental": Flow(trigger="scheduled", mode="incremental"),
             "event-triggered": Flow(trigger="event")}


def simulate_day(interval_min: float = 60, changes_per_hour: float = 120, api_rate: float = 5.0,
                 page_size: int = 200, bad_email_pct: float = 3.0, accounts: int = 50_000, startup: float = 60.0,
                 seed: int = 0) -> dict:
    """The lab: one synthetic CRM day moved to S3 by the three flows of :data:`LAB_FLOWS`."""
    interval_min = check_number("interval_min", interval_min, 1, 1_440)
    accounts = check_int("accounts", accounts, 1, MAX_ACCOUNTS, why="accounts in the synthetic CRM")
    acc = make_accounts(accounts, 0.1, check_number("bad_email_pct", bad_email_pct, 0, 100) / 100, seed)
    t, a = day_of_changes(changes_per_hour, acc, seed + 1)
    return {name: simulate_flow(f, acc, t, a, interval=60.0 * interval_min, api_rate=api_rate, page_size=page_size,
                                startup=startup) for name, f in LAB_FLOWS.items()}


def mean_lag_hours(r: FlowResult) -> float:
    """Mean hours from an eligible change to S3 over the changes that landed; NaN if none landed."""
    if not isinstance(r, FlowResult):
        raise ValueError(f"r={r!r:.80} is not allowed: give a FlowResult (from simulate_flow)")
    lag = r.lag()
    lag = lag[np.isfinite(lag)]
    return float(lag.mean() / 3_600) if len(lag) else math.nan
