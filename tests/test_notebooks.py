"""Every chapter is a notebook; nbval executes them (see conftest). Here: the chapters' shape."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
#: The last page: an exam-style quiz across the book, with no lab of its own (see test_chapter_shape).
REVIEW = "12_review.ipynb"
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import SETUP_CELL  # noqa: E402  (the one hidden cell that installs labsim in the browser)


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_shape(path):
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "Learning goals" in text
    # "Check yourself" answers come in either form: a closed {dropdown} block, or a self-graded
    # jupyterquiz quiz (a code cell calling display_quiz; it grades in the browser, no kernel needed).
    quiz = any("display_quiz(" in "".join(c["source"]) for c in code)
    assert "Check yourself" in text and ("{dropdown}" in text or quiz)
    assert "References" in text and "docs.aws.amazon.com" in text
    # "Try this" belongs to a lab; the review page has none: it is all questions. Its hidden cell
    # checks the quiz instead (count, coverage, one right answer, explanations, links, numbers).
    if path.name != REVIEW:
        assert "Try this" in text
    hidden = [c for c in code if "remove-cell" in c.get("metadata", {}).get("tags", [])]
    # Exactly one setup cell, the first code cell, hidden: it installs labsim in JupyterLite and
    # does nothing on CPython (nothing in it may reach the network there).
    setup = [c for c in code if "".join(c["source"]) == SETUP_CELL]
    assert len(setup) == 1 and code[0] is setup[0], "the first code cell must be _ext/lite_site.py's SETUP_CELL"
    assert "lite-setup" in setup[0]["metadata"].get("tags", []) and setup[0] in hidden
    assert not any("piplite" in "".join(c["source"]) for c in code[1:]), "one setup cell only"
    checks = [c for c in hidden if c is not setup[0]]
    assert checks and all("assert" in "".join(c["source"]) for c in checks)
    # Absent from the site (remove-cell) and collapsed when the notebook opens in JupyterLab, which
    # honours the standard `jupyter.source_hidden` cell metadata; the cells still run (nbval, Run All).
    shown = [c.get("id", i) for i, c in enumerate(hidden)
             if c["metadata"].get("jupyter", {}).get("source_hidden") is not True]
    assert not shown, f"remove-cell cells without metadata jupyter.source_hidden = true: {shown}"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip outputs"
    assert not any("pip install" in "".join(c["source"]) for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"chapters/{path.stem}" in toc


def test_setup_cell_does_nothing_on_cpython():
    """The browser's setup cell runs on CPython too (nbval, Binder, the book build): there it
    imports nothing and installs nothing."""
    import ast
    import asyncio
    before = set(sys.modules)
    code = compile(SETUP_CELL, "<setup>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, {})
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    assert "piplite" not in sys.modules and "micropip" not in sys.modules
    assert set(sys.modules) - before <= {"sys"}
