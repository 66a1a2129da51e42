"""The review's quiz data (chapters/quiz/<page>.json, CONTRIBUTING.md 4), with no book build.

The rules live in the review's hidden check cell (chapters/12_review.ipynb), which runs them in
the book build, in JupyterLab and in JupyterLite; this test runs that same cell on the files
here, then feeds its rule function broken copies of a question to show that each rule can fail.
"""

import copy
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"


def check_cell_source() -> str:
    cells = json.loads((CHAPTERS / "12_review.ipynb").read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if c["cell_type"] == "code" and "def quiz_problems(" in "".join(c["source"])]
    assert "remove-cell" in cell["metadata"]["tags"], "the quiz check is a hidden cell"
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def check():
    """The check cell, run in chapters/ as the notebook runs it: its namespace."""
    ns: dict = {}
    here = os.getcwd()
    os.chdir(CHAPTERS)
    try:
        exec(compile(check_cell_source(), "12_review check cell", "exec"), ns)
    finally:
        os.chdir(here)
    return ns


def test_the_quiz_files_keep_every_rule_and_the_counts(check):
    """The cell's own asserts passed (the fixture ran them); the counts it asserts, restated."""
    assert not check["problems"]
    assert set(check["FILES"]) <= set(check["TEACHING"])
    assert len(check["ALL"]) >= 75 and check["many"] >= 12
    assert min(check["per_page"].values()) >= 4, check["per_page"]
    assert check["longest_share"] <= 0.30 and check["shortest_share"] <= 0.35
    ids = [q["id"] for q in check["ALL"]]
    assert len(ids) == len(set(ids))


def test_every_ref_is_an_explicit_label_of_its_page(check):
    for q in check["ALL"]:
        assert f"\n({q['ref']})=" in "\n" + check["PAGES_MD"][q["chapter"]], (q["id"], q["ref"])


def _one(check):
    """A valid question to break, with its page's markdown."""
    q = next(q for q in check["ALL"] if q["id"] == "concurrency-3000-rps")
    return copy.deepcopy(q), {q["chapter"]: check["PAGES_MD"][q["chapter"]]}


BREAKS = {
    "a ref that is no label": (lambda q: q.update(ref="concurrency-nowhere"), "is no explicit label"),
    "two right answers in a kind one": (lambda q: q["options"][1].update(correct=True), "exactly one correct"),
    "a missing why": (lambda q: q["options"][2].pop("why"), "text, correct (true or false) and why"),
    "a shared why": (lambda q: q["options"][2].update(why=q["options"][1]["why"]), "its own why"),
    "a dollar sign": (lambda q: q["options"][3].update(text="It costs $5 more."), "no $"),
    "a number the page does not state": (lambda q: q.update(question=q["question"] + " It runs 7,777 times."), "'7,777' is not stated"),
    "an unknown kind": (lambda q: q.update(kind="several"), "kind is 'one' or 'many'"),
    "a chapter that is not its file's": (lambda q: q.update(chapter="06_sqs"), "in the file of"),
    "an extra key": (lambda q: q.update(title="x"), "keys"),
}


@pytest.mark.parametrize("name", BREAKS)
def test_each_rule_can_fail(check, name):
    q, pages = _one(check)
    assert check["quiz_problems"]({q["chapter"]: [q]}, pages) == []
    stem = q["chapter"]
    breaker, message = BREAKS[name]
    breaker(q)
    problems = check["quiz_problems"]({stem: [q]}, pages)
    assert any(message in p for p in problems), problems


def test_a_many_question_must_say_how_many_and_ids_are_unique(check):
    q = copy.deepcopy(next(q for q in check["ALL"] if q["kind"] == "many"))
    pages = {q["chapter"]: check["PAGES_MD"][q["chapter"]]}
    assert check["quiz_problems"]({q["chapter"]: [q]}, pages) == []
    silent = copy.deepcopy(q)
    silent["question"] = silent["question"].replace("Choose two.", "").replace("choose two", "")
    assert any("say how many" in p for p in check["quiz_problems"]({q["chapter"]: [silent]}, pages))
    assert any("used twice" in p for p in check["quiz_problems"]({q["chapter"]: [q, copy.deepcopy(q)]}, pages))
    single = copy.deepcopy(q)
    for o in single["options"][1:]:
        o["correct"] = False
    single["options"][0]["correct"] = True
    assert any("two or more correct" in p for p in check["quiz_problems"]({q["chapter"]: [single]}, pages))


def test_the_length_measures_count_plain_text(check):
    q = {"options": [{"text": "`ab`", "correct": True}, {"text": "abc", "correct": False}]}
    assert not check["right_is_longest"](q) and check["right_is_shortest"](q)
    q["options"][0]["text"] = "**abcd**"
    assert check["right_is_longest"](q) and not check["right_is_shortest"](q)
