"""Figures from results. Pure: result in, ``matplotlib.figure.Figure`` out (never pyplot state).

One module per part of the book; shared pieces in :mod:`labsim.plots.base`.
"""

from .base import ROLE, figure, flow, plain_log_ticks, to_png  # noqa: F401
from .lambda_basics import batch_figure, concurrency_figure, neighbour_figure, scaling_figure  # noqa: F401
from .invocations import *  # noqa: F401,F403  (chapter 2: invocation models)
from .retries import *  # noqa: F401,F403  (chapter 4: client retries, backoff, contention)
from .async_invocation import *  # noqa: F401,F403  (chapter 4.1: async retries, destinations, idempotency)
from .apigateway import *  # noqa: F401,F403  (API Gateway: bucket, usage plans, endpoint types)
from .appflow import *  # noqa: F401,F403  (AppFlow: a CRM day moved to S3 by three flows)
