"""AppFlow: triggers, transfer modes, task counts, books that balance, staleness, bad parameters."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labsim import appflow as af
from labsim.appflow import DELIVERED, FILTERED, PENDING, REJECTED, SUPERSEDED, Flow


def day(seed=0, **kw):
    return af.simulate_day(seed=seed, **kw)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), interval=st.integers(15, 240), cph=st.integers(0, 600),
       page=st.integers(1, 2_000), bad=st.integers(0, 30))
def test_books_balance_and_tasks_add_up(seed, interval, cph, page, bad):
    res = day(seed, interval_min=interval, changes_per_hour=cph, page_size=page, bad_email_pct=bad)
    for name, r in res.items():
        b = r.books()
        assert b["changes"] == sum(v for k, v in b.items() if k != "changes")
        t = r.tasks
        assert t["read"] == t["filtered"] + t["rejected"] + t["written"] and t["masked"] == t["written"]
        assert np.all(np.isnan(r.landed) | (r.landed >= r.change_time))
        assert np.all(np.isnan(r.landed[r.outcome != DELIVERED]) | np.isin(r.outcome[r.outcome != DELIVERED],
                                                                            [SUPERSEDED]))
        assert r.api_calls >= len(r.run_start)
    # filtered and rejected edits are the same for every flow: the tasks, not the trigger, decide
    f = [r.count(FILTERED) for r in res.values()]
    assert len(set(f)) == 1 and len({r.count(REJECTED) for r in res.values()}) == 1


def test_full_reads_everything_every_run_incremental_only_changes():
    res = day()
    full, inc, ev = res["scheduled full"], res["scheduled incremental"], res["event-triggered"]
    assert np.all(full.run_read == 50_000)
    assert inc.tasks["read"] == sum(len(np.unique(inc.change_account[(inc.change_time > a) & (inc.change_time <= b)]))
                                    for a, b in zip(np.concatenate([[-1], inc.run_start[:-1]]), inc.run_start))
    assert full.tasks["written"] > 10 * inc.tasks["written"]
    # full and incremental land every edit at the same runs: the same staleness
    assert np.array_equal(np.isnan(full.landed), np.isnan(inc.landed))
    assert np.nanmax(np.abs(full.landed - inc.landed)) <= 50_000 / 200 / 5.0   # only the runs' API-call time differs
    # the event-triggered flow makes one call per edit, lands each within its run time, supersedes none
    assert ev.api_calls == len(ev.outcome) and ev.count(SUPERSEDED) == 0
    lag = ev.lag()
    assert np.allclose(lag[np.isfinite(lag)], 60.0 + 1 / 5.0)


def test_staleness_grows_with_the_interval_about_half_of_it():
    """Edits arrive at random, so a scheduled flow's mean lag is about half the interval plus the
    run time (within 10%: the day's rate varies, but not inside one interval much)."""
    for minutes in (30, 60, 120):
        r = day(interval_min=minutes, changes_per_hour=300)["scheduled incremental"]
        run = float(np.mean(r.run_end - r.run_start))
        expect = minutes * 60 / 2 + run
        lag = r.lag()
        assert abs(np.nanmean(lag) - expect) <= 0.1 * expect, (minutes, np.nanmean(lag), expect)


def test_superseded_edits_are_the_ones_overwritten_before_a_run():
    acc = af.Accounts(np.zeros(3, bool), np.zeros(3, bool))
    t = np.array([100.0, 200.0, 3_700.0, 3_800.0])
    a = np.array([0, 0, 1, 2])
    r = af.simulate_flow(Flow(trigger="scheduled", mode="incremental"), acc, t, a, interval=3_600, horizon=11_000)
    assert r.outcome.tolist() == [SUPERSEDED, DELIVERED, DELIVERED, DELIVERED]
    assert r.run_read.tolist() == [1, 2, 0] and r.run_calls.tolist() == [1, 1, 1]
    assert np.allclose(r.landed, [3_600 + 60.2, 3_600 + 60.2, 7_200 + 60.2, 7_200 + 60.2])
    od = af.simulate_flow(Flow(trigger="on_demand", mode="full"), acc, t, a, run_times=[5_000.0], horizon=6_000)
    assert od.outcome.tolist() == [SUPERSEDED, DELIVERED, DELIVERED, DELIVERED] and od.run_read.tolist() == [3]
    late = af.simulate_flow(Flow(trigger="on_demand"), acc, t, a, run_times=[150.0], horizon=6_000)
    assert late.outcome.tolist() == [DELIVERED, PENDING, PENDING, PENDING]


def test_task_types_and_triggers_are_awss():
    assert af.TASK_TYPES == ("Arithmetic", "Filter", "Map", "Map_all", "Mask", "Merge", "Passthrough", "Truncate",
                             "Validate", "Partition")
    assert af.TRIGGER_API_NAMES == {"on_demand": "OnDemand", "scheduled": "Scheduled", "event": "Event"}
    assert af.TRANSFER_MODES == ("full", "incremental")


@pytest.mark.parametrize("call,name", [
    (lambda: Flow(trigger="hourly"), "trigger"),
    (lambda: Flow(trigger="event", source_emits_events=False), "trigger"),
    (lambda: Flow(mode="delta"), "mode"),
    (lambda: Flow(tasks=("Map", "Encrypt")), r"tasks\[1\]"),
    (lambda: day(api_rate=-1), "api_rate"),
    (lambda: day(changes_per_hour=-5), "changes_per_hour"),
    (lambda: day(page_size=0), "page_size"),
    (lambda: day(interval_min=0), "interval_min"),
    (lambda: af.make_accounts(0), "n="),
    (lambda: day(accounts=0), "accounts"),
])
def test_bad_parameters_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_lab_defaults_are_the_ones_the_chapter_states():
    from labsim import labs
    assert labs.appflow_lab().values() == dict(interval_min=60, changes_per_hour=120, api_rate=5, page_size=200,
                                               bad_email_pct=3, books="scheduled incremental")


# --- hostile input (issue 9): each case was a crash, a silent acceptance or an unnamed error --------------------
def _acc(n=3):
    return af.Accounts(np.zeros(n, bool), np.zeros(n, bool))


@pytest.mark.parametrize("call,name", [
    (lambda: Flow(tasks=None), "^tasks="),                                       # TypeError
    (lambda: Flow(tasks="Map"), "^tasks="),                                      # iterated the letters
    (lambda: Flow(source=None), "^source="),                                     # accepted
    (lambda: Flow(source_emits_events="no"), "^source_emits_events="),           # silently True
    (lambda: af.make_accounts(0), "^n="),                                        # named 'accounts'
    (lambda: af.day_of_changes(10.0, 5), "^accounts="),                          # AttributeError
    (lambda: af.mean_lag_hours("x"), "^r="),                                     # AttributeError
    (lambda: af.simulate_flow("x", _acc(), [1.0], [0]), "^flow="),               # AttributeError
    (lambda: af.simulate_flow(Flow(), _acc(), [1.0, 2.0], [0, 7]), "^change_account"),          # IndexError
    (lambda: af.simulate_flow(Flow(), _acc(), [1.0, 2.0], [0, math.nan]), "^change_account"),   # cast to int64
    (lambda: af.simulate_flow(Flow(), _acc(), [1.0, math.nan], [0, 1]), "^change_time"),        # accepted
    (lambda: af.simulate_flow(Flow(), _acc(), [1.0, 2.0], [0]), "^change_account"),             # IndexError
    (lambda: af.simulate_flow(Flow(trigger="on_demand"), _acc(), [1.0], [0], run_times=[math.nan]),
     "^run_times"),                                                              # NaN run accepted silently
    (lambda: af.simulate_flow(Flow(trigger="on_demand"), _acc(), [1.0], [0], run_times="abc"), "^run_times"),
    (lambda: af.simulate_flow(Flow(trigger="on_demand"), _acc(), [1.0], [0], interval=math.nan), "^interval="),
    (lambda: af.simulate_flow(Flow(), _acc(), [1.0], [0], horizon=1e12), "^horizon="),  # np.arange of 1e8 runs
    (lambda: labs_appflow().appflow_model(60, 120, 5, 200, 3, books="all"), "^books="),     # accepted
])
def test_hostile_values_are_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def labs_appflow():
    from labsim.labs import appflow
    return appflow


def test_lab_text_says_no_edit_landed_rather_than_nan_minutes(monkeypatch):
    """mean_lag_hours is NaN when no edit reached S3; the summary says so in words."""
    from labsim.labs import appflow as lab_appflow
    lab = lab_appflow.appflow_lab()
    values = lab.values()
    assert "nan" not in lab.summary.value and "mean lag" in lab.summary.value
    monkeypatch.setattr(af, "mean_lag_hours", lambda r: float("nan"))
    _, text = lab.view(lab.result, **values)
    assert "nan" not in text and text.count("no edit reached S3") == len(lab.result)
