"""The machinery of tests/test_hostile.py: find every public model function, build a valid call
for it, and run calls in a separate worker process under a memory limit, with a watchdog.

Discovery (no list to keep up to date): every public function defined in a module of the
``labsim`` package (walked with ``pkgutil``, skipping the UI and tooling packages ``plots``,
``labs``, ``bench`` and ``validation``), every public dataclass there that validates its fields
(``__post_init__``: ``RetryPolicy``, ``RetryBudget``), and the ``model`` of every lab registered
in ``labsim.labs.LABS``.

A valid baseline call: each parameter's default, or for a required one a value from
:data:`REQUIRED` (by parameter name), or one guessed from its annotation (a float, an int,
a bool, or for a string the first choice the function's own error message offers).
:data:`CHEAPER` makes a few defaults cheaper, so the sweep stays short.

The books: a result with a ``books()`` method states its balance in that method's docstring as
equations between its keys (``sent == succeeded + throttled + in_flight``); without one the first
key must equal the sum of the others. Results are searched inside tuples, lists, dicts and the
fields of dataclasses. Numbers and numeric arrays returned as such must be finite.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import multiprocessing
import os
import pkgutil
import re
import time
from numbers import Real

import numpy as np

from labsim.sns import Subscription

SKIP = ("labsim.plots", "labsim.labs", "labsim.bench", "labsim.validation")

# --- valid values for required parameters, by name (any module may use them) ------------------------
ARRIVALS = [0.5, 1.0, 1.5, 2.5]
REQUIRED = {
    "arrivals": np.array(ARRIVALS), "admitted": np.array([True, True, False, True]),
    "durations": np.ones(len(ARRIVALS)), "consumers": 1,
    "grid": np.linspace(0.0, 3.0, 7), "rate": 2.0, "burst": 3, "window": 1.0,
    "times": [0.0, 10.0], "rates": [1.0, 2.0], "horizon": 10.0, "rng": 0, "seed": 0,
    "base_rate": 1.0, "spike_rate": 5.0, "spike_start": 2.0, "spike_length": 1.0,
    "start_rate": 1.0, "end_rate": 3.0, "kind": "exponential", "mean": 1.0, "n": 5,
    "start": [0.0, 1.0, 2.0], "end": [1.5, 2.5, 3.0], "t": [0.0, 30.0, 90.0],
    "region": "us-east-1", "limit": 1_000, "reason": 1, "reserved": False,
    "event": [0, 0, 1], "time": [0.0, 1.0, 2.0], "store": True,
    "delay_kind": "exponential", "delay_mean": 600.0, "ttl": 3_600.0,
    "mean_duration": 1.0, "duration": 0.1, "c": 10, "load": 5.0, "time_in_system": 2.0,
    "arrival_rate": 4.0, "p": 0.3, "retries": 2, "concurrencies": [1, 10], "item_kb": 100.0,
    "weights": np.ones(len(ARRIVALS)), "buckets": [(None, 2.0, 3)],
    # kinesis (labsim.kinesis): partition keys, the open shards' hash-key ranges, hash halves
    "keys": np.array([3, 1, 4, 1]), "n_keys": 10, "skew": 0.5, "key": 1, "suffixes": 3, "index": 0,
    "efo": False, "ranges": ((0, 2**127 - 1), (2**127, 2**128 - 1)),
    "hi": np.array([0, 2**63 - 1, 2**63, 2**64 - 1], np.uint64), "lo": np.array([5, 0, 2**64 - 1, 7], np.uint64),
    # labsim.sns: filter policies, messages (one attribute dict per publish), subscriptions
    "policy": {"event": ["order_placed"]}, "message": {"event": "order_placed"},
    "publish": np.array(ARRIVALS), "messages": [{"event": e} for e in ("order_placed", "order_shipped",
                                                                        "order_placed", "order_cancelled")],
    "subscriptions": [Subscription("placed", filter_policy={"event": ["order_placed"]})],
}


def _appflow_required() -> dict:
    """appflow: a CRM of four accounts (one test account, one invalid email), four edits, a flow, a result."""
    from labsim import appflow
    acc = appflow.Accounts(np.array([False, True, False, False]), np.array([False, False, True, False]))
    t, a = np.array([100.0, 5_000.0, 5_000.0, 40_000.0]), np.array([0, 1, 0, 3])
    flow = appflow.Flow()
    return {"accounts": acc, "flow": flow, "change_time": t, "change_account": a,
            "r": appflow.simulate_flow(flow, acc, t, a)}


REQUIRED.update(_appflow_required())
#: Cheaper values than the defaults for a few functions (the sweep makes hundreds of calls).
CHEAPER = {
    "labsim.retry.contention_sweep": dict(n_values=(10, 20), strategies=("exponential", "full_jitter"),
                                          replications=2),
    "labsim.awslambda.simulate_sync": dict(rate=1_000.0, horizon=5.0),
    "labsim.retry.simulate_independent_failures": dict(n_calls=1_000),
    "labsim.batch.wall_time_curve": dict(concurrencies=[1, 10]),
    # kinesis: its own kinds of keys; a partition key is a string
    "labsim.kinesis.make_keys": dict(kind="zipf"),
    "labsim.kinesis.md5_hash_key": dict(key="customer-1"),
    "labsim.tokenbucket.max_weight_in_window": dict(weights=[1.0, 2.0]),     # one per time of REQUIRED's times
    "labsim.sqs.mmc_replications": dict(messages=200, reps=2),
}


# --- discovery ---------------------------------------------------------------------------------------
def model_modules():
    import labsim
    out = []
    for m in pkgutil.walk_packages(labsim.__path__, "labsim."):
        if m.name.startswith(SKIP):
            continue
        out.append(importlib.import_module(m.name))
    return out


def targets() -> dict:
    """``{id: spec}``: every function to sweep. A spec is ("func", module, name) or ("lab", name)."""
    out = {}
    for mod in model_modules():
        for name, obj in sorted(vars(mod).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj) or (inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                                           and hasattr(obj, "__post_init__")):
                out[f"{mod.__name__}.{name}"] = ("func", mod.__name__, name)
    from labsim import labs
    for name in labs.LABS:
        out[f"lab:{name}"] = ("lab", name)
    return out


_LAB_CACHE: dict = {}


def lab_parts(name):
    """(model, {control: default value}) of a registered lab, without drawing it."""
    if name not in _LAB_CACHE:
        from unittest import mock

        from labsim.labs import LABS, base
        with mock.patch.object(base.Lab, "update", lambda self, change=None: None):
            lab = LABS[name]()
        _LAB_CACHE[name] = (lab.model, lab.values())
    return _LAB_CACHE[name]


def resolve(spec):
    if spec[0] == "lab":
        return lab_parts(spec[1])[0]
    return getattr(importlib.import_module(spec[1]), spec[2])


def parameters(spec) -> list:
    """The sweepable parameters of a target: (name, default or inspect.Parameter.empty)."""
    if spec[0] == "lab":
        return list(lab_parts(spec[1])[1].items())
    sig = inspect.signature(resolve(spec))
    return [(p.name, p.default) for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def guess(spec, name):
    """A value for a required parameter that :data:`REQUIRED` does not know, from its annotation."""
    sig = inspect.signature(resolve(spec))
    ann = str(sig.parameters[name].annotation)
    for key, value in (("float", 1.0), ("int", 1), ("bool", True)):
        if key in ann:
            return value
    if "str" in ann:
        return "?"          # the caller asks the function for its choices (see Worker.baseline)
    raise LookupError(f"no valid value known for the required parameter {name!r}: add one to REQUIRED")


# --- the books ------------------------------------------------------------------------------------------
_EQ = re.compile(r"``([^`]*=[^`]*)``")


def balance_rules(obj) -> list:
    """[(left names, right names)] read from ``books()``'s docstring, or [] if it states none."""
    rules = []
    for text in _EQ.findall(inspect.getdoc(obj.books) or ""):
        sides = [s.strip() for s in re.split(r"==?", text)]
        parts = [[n.strip() for n in side.split("+")] for side in sides]
        for a, b in zip(parts, parts[1:]):
            rules.append((a, b))
    return rules


def check_books(obj, where: str) -> list:
    try:
        b = obj.books()
    except Exception as e:                                  # noqa: BLE001
        return [f"{where}.books() raised {e!r}"]
    if not isinstance(b, dict) or not b:
        return [f"{where}.books() is not a non-empty dict: {b!r:.200}"]
    bad = {k: v for k, v in b.items() if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0}
    if bad:
        return [f"{where}.books() has values that are not counts: {bad}"]
    rules = balance_rules(obj)
    if not rules:
        keys = list(b)
        rules = [([keys[0]], keys[1:])]
    problems = []
    for left, right in rules:
        names = left + right
        unknown = [n for n in names if n not in b]
        if unknown:
            problems.append(f"{where}.books() docstring names {unknown}, not keys of {sorted(b)}")
            continue
        if sum(b[n] for n in left) != sum(b[n] for n in right):
            problems.append(f"{where}: books do not balance: {' + '.join(left)} != {' + '.join(right)} in {b}")
    return problems


def judge(result) -> list:
    """Problems with a returned result: unbalanced books, numbers that are not finite."""
    problems = []

    def walk(x, where, depth):
        if depth > 4:
            return
        if hasattr(x, "books") and callable(x.books):
            problems.extend(check_books(x, where))
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            for f in dataclasses.fields(x):
                v = getattr(x, f.name)
                if hasattr(v, "books") or isinstance(v, (tuple, list, dict)) or dataclasses.is_dataclass(v):
                    walk(v, f"{where}.{f.name}", depth + 1)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{where}[{k!r}]", depth + 1)
        elif isinstance(x, (tuple, list)):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]", depth + 1)
        elif isinstance(x, (float, np.floating)) and not math.isfinite(x):
            problems.append(f"{where} is {x}")
        elif isinstance(x, np.ndarray) and x.dtype.kind in "fc" and not np.isfinite(x).all():
            problems.append(f"{where} holds values that are not finite")

    walk(result, "result", 0)
    return problems


# --- the worker process ------------------------------------------------------------------------------------
def _worker(conn, memory_bytes):
    """Child process: run one call at a time, report the outcome. Never returns on its own."""
    import warnings
    warnings.simplefilter("ignore")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import labsim.labs  # noqa: F401  (import once, before the memory limit)
    try:
        import resource
        with open("/proc/self/status") as f:
            vm = int(re.search(r"VmSize:\s+(\d+) kB", f.read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + memory_bytes, vm + memory_bytes))
    except (ImportError, OSError, AttributeError, ValueError):
        pass                                                  # no limit where the OS has none
    funcs = {}
    while True:
        msg = conn.recv()
        if msg is None:
            return
        spec, kwargs = msg
        if spec not in funcs:
            funcs[spec] = resolve(spec)
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            result = funcs[spec](**kwargs)
            out = ("ok", "", judge(result))
        except ValueError as e:
            out = ("ValueError", str(e), [])
        except BaseException as e:                            # noqa: BLE001 (report every crash)
            out = ("crash", f"{type(e).__name__}: {e}"[:500], [])
        out += (time.process_time() - cpu, time.perf_counter() - wall)
        del kwargs
        conn.send(out)


def sleep(seconds):
    """For the test of the watchdog: a call that hangs."""
    time.sleep(seconds)


class Hang(Exception):
    pass


class Worker:
    """A spawned process that runs calls; ``call`` raises :class:`Hang` past ``hang_s`` seconds of
    wall time (the process is then killed and a fresh one starts for the next call)."""

    def __init__(self, memory_bytes: int = 2 << 30, hang_s: float = 30.0):
        self.ctx = multiprocessing.get_context("spawn")
        self.memory_bytes, self.hang_s = memory_bytes, hang_s
        self.proc = None
        self.calls = 0

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.memory_bytes), daemon=True)
        self.proc.start()
        child.close()
        self.fresh = True

    def call(self, spec, kwargs):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.calls += 1
        self.conn.send((spec, kwargs))
        grace, self.fresh = (60.0 if self.fresh else 0.0), False        # a new process imports first
        if not self.conn.poll(self.hang_s + grace):
            self.kill()
            raise Hang(f"no answer within {self.hang_s:.0f} s")
        try:
            return self.conn.recv()
        except EOFError:
            self.kill()
            return ("crash", "the worker process died (out of memory?)", [], math.nan, math.nan)

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
        self.kill()


# --- hostile values and what must happen ----------------------------------------------------------------
def kind_of(value) -> str:
    """What a baseline value is: 'bool', 'str', 'number', 'array', 'none' or 'other'."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Real):
        return "number"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "array"
    return "none" if value is None else "other"


def hostile_values(baseline, arrays_ok: bool = False) -> list:
    """(label, value, must_refuse) for one parameter whose valid value is ``baseline``.

    ``arrays_ok``: the function documents that the parameter may be an array.
    """
    k = kind_of(baseline)
    nf = np.float64(baseline if k == "number" else 0.5)
    vals = [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf), ("-1", -1), ("0", 0), ("1e12", 1e12),
            ("10**30", 10**30), ("10**400", 10**400), ("'abc'", "abc"), ("None", None), ("True", True),
            ("array", np.array([1.0, 2.0])), ("np.float64", nf)]
    if k == "array":
        vals += [("[1, nan]", [1.0, math.nan]), ("[]", []), ("[[1.0]]", [[1.0]]), ("[2, 1]", [2.0, 1.0]),
                 ("[-1]", [-1.0])]
    out = []
    for label, v in vals:
        if k == "number":
            refuse = label in ("nan", "inf", "-inf", "'abc'", "True") or (label == "array" and not arrays_ok) \
                or (label == "None" and baseline is not None) \
                or (label == "10**400" and isinstance(baseline, (float, np.floating)))
        elif k == "bool":
            refuse = label not in ("True",)
        elif k == "str":
            refuse = label != "'abc'"
        elif k == "array":
            refuse = label in ("nan", "inf", "-inf", "'abc'", "None", "True", "[1, nan]", "[[1.0]]")
        else:                                                 # default None or an object
            refuse = label in ("nan", "inf", "-inf", "'abc'", "True")
        out.append((label, v, refuse))
    return out


_NUM = r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?"


def _num(text: str):
    x = float(text.replace(",", ""))
    return int(x) if x.is_integer() and "e" not in text and "." not in text else x


class SplitBounds(tuple):
    """(lo, lo_open, hi, hi_open) of a range plus single values allowed apart from it (``also``),
    from a message such as ``allowed -1, or 60 to 604,800``."""

    also: tuple = ()


def bounds_from(message: str, name: str):
    """(lo, lo_open, hi, hi_open) from a validator's message ``name=... allowed ...`` (or None).
    A split range, ``allowed V, or LO to HI``, gives a :class:`SplitBounds` that keeps V."""
    if not message.startswith(f"{name}="):
        return None
    m = re.search(r"allowed (" + _NUM + r"), or (" + _NUM + r") to (" + _NUM + r")(?![\d,])", message)
    if m:
        b = SplitBounds((_num(m.group(2)), False, _num(m.group(3)), False))
        b.also = (_num(m.group(1).rstrip(",")),)
        return b
    m = re.search(r"allowed (more than )?(" + _NUM + r") to (" + _NUM + r")( \(exclusive\))?", message)
    if m:
        return _num(m.group(2)), bool(m.group(1)), _num(m.group(3)), bool(m.group(4))
    m = re.search(r"allowed (more than )?(" + _NUM + r")( or more)?(?:\b|$)", message)
    if m and (m.group(1) or m.group(3)):
        return _num(m.group(2)), bool(m.group(1)), None, False
    m = re.search(r"allowed (less than )?(" + _NUM + r")( or less)?", message)
    if m and (m.group(1) or m.group(3)):
        return None, False, _num(m.group(2)), bool(m.group(1))
    return None


def edge_values(bounds, baseline) -> list:
    """The ends of an allowed range, as a valid value of the baseline's type."""
    lo, lo_open, hi, hi_open = bounds
    out = []
    whole = isinstance(baseline, (int, np.integer)) and not isinstance(baseline, bool)
    for end, is_open, toward in ((lo, lo_open, math.inf), (hi, hi_open, -math.inf)):
        if end is None:
            continue
        if whole:
            v = int(end) + (0 if not is_open else (1 if toward > 0 else -1))
        else:
            v = float(np.nextafter(end, toward)) if is_open else float(end)
        out.append((f"edge {v!r}", v))
    for v in getattr(bounds, "also", ()):                 # a value allowed apart from the range
        v = int(v) if whole else float(v)
        out.append((f"edge {v!r}", v))
    return out


def arrays_ok(spec, name: str) -> bool:
    """True if the target's docstring says ``name`` may be an array."""
    doc = inspect.getdoc(resolve(spec)) or ""
    return f"``{name}`` may be an array" in " ".join(doc.split())


def names_parameter(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message) is not None


def base_kwargs(tid, spec):
    """A call's keyword arguments from defaults, CHEAPER and REQUIRED; the names that have none
    of these are returned apart (``(kwargs, missing)``), for the caller to guess or give up."""
    kw, missing = {}, []
    for name, default in parameters(spec):
        if tid in CHEAPER and name in CHEAPER[tid]:
            kw[name] = CHEAPER[tid][name]
        elif default is not inspect.Parameter.empty:
            kw[name] = default
        elif name in REQUIRED:
            kw[name] = REQUIRED[name]
        else:
            missing.append(name)
    return kw, missing
