"""labsim: the simulators behind Serverless Lab.

Three layers, imports only go down:

* models (pure): ``traffic``, ``theory``, ``awslambda``, ``batch``; parameters + seed -> result
* ``plots`` (pure): result -> matplotlib Figure (one module per part of the book)
* ``labs`` (UI): ipywidgets controls -> model -> plot -> PNG (registered in ``labs.LABS``)
"""

from .outcomes import Outcome
from .validation import check_choice, check_int, check_number

__all__ = ["Outcome", "check_choice", "check_int", "check_number"]
__version__ = "0.1.0"
