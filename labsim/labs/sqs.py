"""Labs for chapter 6 (SQS) and 6.1 (Lambda polling SQS)."""

from __future__ import annotations

import numpy as np

from .. import plots, sqs, traffic
from ..sqs import MessageOutcome as MO
from ..validation import check_int, check_number
from .base import Lab, checkbox as _check, dropdown as _drop, float_slider as _float, int_slider as _int, register

__all__ = ["polling_lab", "visibility_lab", "fifo_lab", "lambda_sqs_lab"]


# --- polling ---------------------------------------------------------------------------------------
#: The producer works in cycles of this many seconds: busy first, then quiet.
POLL_CYCLE_S = 120.0
POLL_HORIZON_S = 600.0
POLL_BUSY_RATE = 2.0          # messages per second while busy
POLL_INTERVAL_S = 0.05        # a short-polling consumer asks again 50 ms after an empty answer
POLL_MAX_QUIET = 0.9


def polling_arrivals(quiet_share: float, seed: int = 1) -> np.ndarray:
    """Poisson at 2 messages/s while busy; in each 2-minute cycle the last ``quiet_share`` is quiet."""
    t = traffic.poisson(POLL_BUSY_RATE, POLL_HORIZON_S, seed)
    return t[(t % POLL_CYCLE_S) < (1.0 - quiet_share) * POLL_CYCLE_S]


def polling_model(wait_time_seconds, consumers, quiet_share, short_poll_fraction):
    quiet_share = check_number("quiet_share", quiet_share, 0, POLL_MAX_QUIET,
                               why="the lab's range: at least a tenth of each 2-minute cycle is busy")
    return sqs.simulate_queue(polling_arrivals(quiet_share), horizon=POLL_HORIZON_S, consumers=consumers,
                              wait_time_seconds=wait_time_seconds, mean_duration=0.2, servers=4,
                              short_poll_fraction=short_poll_fraction, poll_interval=POLL_INTERVAL_S, seed=2)


def polling_view(r, wait_time_seconds, consumers, quiet_share, short_poll_fraction):
    n = r.count(MO.DELETED)
    lat = r.receive_latency()
    mode = "short polling" if wait_time_seconds == 0 else f"long polling, WaitTimeSeconds {wait_time_seconds}"
    text = (f"{mode}, {consumers} consumers, quiet {quiet_share:.0%} of each 2 minutes, short polls sample "
            f"{short_poll_fraction:.0%} of servers (assumption): {r.sent:,} messages, "
            f"<b>{r.receives:,}</b> receives of which <b>{r.empty_receives:,}</b> empty "
            f"({100 * r.empty_receives / max(r.receives, 1):.0f}%), {r.messages_per_receive:.3f} messages per "
            f"receive; "
            + (f"<b>{r.requests / n:,.1f} M</b> requests per million messages processed; " if n else
               f"{r.requests:,} requests and no message processed; ")
            + (f"latency added by polling: mean <b>{1e3 * lat.mean():.0f} ms</b>, "
               f"p95 {1e3 * np.percentile(lat, 95):.0f} ms." if len(lat) else "no message received."))
    return plots.polling_figure(r), text


@register
def polling_lab() -> Lab:
    """WaitTimeSeconds, consumers and quiet periods: empty receives, requests and latency."""
    return Lab({"wait_time_seconds": _int("WaitTimeSeconds", 0, 0, sqs.MAX_WAIT_TIME_S),
                "consumers": _int("consumers", 5, 1, 20),
                "quiet_share": _float("quiet share of the time", 0.5, 0.0, POLL_MAX_QUIET, 0.1),
                "short_poll_fraction": _float("short poll samples (assumption)", 0.5, 0.1, 1.0, 0.1)},
               polling_model, polling_view, "Where every message went, and requests per million messages by kind")


# --- visibility timeout and DLQ -----------------------------------------------------------------
NO_DLQ = 0
VIS_HORIZON_S = 1_200.0


def visibility_model(mean_duration, visibility_timeout, max_receive_count, poison):
    max_receive_count = check_int("max_receive_count", max_receive_count, NO_DLQ, sqs.MAX_RECEIVE_COUNT,
                                  why=f"{NO_DLQ} is no DLQ; the redrive policy's maxReceiveCount is 1 to 1,000")
    t = traffic.poisson(0.5, 600.0, 3)
    return sqs.simulate_queue(t, horizon=VIS_HORIZON_S, consumers=20, mean_duration=mean_duration,
                              duration_kind="lognormal", duration_cv=0.5, visibility_timeout=visibility_timeout,
                              max_receive_count=None if max_receive_count == NO_DLQ else max_receive_count,
                              poison=poison, seed=4)


def slow_mask(r, visibility_timeout) -> np.ndarray:
    """Per message: its processing takes longer than the visibility timeout. In the model a message
    takes as long on every attempt, so its runs are all slow or all fast."""
    slow = np.zeros(r.offered, bool)
    slow[r.run_message[r.run_end - r.run_start > visibility_timeout]] = True
    return slow


def visibility_view(r, mean_duration, visibility_timeout, max_receive_count, poison):
    b = r.books()
    slow = int(slow_mask(r, visibility_timeout).sum())
    text = (f"{b['sent']:,} messages over 10 min, 20 consumers, processing {mean_duration:g} s on average "
            f"(lognormal, each message as long on every attempt), visibility timeout {visibility_timeout:,} s, "
            f"maxReceiveCount {'none (no DLQ)' if max_receive_count == NO_DLQ else max_receive_count}, "
            f"{poison:.0%} poison messages. {slow:,} messages ({100 * slow / max(b['sent'], 1):.0f}%) take longer "
            f"than the visibility timeout; "
            f"<b>{r.processed_more_than_once:,}</b> messages processed twice or more; "
            f"<b>{b['deleted']:,}</b> deleted, <b>{b['dlq']:,}</b> in the DLQ, {b['queued'] + b['in_flight']:,} "
            f"still in the queue after 20 min.")
    return plots.visibility_figure(r), text


@register
def visibility_lab() -> Lab:
    """Processing time against the visibility timeout, maxReceiveCount and poison messages."""
    return Lab({"mean_duration": _int("mean processing time (s)", 20, 5, 60, 5),
                "visibility_timeout": _int("visibility timeout (s)", 30, 5, 120, 5),
                "max_receive_count": _drop("maxReceiveCount", [("no DLQ", NO_DLQ)] + [(str(k), k) for k in
                                                                                      (1, 2, 3, 5, 10)], 3),
                "poison": _float("poison messages", 0.02, 0.0, 0.2, 0.01)},
               visibility_model, visibility_view, "Where every message went, and how often each was received")


# --- standard vs FIFO ----------------------------------------------------------------------------
FIFO_SEND_S = 3.0
FIFO_HORIZON_S = 6.0


def fifo_model(queue_type, groups, rate, send_batch, retry_mode="standard"):
    t = traffic.poisson(rate, FIFO_SEND_S, 5)
    return sqs.simulate_queue(t, horizon=FIFO_HORIZON_S, consumers=10, queue_type=queue_type, groups=groups,
                              duration_kind="exponential", mean_duration=0.01, send_batch=send_batch,
                              servers=4, seed=6, retry_mode=retry_mode)


def fifo_view(r, queue_type, groups, rate, send_batch, retry_mode="standard"):
    b = r.books()
    done = r.delete_time[np.isfinite(r.delete_time)]
    delay = r.send_delay()
    retried = (f"the SDK's {retry_mode} retries (assumption) got <b>{r.send_retried:,}</b> in late "
               f"(delayed {delay.mean():.1f} s on average, at most {delay.max():.1f} s); "
               if r.send_retried else "")
    text = (f"{queue_type} queue, {groups} message group{'s' if groups > 1 else ''}, {rate:,} messages/s "
            f"offered for 3 s, {send_batch} message{'s' if send_batch > 1 else ''} per send call, SDK retries "
            f"{retry_mode}, 10 consumers of 10 ms per message: {r.throttled_calls:,} send attempts refused by "
            f"the call limit; {retried}<b>{b['send_throttled']:,}</b> of {b['offered']:,} messages lost; "
            f"<b>{b['deleted']:,}</b> processed (last at {done.max(initial=0):.1f} s), "
            f"<b>{r.out_of_order():,}</b> handled out of order (before a message sent earlier in their group).")
    return plots.fifo_figure(r, rate), text


@register
def fifo_lab() -> Lab:
    """Standard vs FIFO: message groups, send rate and batching."""
    return Lab({"queue_type": _drop("queue", ["standard", "fifo"], "fifo"),
                "groups": _drop("message groups", [1, 2, 5, 10, 50], 10),
                "rate": _int("messages per second", 500, 100, 1_000, 100),
                "send_batch": _int("messages per send call", 1, 1, sqs.MAX_SEND_BATCH),
                "retry_mode": _drop("SDK retries (assumption)", [("standard mode", "standard"), ("none", "none")],
                                    "standard")},
               fifo_model, fifo_view, "Where every message went, and throughput against the FIFO call limit")


# --- Lambda drains a queue -------------------------------------------------------------------------
LAMBDA_MESSAGES = 3_000
LAMBDA_HORIZON_S = 120.0
NO_MAX = 0


def lambda_sqs_window(batch_size, batching_window):
    """The window the mapping runs with: a batch size above 10 needs at least 1 s."""
    return max(batching_window, sqs.MIN_WINDOW_FOR_LARGE_BATCH_S) if batch_size > 10 else batching_window


NO_RESERVATION = 0


def lambda_sqs_model(batch_size, batching_window, maximum_concurrency, report_batch_item_failures, failure_prob,
                     reserved_concurrency=NO_RESERVATION, scale_down=sqs.DEFAULT_SCALE_DOWN):
    batch_size = check_int("batch_size", batch_size, 1, sqs.MAX_BATCH_SIZE_STANDARD,
                           why="BatchSize is 1 to 10,000 for standard queues")
    batching_window = check_number("batching_window", batching_window, 0, sqs.MAX_BATCHING_WINDOW_S,
                                   why="MaximumBatchingWindowInSeconds is 0 to 300")
    maximum_concurrency = check_int("maximum_concurrency", maximum_concurrency, NO_MAX, sqs.MAX_MAXIMUM_CONCURRENCY,
                                    why=f"{NO_MAX} is none; ScalingConfig MaximumConcurrency is 2 to 1,000")
    reserved_concurrency = check_int("reserved_concurrency", reserved_concurrency, NO_RESERVATION,
                                     sqs.DEFAULT_ACCOUNT_CONCURRENCY - sqs.MIN_UNRESERVED,
                                     why=f"{NO_RESERVATION} is none; at least 100 of the account's 1,000 stay unreserved")
    t = np.sort(traffic.make_rng(7).uniform(0.0, 5.0, LAMBDA_MESSAGES))
    return sqs.simulate_lambda_sqs(t, horizon=LAMBDA_HORIZON_S, batch_size=batch_size,
                                   batching_window=lambda_sqs_window(batch_size, batching_window),
                                   maximum_concurrency=None if maximum_concurrency == NO_MAX else maximum_concurrency,
                                   report_batch_item_failures=report_batch_item_failures, failure_prob=failure_prob,
                                   mean_duration=0.5, visibility_timeout=30, max_receive_count=5, seed=8,
                                   reserved_concurrency=None if reserved_concurrency == NO_RESERVATION
                                   else reserved_concurrency, scale_down=scale_down)


def lambda_sqs_view(r, batch_size, batching_window, maximum_concurrency, report_batch_item_failures,
                    failure_prob, reserved_concurrency=NO_RESERVATION, scale_down=sqs.DEFAULT_SCALE_DOWN):
    b = r.books()
    w = lambda_sqs_window(batch_size, batching_window)
    g = np.linspace(0.0, r.horizon, 481)
    emptied = g[(r.in_queue(g) == 0) & (g > 5.0)]
    text = (f"{LAMBDA_MESSAGES:,} messages sent within 5 s, 0.5 s of work each; batch size {batch_size:,}, "
            f"batching window {w:g} s{' (raised to 1 s: a batch size above 10 needs it)' if w != batching_window else ''}, "
            f"MaximumConcurrency {'none' if maximum_concurrency == NO_MAX else maximum_concurrency}, "
            f"ReportBatchItemFailures {'on' if report_batch_item_failures else 'off'}, "
            f"reserved concurrency {'none' if reserved_concurrency == NO_RESERVATION else reserved_concurrency}, "
            f"scale-down {'off' if scale_down == 0 else f'{scale_down} poller per error'} (assumption), "
            f"{failure_prob:.0%} of runs fail: peak concurrency <b>{int(r.concurrency(g).max()):,}</b>, "
            f"queue empty at <b>{emptied[0]:.0f} s</b>" if len(emptied) else
            f"{LAMBDA_MESSAGES:,} messages sent within 5 s; queue not empty after {r.horizon:.0f} s")
    text += (f"; oldest message waited up to <b>{r.oldest_age(g).max():.0f} s</b>; "
             f"<b>{r.runs.sum() / max(b['sent'], 1):.2f}</b> handler runs per message; "
             f"<b>{len(r.throttle_time):,}</b> invocations throttled; "
             f"{b['deleted']:,} deleted, <b>{b['dlq']:,}</b> in the queue's DLQ.")
    work = r.params["batch_cap"] * r.params["mean_duration"]
    if work > r.params["visibility_timeout"]:
        text += (f" A full batch takes {work:g} s, longer than the {r.params['visibility_timeout']:g} s visibility "
                 "timeout: on AWS the function's timeout could not exceed the visibility timeout, so the batch "
                 "would time out and fail; the model lets it run.")
    return plots.lambda_sqs_figure(r), text


@register
def lambda_sqs_lab() -> Lab:
    """A spike drained by Lambda: batch size, batching window, MaximumConcurrency, partial batches."""
    return Lab({"batch_size": _drop("batch size", [1, 10, 100, 1_000], 10),
                "batching_window": _drop("batching window (s)", [0, 1, 5, 20], 0),
                "maximum_concurrency": _drop("MaximumConcurrency", [("none", NO_MAX), ("2", 2), ("10", 10),
                                                                    ("50", 50)], NO_MAX),
                "report_batch_item_failures": _check("ReportBatchItemFailures", False),
                "failure_prob": _float("share of runs that fail", 0.02, 0.0, 0.2, 0.01),
                "reserved_concurrency": _drop("reserved concurrency", [("none", NO_RESERVATION), ("10", 10),
                                                                       ("50", 50)], NO_RESERVATION),
                "scale_down": _drop("scale-down on errors (assumption)", [("off", 0), ("1 poller per error", 1)],
                                    sqs.DEFAULT_SCALE_DOWN)},
               lambda_sqs_model, lambda_sqs_view,
               "Where every message went, concurrency against the scaling cap, queue depth and oldest age")


# --- Try this (the chapters' guided steps; labsim.labs.trythis) -----------------------------------
import functools  # noqa: E402

from ..sqs import MessageOutcome as _MO  # noqa: E402
from .trythis import Expect, Step, defaults as _defaults, steps  # noqa: E402  (after the factories: one block per module)


def _slow_good(r, visibility_timeout=30):
    """Good (not poison) messages whose processing takes longer than the visibility timeout."""
    return int(((r.successes > 0) & slow_mask(r, visibility_timeout)).sum())


def _requests_per_message(r):
    return r.requests / r.count(_MO.DELETED)


steps("polling_lab",
      Step(key="defaults", title="Short polling",
           values={},
           ask="At the defaults the five consumers short-poll, and the producer is quiet half of the time. "
               "Predict: what share of the receives come back empty, and how many requests does each "
               "processed message cost: about 3, about 10 or about 100?",
           answer="{empty:.0%} of the receives are empty: about {requests} requests per message. Each message "
                  "also waits about {wait_ms} ms on average before a poll finds it.",
           measure=lambda r: {"empty": r.empty_receives / r.receives, "requests": _requests_per_message(r),
                              "wait_ms": 1e3 * float(r.receive_latency().mean())},
           expect={"empty": Expect(0.99, abs=0.005), "requests": Expect(100, rel=0.15),
                   "wait_ms": Expect(27, rel=0.15)}),
      Step(key="long-poll-20", title="Long polling",
           values={"wait_time_seconds": 20},
           ask="Set WaitTimeSeconds to 20. Predict the requests per message. Does a message now wait longer "
               "or less for a poll to find it?",
           answer="About {requests} per message (a send, a receive and a delete). The added wait drops to "
                  "{wait_ms} ms: a waiting long poll returns as soon as a message arrives.",
           measure=lambda r: {"requests": _requests_per_message(r),
                              "wait_ms": 1e3 * float(r.receive_latency().mean())},
           expect={"requests": Expect(3, rel=0.15), "wait_ms": Expect(0)}),
      Step(key="quiet-90", title="A mostly quiet producer",
           values={"quiet_share": 0.9},
           ask="Back at short polling, raise the quiet share to 0.9: the producer sends only a tenth of the "
               "time. Do the requests per message rise or fall, and how far?",
           answer="They rise to about {requests}: idle consumers keep polling an empty queue, and every empty "
                  "answer is a billed request.",
           measure=lambda r: {"requests": _requests_per_message(r)},
           expect={"requests": Expect(470, rel=0.15)}))

steps("visibility_lab",
      Step(key="defaults", title="Processing near the timeout",
           values={},
           ask="At the defaults the visibility timeout is 30 s, maxReceiveCount is 3, and 2% of the messages "
               "are poison. Predict: is anything processed more than once, and do only the poison messages "
               "end in the DLQ?",
           answer="Yes, and no. {slow} good messages ({share:.0%} of the {sent}) take longer than 30 s on "
                  "every attempt: each is processed 3 times, and its fourth receive moves it to the DLQ. So "
                  "{twice} messages are processed more than once, and "
                  "the DLQ holds {dlq}: those {slow} and the {poison} poison messages.",
           measure=lambda r: {"slow": _slow_good(r), "share": _slow_good(r) / r.sent,
                              "sent": r.sent, "twice": r.processed_more_than_once, "dlq": r.count(_MO.DLQ),
                              "poison": int(((r.successes == 0) & (r.runs > 0)).sum())},
           expect={"slow": Expect(41), "share": Expect(0.15, abs=0.02), "sent": Expect(271), "twice": Expect(41),
                   "dlq": Expect(47), "poison": Expect(6)}),
      Step(key="timeout-120", title="A longer visibility timeout",
           values={"visibility_timeout": 120},
           ask="Raise the visibility timeout to 120 s, above the slowest runs. Predict how many messages are "
               "processed twice now, and how many end in the DLQ.",
           answer="Nothing is processed twice ({twice} messages), and the DLQ holds exactly the {dlq} poison "
                  "messages.",
           measure=lambda r: {"twice": r.processed_more_than_once, "dlq": r.count(_MO.DLQ)},
           expect={"twice": Expect(0), "dlq": Expect(6)}),
      Step(key="no-dlq", title="No DLQ",
           values={"visibility_timeout": 120, "max_receive_count": NO_DLQ},
           ask="Keep 120 s and set maxReceiveCount to no DLQ: the queue has no redrive policy. Where do the "
               "poison messages end up?",
           answer="In the queue: the {stuck} poison messages are received again and again ({dlq} in a DLQ). "
                  "They would stay until their retention period ends.",
           measure=lambda r: {"stuck": r.count(_MO.QUEUED) + r.count(_MO.IN_FLIGHT), "dlq": r.count(_MO.DLQ)},
           expect={"stuck": Expect(6), "dlq": Expect(0)}))

def _steady_send_rate(r, after=1.5):
    """Sends accepted per second once the FIFO limit's assumed capacity is spent (after 1.5 s)."""
    acc = np.sort(r.enqueue[np.isfinite(r.enqueue)])
    late = acc[acc >= after]
    return len(late) / (late.max() - after)


steps("fifo_lab",
      Step(key="no-retries", title="Over the FIFO limit",
           values={"retry_mode": "none"},
           ask="Set the SDK retries to none. One message per send call makes 500 calls per second against the "
               "limit of 300. Predict how many of the 1,538 messages get in, how many are lost, and whether any "
               "is handled out of order.",
           answer="About {sent:,} get in: 300 at once, then about {calls_per_s} per second for 3 s. About {lost} "
                  "are refused and lost. None is out of order ({out_of_order} messages): each group's "
                  "messages are handled in the order the queue accepted them.",
           measure=lambda r: {"sent": r.sent, "lost": r.count(_MO.THROTTLED),
                              "calls_per_s": _steady_send_rate(r), "out_of_order": r.out_of_order()},
           expect={"sent": Expect(1_200, rel=0.15), "lost": Expect(340, rel=0.15),
                   "calls_per_s": Expect(300, rel=0.15), "out_of_order": Expect(0)}),
      Step(key="batch-10", title="Batched sends",
           values={"retry_mode": "none", "send_batch": 10},
           ask="Keep no retries and set messages per send call to 10 (SendMessageBatch). How many calls per "
               "second does the producer make now, and how many messages are lost?",
           answer="About {calls_per_s:.0f} calls per second, far under 300, so all {sent:,} messages get in "
                  "({lost} lost). Batches of 10 raise the ceiling to 3,000 messages per second.",
           measure=lambda r: {"sent": r.sent, "lost": r.count(_MO.THROTTLED),
                              "calls_per_s": r.offered / r.params["send_batch"] / FIFO_SEND_S},
           expect={"sent": Expect(1_538), "lost": Expect(0), "calls_per_s": Expect(50, rel=0.15)}),
      Step(key="one-group", title="One message group",
           values={"retry_mode": "none", "send_batch": 10, "groups": 1},
           ask="Keep the batches and set 1 message group. Predict how many messages per second the ten "
               "consumers process, and how many of the 1,538 are still queued when the run ends at 6 s.",
           answer="About {per_s:.0f} per second, not 1,000: a group's messages go to one consumer at a time, in "
                  "order. About {left} are left (1,538 minus 6 s of 100 per second).",
           measure=lambda r: {"per_s": r.count(_MO.DELETED) / r.horizon,
                              "left": r.count(_MO.QUEUED) + r.count(_MO.IN_FLIGHT)},
           expect={"per_s": Expect(100, rel=0.15), "left": Expect(920, rel=0.15)}),
      Step(key="standard", title="A standard queue",
           values={"retry_mode": "none", "queue_type": "standard"},
           ask="Switch to a standard queue, one message per call. Predict: is anything refused, and does the "
               "order hold?",
           answer="Nothing is refused ({refused}), but about {out_of_order} messages are handled out of order: "
                  "a standard queue keeps order only on a best-effort basis.",
           measure=lambda r: {"out_of_order": r.out_of_order(), "refused": r.count(_MO.THROTTLED)},
           expect={"out_of_order": Expect(300, rel=0.15), "refused": Expect(0)}))


_LAMBDA_GRID = np.linspace(0.0, LAMBDA_HORIZON_S, 481)


@functools.cache
def _no_failures_peak():
    """The peak concurrency of the lab's defaults with no failures (the chapter's figure)."""
    return _peak(lambda_sqs_model(**(_defaults("lambda_sqs_lab") | {"failure_prob": 0.0})))


@functools.cache
def _default_peak():
    """The peak concurrency at the lab's defaults."""
    return _peak(lambda_sqs_model(**_defaults("lambda_sqs_lab")))


def _emptied_at(r):
    e = _LAMBDA_GRID[(r.in_queue(_LAMBDA_GRID) == 0) & (_LAMBDA_GRID > 5.0)]
    return float(e[0]) if len(e) else float("nan")


def _peak(r):
    return int(r.concurrency(_LAMBDA_GRID).max())


def _extra_runs_per_100(r):
    """Handler runs beyond one per message, per 100 messages sent."""
    return 100 * (r.runs.sum() / r.sent - 1)


steps("lambda_sqs_lab",
      Step(key="defaults", title="Draining a spike",
           values={},
           ask="At the defaults, 2% of the runs fail. Predict: does concurrency climb as high as in the figure "
               "above (about 110, with no failures), and is the queue empty soon after the last of the backlog "
               "is received?",
           answer="A little lower: about {at_10s} at 10 s and a peak of about {peak} after about {peak_s} s, when "
                  "the last of the backlog is received (the model assumes that each failed or throttled "
                  "invocation retires one poller). The queue is empty only after about {empty_s} s: "
                  "each failure sends its whole batch back, to be received again after the visibility timeout. "
                  "That costs about {extra} extra runs per 100 messages.",
           measure=lambda r: {"at_10s": int(r.concurrency([10.0])[0]), "peak": _peak(r),
                              "no_failures_peak": _no_failures_peak(), "lower": _peak(r) < _no_failures_peak(),
                              "peak_s": float(_LAMBDA_GRID[r.concurrency(_LAMBDA_GRID).argmax()]),
                              "empty_s": _emptied_at(r), "extra": _extra_runs_per_100(r)},
           expect={"at_10s": Expect(50, rel=0.15), "peak": Expect(95, rel=0.15), "peak_s": Expect(23, abs=2),
                   "no_failures_peak": Expect(110, rel=0.15), "lower": Expect(True),
                   "empty_s": Expect(85, rel=0.15), "extra": Expect(14, rel=0.15)}),
      Step(key="report-failures", title="Partial batch responses",
           values={"report_batch_item_failures": True},
           ask="Tick ReportBatchItemFailures: the function now reports which messages failed. Predict the "
               "extra runs per 100 messages, and whether the queue empties sooner.",
           answer="Only the failed messages come back: about {extra} extra runs per 100 messages instead of "
                  "about 14, and the queue is empty after about {empty_s} s.",
           measure=lambda r: {"extra": _extra_runs_per_100(r), "empty_s": _emptied_at(r)},
           expect={"extra": Expect(1.5, rel=0.15), "empty_s": Expect(80, rel=0.15)}),
      Step(key="failures-20", title="One run in five fails",
           values={"failure_prob": 0.2},
           ask="Untick it and raise the share of runs that fail to 0.2. A batch then fails somewhere "
               "nearly nine times in ten. Predict: does the queue empty within the 2 minutes, and does "
               "concurrency climb higher or lower than at the defaults? (The second part rests on the model's "
               "labelled assumption, above the lab: each failure retires one poller.)",
           answer="No, and lower. Every failed batch comes back whole, and under the assumption each failure "
                  "also scales the mapping down: concurrency never passes about {peak}, the function runs about "
                  "{runs} times per message, and more than two thirds of the messages are still in the queue "
                  "after 2 minutes.",
           measure=lambda r: {"runs": r.runs.sum() / r.sent, "peak": _peak(r),
                              "lower": _peak(r) < _default_peak(),
                              "over_two_thirds": bool(3 * (r.count(_MO.QUEUED) + r.count(_MO.IN_FLIGHT)) > 2 * r.sent)},
           expect={"runs": Expect(2.3, rel=0.05), "peak": Expect(35, rel=0.15), "lower": Expect(True),
                   "over_two_thirds": Expect(True)}),
      Step(key="failures-20-report", title="Partial batch responses under failures",
           values={"failure_prob": 0.2, "report_batch_item_failures": True},
           ask="Keep 0.2 and tick ReportBatchItemFailures again. Predict the runs per message, and how many "
               "messages are left after 2 minutes.",
           answer="About {runs} runs per message, and all but a few messages are deleted.",
           measure=lambda r: {"runs": r.runs.sum() / r.sent, "few_left": bool(r.sent - r.count(_MO.DELETED) <= 5)},
           expect={"runs": Expect(1.2, abs=0.05), "few_left": Expect(True)}),
      Step(key="reserve-50", title="A reservation below the mapping's reach",
           values={"reserved_concurrency": 50},
           ask="Back at the defaults, reserve 50 for the function and leave MaximumConcurrency unset. "
               "Predict: does the mapping stop at 50, and what happens to the batches above it? Does the queue "
               "empty within the 2 minutes?",
           answer="The function runs at most {peak} at once, but the mapping keeps polling beyond that: the "
                  "batches above the reservation are throttled, their messages received once without running, "
                  "and the queue is not empty after 2 minutes. How many are throttled rests on the model's "
                  "assumption that each throttle retires one poller: about {throttled} invocations, about "
                  "{received_not_run} messages.",
           measure=lambda r: {"peak": _peak(r), "throttled": len(r.throttle_time),
                              "received_not_run": int((r.receive_count > r.runs).sum()),
                              "emptied": bool(np.isfinite(_emptied_at(r)))},
           expect={"peak": Expect(50), "throttled": Expect(60, rel=0.15), "received_not_run": Expect(600, rel=0.15),
                   "emptied": Expect(False)}),
      Step(key="reserve-50-max-50", title="MaximumConcurrency at the reservation",
           values={"reserved_concurrency": 50, "maximum_concurrency": 50},
           ask="Keep the reservation of 50 and set MaximumConcurrency to 50 as well. Predict the throttles, "
               "and whether the queue now empties within the 2 minutes.",
           answer="Nothing is throttled: the extra messages wait in the queue instead. "
                  "It does: the queue is empty after about {empty_s} s.",
           measure=lambda r: {"throttled": len(r.throttle_time), "empty_s": _emptied_at(r)},
           expect={"throttled": Expect(0), "empty_s": Expect(95, rel=0.15)}),
      Step(key="reserve-10", title="A small reservation",
           values={"reserved_concurrency": 10},
           ask="Reserve 10 with no MaximumConcurrency. Predict: how many times can a message the function "
               "never fails on be received without running, and does any reach the dead-letter queue within "
               "the 2 minutes?",
           answer="About {throttled} invocations are throttled (under the model's assumption that each "
                  "throttle retires one poller), and some messages are received {most} times without running "
                  "once. None reaches the DLQ yet ({dlq} there): with maxReceiveCount 5, a fifth receive is still "
                  "allowed, and only the receive after it would move them there, although the function never "
                  "failed on them. A longer backlog, or a lower maxReceiveCount, puts good messages in the DLQ.",
           measure=lambda r: {"throttled": len(r.throttle_time), "most": int((r.receive_count - r.runs).max()),
                              "dlq": r.count(_MO.DLQ)},
           expect={"throttled": Expect(500, rel=0.15), "most": Expect(4), "dlq": Expect(0)}),
      Step(key="no-scale-down", title="No scale-down (a model assumption)",
           values={"scale_down": 0},
           ask="Back at the defaults, set the scale-down on errors to off: failures no longer scale the "
               "mapping down. Predict: does the peak rise, and does the queue empty much sooner?",
           answer="The peak rises to about {peak}, but the queue is empty after about {empty_s} s, hardly "
                  "sooner: the failed batches still wait out their visibility timeout.",
           measure=lambda r: {"peak": _peak(r), "empty_s": _emptied_at(r)},
           expect={"peak": Expect(110, rel=0.15), "empty_s": Expect(85, rel=0.15)}))
