"""Interactive labs: ipywidgets controls -> model -> figure -> PNG.

Each lab function returns a :class:`Lab` (an ``ipywidgets.VBox``) whose ``controls`` dict gives
tests and readers access to every control; one callback recomputes the model once per change.
On the website a lab shows its precomputed states (see :mod:`.static`). One module per part of the book; every lab
is listed in :data:`LABS` in book order.
"""

from .base import LABS, Lab, show  # noqa: F401
from .lambda_basics import batch_lab, concurrency_lab, neighbour_lab, scaling_lab  # noqa: F401
from .invocations import *  # noqa: F401,F403  (chapter 2: invocation models)
from .coldstart import *  # noqa: F401,F403  (chapter 3.1: cold starts and provisioned concurrency)
from .retries import *  # noqa: F401,F403  (chapter 4: client retries, backoff, contention)
from .async_invocation import *  # noqa: F401,F403  (chapter 4.1: async retries, destinations, idempotency)
from .overview import *  # noqa: F401,F403  (chapter 5: application integration overview, the outage lab)
from .sqs import *  # noqa: F401,F403  (chapter 6: SQS; 6.1: Lambda polling SQS)
from .sns import *  # noqa: F401,F403  (chapter 7: SNS fan-out with filters, delivery retries)
from .kinesis import *  # noqa: F401,F403  (Kinesis: hot shards, consumers, a poison record)
from .appflow import *  # noqa: F401,F403  (AppFlow: a CRM day moved to S3 by three flows)
from .apigateway import *  # noqa: F401,F403  (API Gateway: bucket, usage plans, endpoint types)
from .stepfunctions import *  # noqa: F401,F403  (Step Functions: chapter 1's job as a Map state)
from .apidepth import *  # noqa: F401,F403  (API Gateway in depth: integration timeouts, the response cache)
from .capstone import *  # noqa: F401,F403  (the capstone: one flash sale, three designs)
