"""Figures from results. Pure: result in, ``matplotlib.figure.Figure`` out (never pyplot state).

One module per part of the book; shared pieces in :mod:`labsim.plots.base`.
"""

from .base import ROLE, Recycler, figure, flow, flows, plain_log_ticks, to_png  # noqa: F401
from .lambda_basics import batch_figure, concurrency_figure, neighbour_figure, scaling_figure  # noqa: F401
from .invocations import *  # noqa: F401,F403  (chapter 2: invocation models)
from .coldstart import *  # noqa: F401,F403  (chapter 3.1: cold starts and provisioned concurrency)
from .retries import *  # noqa: F401,F403  (chapter 4: client retries, backoff, contention)
from .async_invocation import *  # noqa: F401,F403  (chapter 4.1: async retries, destinations, idempotency)
from .sqs import *  # noqa: F401,F403  (chapter 6: SQS, Lambda polling SQS)
from .sns import *  # noqa: F401,F403  (chapters 5 and 7: the outage lab; SNS fan-out, delivery retries)
from .kinesis import *  # noqa: F401,F403  (Kinesis: hot shards, consumers, a poison record)
from .appflow import *  # noqa: F401,F403  (AppFlow: a CRM day moved to S3 by three flows)
from .toolbox import *  # noqa: F401,F403  (the toolbox page: offered load, percentiles, token bucket, books)
from .apigateway import *  # noqa: F401,F403  (API Gateway: bucket, usage plans, endpoint types)
from .stepfunctions import *  # noqa: F401,F403  (Step Functions: a batch job run as a Map state)
from .apidepth import *  # noqa: F401,F403  (API Gateway in depth: integration timeouts, the response cache)
from .capstone import *  # noqa: F401,F403  (the capstone: one flash sale, three designs)
