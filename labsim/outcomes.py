"""The final states a request, invocation or message can end in.

Every simulated item ends in exactly one of these; results check that their books balance.
"""

from enum import IntEnum


class Outcome(IntEnum):
    SUCCEEDED = 0   #: completed within the simulated horizon
    THROTTLED = 1   #: refused with HTTP 429 (TooManyRequestsException, "Rate exceeded")
    IN_FLIGHT = 2   #: admitted, still running when the simulation stopped
    TIMED_OUT = 3   #: ran into the function timeout and was stopped
    FAILED = 4      #: the handler returned an error
    DROPPED = 5     #: discarded (for example: too old, retries exhausted, no destination)
