"""The capstone's outage comparison (its section "Compare the services in an outage"): one producer,
a consumer down for a while, and three ways to deliver: SNS push to HTTP, an SQS queue, a Kinesis
stream."""

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


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
# The numbers come from the SNS, SQS and Kinesis models: re-check them after any change there.
from .trythis import Expect, Step, steps  # noqa: E402  (after the factory: one block per module)

_LONGEST_SNS_POLICY = list(DELIVERY_PRESETS)[2]     # "60 retries, 60 s apart (3,600 s)"

steps("outage_lab",
      Step(key="sns-dlq", title="A DLQ on the SNS subscription",
           values={"dlq": True},
           ask="At the defaults SNS loses 171 messages in the 30-minute outage. Tick SNS subscription DLQ. "
               "Predict: are they still lost, and does anything change for SQS and Kinesis?",
           answer="All {dlq} go to the dead-letter queue instead ({lost} lost), and SQS and Kinesis are "
                  "unchanged. The messages are kept, not delivered: someone must now process them from "
                  "that queue.",
           measure=lambda res: {"dlq": res[0].books()["dlq"], "lost": res[0].books()["lost"],
                                "sqs_read": res[1].books()["deleted"], "kinesis_read": res[2].books()["processed"]},
           expect={"dlq": Expect(171), "lost": Expect(0), "sqs_read": Expect(761), "kinesis_read": Expect(761)}),
      Step(key="sqs-retention-15", title="A short SQS retention",
           values={"retention": "15 minutes"},
           ask="Without the DLQ, set SQS retention to 15 minutes, half the outage. Predict: does the queue "
               "still lose nothing, and if it loses some, which ones?",
           answer="No: {expired} messages expire, all of them sent more than 15 minutes before the "
                  "consumer came back. A pull service keeps messages only as long as its retention.",
           measure=lambda res: {"expired": res[1].books()["expired"]},
           expect={"expired": Expect(81)}),
      Step(key="sns-hour-of-retries", title="An hour of SNS retries",
           values={"policy": _LONGEST_SNS_POLICY},
           ask="With the default retention, choose the SNS policy 60 retries, 60 s apart (3,600 s), the "
               "most an HTTP/S policy allows. Its retries outlast the 30-minute outage. Predict: how many "
               "messages does SNS lose now, and how many arrive late?",
           answer="{lost} lost; {late} arrive late: the 171 the default policy lost, plus the 3 of the "
                  "outage's last minute, which arrived late under the default policy too. An outage "
                  "shorter than the policy's retries is bridged.",
           measure=lambda res: {"lost": res[0].books()["lost"], "late": res[0].books()["delivered_late"]},
           expect={"lost": Expect(0), "late": Expect(174)}),
      Step(key="sns-hour-outage-90", title="An outage longer than an hour",
           values={"policy": _LONGEST_SNS_POLICY, "down_minutes": 90},
           ask="Keep the hour of retries and make the outage 90 minutes. Predict which service loses "
               "messages now, and which ones.",
           answer="SNS loses {lost}: those published more than an hour before the consumer came back, "
                  "whose retries ran out. SQS and Kinesis lose {kept_lost} and make the first messages "
                  "wait about {wait:.0f} minutes. An HTTP/S subscription cannot bridge more than an "
                  "hour; for longer outages, let SNS deliver to a queue.",
           measure=lambda res: {"lost": res[0].books()["lost"],
                                "kept_lost": res[1].books()["expired"] + res[2].books()["pending"],
                                "wait": float(np.nanmax(res[1].first_receive - res[1].send)) / 60},
           expect={"lost": Expect(174), "kept_lost": Expect(0), "wait": Expect(90, abs=1)}))
