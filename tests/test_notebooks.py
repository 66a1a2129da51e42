"""Every chapter is a notebook: it runs without an error, within its time budget, and has the
chapters' shape.

Each chapter executes ONCE per test run, in the session's book build (``built_book`` in
conftest.py: myst-nb, ``allow_errors: false``, in the Binder-like environment); the per-chapter
test here reads myst-nb's record of that execution (succeeded, error, the failing cell's
traceback, the run time) instead of running the notebook again. To run one changed notebook on
its own: ``pytest --nbval-lax chapters/NAME.ipynb``.
"""

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import MEASURED, execution_failure

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
#: The last page: an exam-style quiz across the book, with no lab of its own (see test_chapter_shape).
REVIEW = "12_review.ipynb"
#: The tools every chapter uses (offered load, percentiles, the token bucket, the books), taught
#: once: a page of its own shape, with figures and predictions but no lab.
TOOLBOX = "00_toolbox.ipynb"
#: The map of the integration services: one page that sorts them (push or pull, queue, topic or
#: stream) and links each to the chapter that teaches it, with no lab of its own; its experiment,
#: the outage comparison, is in the capstone, after every service has been taught (issue 22).
MAP = "05_integration_overview.ipynb"
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import SETUP_CELL, setup_cell  # noqa: E402  (the hidden cell that installs labsim in the browser)


#: CONTRIBUTING.md: each notebook executes in 10 s or less (on the CI machine). The build's run
#: times are reported for every chapter, and those over budget are flagged in the report; a
#: chapter fails outright past 3x the budget, which no load on a 2-core machine explains.
BUDGET_S = 10.0
HARD_LIMIT_S = 3 * BUDGET_S
RUNTIMES: dict = {}


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.book
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_runs_without_error(built_book, path):
    """The book build executed the chapter (every cell, the hidden assertion cells included)
    without an error; on failure, the failing cell's traceback."""
    run = built_book.executed.get(f"chapters/{path.stem}")
    assert run is not None, f"the book build did not execute {path.name}:\n{built_book.log}"
    assert run["succeeded"], f"{path.name} failed in the book build: {execution_failure(run)}"
    RUNTIMES[path.name] = run["runtime"]
    assert run["runtime"] <= HARD_LIMIT_S, \
        f"{path.name} took {run['runtime']:.1f} s to execute: the budget is {BUDGET_S:.0f} s"


def test_report_execution_times():
    """Report line: every chapter's execution time in the build, slowest first, over-budget flagged."""
    if not RUNTIMES:
        pytest.skip("no chapter was executed in this run")
    times = sorted(RUNTIMES.items(), key=lambda kv: -kv[1])
    over = [name for name, t in times if t > BUDGET_S]
    MEASURED.append(f"NOTEBOOK EXECUTION (book build, budget {BUDGET_S:.0f} s each): total {sum(RUNTIMES.values()):.1f} s; "
                    + ", ".join(f"{name.removesuffix('.ipynb')} {t:.1f}" for name, t in times)
                    + (f"; OVER BUDGET: {', '.join(over)}" if over else ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_shape(path):
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "Learning goals" in text
    # "Check yourself" answers come in either form: a closed {dropdown} block, or the review's
    # self-graded quiz (a code cell that puts quiz/quiz.js and the quiz/*.json questions in one HTML
    # output; it grades in the browser, no kernel needed).
    quiz = any("quiz.js" in "".join(c["source"]) and "display(HTML(" in "".join(c["source"]) for c in code)
    assert "Check yourself" in text and ("{dropdown}" in text or quiz)
    assert "References" in text and "docs.aws.amazon.com" in text
    # "Try this" belongs to a lab; the review page has none: it is all questions. Its hidden cell
    # checks the quiz instead (count, coverage, one right answer, explanations, links, numbers).
    # The toolbox and the map have no lab either (a lab on either page needs its Try this again).
    if path.name not in (REVIEW, TOOLBOX, MAP) or any(re.search(r"labs\.\w+_lab\(", "".join(c["source"])) for c in code):
        assert "Try this" in text
    hidden = [c for c in code if "remove-cell" in c.get("metadata", {}).get("tags", [])]
    # Exactly one setup cell, the first code cell, hidden: it installs the chapter's packages in
    # JupyterLite (labsim; the review's quiz) and does nothing on CPython (nothing in it may reach
    # the network there). `python3 dev.py lite-cell chapters/NN_name.ipynb` puts it in a chapter.
    setup = [c for c in code if "piplite" in "".join(c["source"])]
    assert setup and code[0] is setup[0], "the first code cell must be the setup cell: python3 dev.py lite-cell"
    expected = setup_cell(nb)
    assert {k: setup[0].get(k) for k in expected} == expected, "the setup cell differs: python3 dev.py lite-cell"
    assert setup[0] in hidden and ("labsim" in "".join(setup[0]["source"])) == (path.name != REVIEW)
    assert len(setup) == 1, "one setup cell only"
    checks = [c for c in hidden if c is not setup[0]]
    assert checks and all("assert" in "".join(c["source"]) for c in checks)
    # Absent from the site (remove-cell) and collapsed when the notebook opens in JupyterLab, which
    # honours the standard `jupyter.source_hidden` cell metadata; the cells still run (the book build, Run All).
    shown = [c.get("id", i) for i, c in enumerate(hidden)
             if c["metadata"].get("jupyter", {}).get("source_hidden") is not True]
    assert not shown, f"remove-cell cells without metadata jupyter.source_hidden = true: {shown}"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip outputs"
    assert not any("pip install" in "".join(c["source"]) for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"chapters/{path.stem}" in toc


@pytest.mark.parametrize("source", sorted({"".join(setup_cell(json.loads(p.read_text()))["source"]) for p in NOTEBOOKS}
                                           | {SETUP_CELL}))
def test_setup_cell_does_nothing_on_cpython(source):
    """The browser's setup cell runs on CPython too (the book build in the Binder-like env, JupyterLab): there it
    imports nothing and installs nothing."""
    import ast
    import inspect
    before = set(sys.modules)
    code = compile(source, "<setup>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, {})
    if inspect.iscoroutine(result):
        # Stepped by hand, not with asyncio.run (which fails once the session's Playwright browser
        # holds an event loop in this thread): on CPython the cell finishes without awaiting anything.
        with pytest.raises(StopIteration):
            result.send(None)
    assert "piplite" not in sys.modules and "micropip" not in sys.modules
    assert set(sys.modules) - before <= {"sys"}


def test_lite_cell_command_puts_the_setup_cell_in_a_new_chapter(tmp_path):
    """`python3 dev.py lite-cell NOTEBOOK` (what a new chapter needs): before the first code cell,
    idempotent, and the result passes the shape rule's setup-cell check."""
    import subprocess
    nb = json.loads(NOTEBOOKS[0].read_text())
    nb["cells"] = [c for c in nb["cells"] if c.get("id") != "lite-setup"]
    new = tmp_path / "11_capstone.ipynb"
    new.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for word in ("updated", "unchanged"):
        out = subprocess.run([sys.executable, str(ROOT / "dev.py"), "lite-cell", str(new)],
                             capture_output=True, text=True, check=True).stdout
        assert f"11_capstone.ipynb: {word} (installs labsim)" in out, out
    cells = json.loads(new.read_text())["cells"]
    setup = [c for c in cells if c["cell_type"] == "code"][0]
    assert setup.get("id") == "lite-setup" and "".join(setup["source"]) == SETUP_CELL
    assert [c for c in cells if c is not setup] == nb["cells"], "nothing else changes"


# --- The teaching shape (issue 22; CONTRIBUTING.md §5) -------------------------------------------
#: Pages of their own shape: the toolbox and the review (a quiz). The map of the services (MAP)
#: follows the teaching shape, without a lab.
OWN_SHAPE = {TOOLBOX, REVIEW}
#: Main path (the opening, the exam core, the labs, Check yourself; Going deeper, the takeaways and
#: closed answers excluded): "at most about 1,600 words" (issue 22), so 10% over is still "about".
MAIN_PATH_WORDS = 1_760
#: Words a reader must not meet: how the book is built and tested belongs in docstrings.
DEVELOPER_TALK = ("ValueError", "the book's tests", "a test checks", "hidden cell", "nbval", "pytest")


def _markdown(nb):
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def main_path(md):
    """(words, numbers) of a chapter's main path: the markdown before Going deeper or the key
    takeaways, without closed dropdowns (the answers), labels and link targets."""
    import re
    cut = min([m.start() for h in (r"^#+ Going deeper", r"^#+ Key takeaways") for m in [re.search(h, md, re.M)] if m]
              or [len(md)])
    body = re.sub(r"^(:{3,})\{dropdown\}.*?^\1\s*$", "", md[:cut], flags=re.S | re.M)
    body = re.sub(r"^\(\S+\)=\s*$", "", body, flags=re.M)
    body = re.sub(r"\]\([^)]*\)", "]", body)
    body = re.sub(r"\{(term|ref|doc)\}`([^`<]*)(<[^>]*>)?`", r"\2", body)
    return len(re.findall(r"[A-Za-z0-9][\w'’.,-]*", body)), len(re.findall(r"(?<![\w.])\d[\d,.]*", body))


TEACHING = [p for p in NOTEBOOKS if p.name not in OWN_SHAPE]


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: p.name)
def test_teaching_chapter_shape(path):
    """Issue 22's shape (CONTRIBUTING.md §5): a reader's question first, the notes' bullets, learning goals, the
    toolbox and the glossary linked from the opening (plain links: they work in JupyterLab too),
    each lab followed by its predict-first steps (trythis.show) and their hidden check, Going
    deeper collapsed, key takeaways for the exam with numbers, no developer talk, one sitting."""
    import re
    nb = json.loads(path.read_text())
    md = _markdown(nb)
    first = "".join(nb["cells"][0]["source"])
    assert re.search(r"^# .+\n+\*[^*]+\?\*", first, re.M), "the page opens with a reader's question, in italics"
    assert ":::{admonition} From the notes" in first and "Learning goals" in first
    assert "](00_toolbox.ipynb)" in first and "](glossary.md)" in first, "plain links to the toolbox and glossary"
    code = [("".join(c["source"]), c["metadata"].get("tags", [])) for c in nb["cells"] if c["cell_type"] == "code"]
    labs = [m for src, _ in code for m in re.findall(r"labs\.(\w+_lab)\(", src)]
    shown = [m for src, tags in code if "remove-cell" not in tags for m in re.findall(r'trythis\.show\("(\w+)"\)', src)]
    checked = [m for src, tags in code if "remove-cell" in tags for m in re.findall(r'trythis\.check\("(\w+)"\)', src)]
    assert sorted(set(labs)) == sorted(shown) == sorted(set(checked)), (labs, shown, checked)
    assert "Going deeper" not in md or re.search(r"\{dropdown\}|hide-", json.dumps(nb)), "Going deeper is collapsed"
    takeaways = md[md.index("Key takeaways for the exam"):]
    bullets = re.findall(r"^- ", takeaways.split("\n#", 1)[0], re.M)
    assert 4 <= len(bullets) <= 6, f"{len(bullets)} takeaways (4 to 6)"
    assert re.search(r"\d", takeaways), "the takeaways carry the numbers"
    assert not [w for w in DEVELOPER_TALK if w in md], "developer talk in the reader's text"
    words, numbers = main_path(md)
    MEASURED.append(f"main path {path.stem}: {words:,} words, {100 * numbers / words:.1f} numbers per 100 words")
    assert words <= MAIN_PATH_WORDS, f"main path {words} words (about 1,600)"
    # What the site collapses (hide-input, hide-cell) opens collapsed in JupyterLab too, which
    # honours the cell's jupyter.source_hidden metadata, not the tag (test_live.py checks it there).
    open_ = [src.splitlines()[0][:60] for c in nb["cells"] if c["cell_type"] == "code"
             for src in ["".join(c["source"])]
             if {"hide-input", "hide-cell"} & set(c["metadata"].get("tags", []))
             and c["metadata"].get("jupyter", {}).get("source_hidden") is not True]
    assert not open_, f"hide-input cells without jupyter.source_hidden: {open_}"
