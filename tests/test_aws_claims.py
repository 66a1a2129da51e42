"""Issue 21's corrections to the prose of the overview, the API Gateway chapter and the review:
each claim the second review against AWS found wrong is gone, and today's fact is there with its
AWS page. (The numbers themselves are asserted by each chapter's hidden cells.)"""

import json
import re
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
DG = "https://docs.aws.amazon.com/apigateway/latest/developerguide/"


def markdown(stem: str) -> str:
    cells = json.loads((CHAPTERS / f"{stem}.ipynb").read_text())["cells"]
    return " ".join(" ".join("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")


def code(stem: str) -> str:
    cells = json.loads((CHAPTERS / f"{stem}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_overview_table_says_enhanced_fan_out_pushes_records():
    """enhanced-consumers.html: an enhanced fan-out consumer gets records pushed to it over HTTP/2
    (SubscribeToShard); the table said only "Pull"."""
    text = markdown("05_integration_overview")
    row = next(line for line in re.split(r"(?=\| \*\*)", text) if line.startswith("| **Kinesis Data Streams**"))
    assert "with enhanced fan-out, Kinesis pushes records to each registered consumer" in row, row
    assert "https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html" in row


def test_api_gateway_chapter_gives_the_timeout_by_api_type():
    text = markdown("10_api_gateway")
    assert "for every integration type" in text          # REST: every integration type, 50 ms to 29 s
    assert "a **REST API** allows 50 ms to 29 seconds by default" in text
    assert "an **HTTP API** waits at most 30 seconds, and that cannot be raised" in text
    assert f"({DG}http-api-quotas.html)" in text
    assert "from 50 ms to 29 seconds by default, for every integration type" not in text


def test_api_gateway_chapter_says_every_level_is_best_effort_and_names_waf_and_budgets():
    text = markdown("10_api_gateway")
    assert ("AWS applies every throttle and quota in API Gateway, at every level, on a **best-effort** basis"
            in text)
    assert f"({DG}api-gateway-request-throttling.html)" in text
    assert "AWS advises not to rely on usage plans to **block access** (use AWS WAF, for example its rate-based rules)" in text
    assert "or to **control costs** (use AWS Budgets)" in text
    assert "For the account limit the model's bound is 5,000 + 10,000 = 15,000 in one second" in text
    # the token bucket is documented for API Gateway only; elsewhere the book models it
    assert "and so does every one in this book" not in text
    assert "AWS documents this algorithm for API Gateway's throttles" in text and "the book *models* them" in text


def test_review_questions_state_model_figures_and_the_http_api_timeout():
    src = code("12_review")
    start = src.index("QUESTIONS = [")
    depth = 0
    for k, ch in enumerate(src[start:]):
        depth += (ch == "[") - (ch == "]")
        if depth == 0 and ch == "]":
            break
    ns: dict = {}
    exec(src[start:start + k + 1], ns)
    by_title = {q[2]: q for q in ns["QUESTIONS"] if q[0] == "10_api_gateway"}
    bucket = by_title["Throttling is a token bucket"]
    assert bucket[4].startswith("In the book's model, after about 2.5 seconds"), bucket[4]
    assert "best-effort basis, as targets rather than guaranteed ceilings" in bucket[6]
    plans = by_title["Four levels, in order"]
    assert "best-effort targets" in plans[6] and "AWS WAF" in plans[6] and "AWS Budgets" in plans[6]
    timeout = by_title["The integration timeout"]
    assert "an HTTP API's is at most 30 seconds and cannot be raised" in timeout[6]


def test_review_says_a_throttle_is_one_cause_of_a_500_behind_a_lambda_proxy_integration():
    """services-apigateway-errors.html: API Gateway answers 500 when the Lambda API rejects the
    invocation; a throttle is one cause, a missing invoke permission another."""
    src = code("12_review")
    assert "(a throttle is one cause, a missing invoke permission another)" in src
    assert "rejects the invocation \"\n     \"(a throttle) and 502" not in src
