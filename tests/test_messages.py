"""Every validation message of the models, word for word (a golden file: tests/messages.json).

The hostile sweep (test_hostile.py) checks that each error names its parameter; this test pins
the whole message: the name, how the value is shown, the allowed range (its ends, open or
closed) and the reason given. It runs in-process (mutation testing sees it; the sweep runs in
a worker process) and only replays calls that raise, so it takes well under a second.

After changing a message on purpose, regenerate the file and review the diff:

    .venv/bin/python tests/test_messages.py --update
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest

import hostile

GOLDEN = Path(__file__).with_name("messages.json")
#: The hostile values replayed here (JSON-friendly ones): below and above the usual ranges,
#: and a string.
VALUES = {"-1": -1, "1e12": 1e12, "'abc'": "abc"}


def call_kwargs(tid, spec) -> dict | None:
    kw, missing = hostile.base_kwargs(tid, spec)
    return None if missing else kw


def message(spec, kw):
    try:
        hostile.resolve(spec)(**kw)
    except ValueError as e:
        return str(e)
    return None


def generate() -> dict:
    out = {}
    for tid, spec in hostile.targets().items():
        if spec[0] == "lab":
            continue
        base = call_kwargs(tid, spec)
        if base is None:
            continue
        for name in base:
            for label, value in VALUES.items():
                if hostile.kind_of(base[name]) not in ("number", "str", "bool", "none"):
                    continue
                msg = message(spec, dict(base, **{name: value}))
                if msg is not None:
                    out.setdefault(tid, {}).setdefault(name, {})[label] = msg
    return out


def cases():
    if not GOLDEN.exists():
        return []
    data = json.loads(GOLDEN.read_text())
    return [(tid, name, label, msg) for tid, params in data.items() for name, by in params.items()
            for label, msg in by.items()]


TARGETS = hostile.targets()


@pytest.mark.parametrize("tid,name,label,expected", cases(), ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in cases()])
def test_message_word_for_word(tid, name, label, expected):
    spec = TARGETS.get(tid)
    assert spec is not None, f"{tid} is gone: regenerate {GOLDEN.name}"
    base = call_kwargs(tid, spec)
    got = message(spec, dict(base, **{name: VALUES[label]}))
    assert got == expected


def test_golden_file_covers_every_model_module():
    data = json.loads(GOLDEN.read_text())
    modules = {tid.rsplit(".", 1)[0] for tid in data}
    for m in ("labsim.awslambda", "labsim.lambda_async", "labsim.retry", "labsim.theory", "labsim.traffic",
              "labsim.tokenbucket"):
        assert m in modules, m
    assert sum(len(by) for params in data.values() for by in params.values()) > 300


if __name__ == "__main__" and "--update" in sys.argv:
    GOLDEN.write_text(json.dumps(generate(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
