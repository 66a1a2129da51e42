"""Lab for chapter 5 (application integration overview): one producer, a consumer down for a
while, and three ways to deliver: SNS push to HTTP, an SQS queue, a Kinesis stream."""

from __future__ import annotations

import numpy as np

from .. import kinesis, plots, sqs, traffic
from .base import Lab, checkbox as _check, dropdown as _drop, int_slider as _int, register
from .sns import DELIVERY_PRESETS
from .. import sns
from ..validation import check_bool, check_choice, check_number

__all__ = ["outage_lab", "RETENTIONS"]

OUTAGE_SEND_S = 7_200.0
OUTAGE_HORIZON_S = 10_800.0
OUTAGE_AT_S = 600.0
OUTAGE_MAX_DOWN_MIN = (OUTAGE_HORIZON_S - OUTAGE_AT_S) / 60.0
OUTAGE_RATE = 0.1                     # messages per second
SQS_PROCESSING_S = 0.5
#: SQS retention choices: the default (4 days) down to the minimum (60 s).
RETENTIONS = {"4 days (default)": sqs.DEFAULT_RETENTION_S, "1 hour": 3_600, "15 minutes": 900,
              "1 minute (minimum)": sqs.MIN_RETENTION_S}


def outage_model(down_minutes, policy, dlq, retention):
    down_minutes = check_number("down_minutes", down_minutes, 0, OUTAGE_MAX_DOWN_MIN,
                                why="the consumer is back before the lab's 3-hour horizon")
    check_choice("policy", policy, DELIVERY_PRESETS)
    check_bool("dlq", dlq)
    check_choice("retention", retention, RETENTIONS)
    t = traffic.poisson(OUTAGE_RATE, OUTAGE_SEND_S, 31)
    down = (OUTAGE_AT_S, OUTAGE_AT_S + 60.0 * down_minutes)
    a = sns.simulate_delivery(t, policy=DELIVERY_PRESETS[policy], endpoint_down=[down], dlq=dlq,
                              horizon=OUTAGE_HORIZON_S)
    q = sqs.simulate_queue(t, horizon=OUTAGE_HORIZON_S, mean_duration=SQS_PROCESSING_S, consumer_down=down,
                           retention=RETENTIONS[retention], seed=32)
    k = kinesis.simulate_stream(t, np.arange(len(t)) % 16, 1_024, 1, consumers=1, horizon=OUTAGE_HORIZON_S,
                                consumer_down=down)
    return a, q, k


def outage_view(res, down_minutes, policy, dlq, retention):
    a, q, k = res
    ab, qb = a.books(), q.books()
    wq = q.first_receive - q.send
    wk = k.read[:, 0] - k.arrival
    text = (f"consumer down from 10 min for {down_minutes:g} min. <b>SNS</b> ({policy}, DLQ {'on' if dlq else 'off'}): "
            f"{ab['delivered'] + ab['delivered_late']:,} of {ab['published']:,} delivered, <b>{ab['lost']:,}</b> lost, "
            f"{ab['dlq']:,} to the DLQ. <b>SQS</b> (retention {retention}): {qb['deleted']:,} read, "
            f"<b>{qb['expired']:,}</b> expired, longest wait {np.nanmax(wq) / 60:.1f} min. <b>Kinesis</b> "
            f"(retention 24 h): {k.books()['processed']:,} read, 0 lost, longest wait {np.nanmax(wk) / 60:.1f} min; "
            f"every record stays readable for 24 hours.")
    return plots.outage_figure(a, q, k, (OUTAGE_AT_S, OUTAGE_AT_S + 60.0 * down_minutes), OUTAGE_HORIZON_S,
                               retention), text


@register
def outage_lab() -> Lab:
    """Who loses, who delays, who replays: a consumer down for X minutes behind SNS, SQS and Kinesis."""
    return Lab({"down_minutes": _int("consumer down (minutes)", 30, 0, 90, 5),
                "policy": _drop("SNS delivery policy", list(DELIVERY_PRESETS), list(DELIVERY_PRESETS)[0]),
                "dlq": _check("SNS subscription DLQ", False),
                "retention": _drop("SQS retention", list(RETENTIONS), "4 days (default)")},
               outage_model, outage_view, "Where every message went for each service, and its delay to the consumer")
