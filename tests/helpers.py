"""Shared test helpers."""

import math
import re


def value_re(value) -> str:
    """Regex for how a bad value may be printed: plain, with thousands separators, or repr.

    labsim.validation prints whole numbers as ``1,000`` (see its docstring), strings as repr.
    """
    alts = {str(value), repr(value)}
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if float(value).is_integer():
            alts |= {f"{int(value)}", f"{int(value):,}"}
        else:
            alts.add(f"{value:g}")
    return "(" + "|".join(re.escape(a) for a in sorted(alts)) + ")"
