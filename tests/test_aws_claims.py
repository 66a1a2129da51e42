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


def quiz_question(stem, qid):
    """One question of the review's quiz data (chapters/quiz/<stem>.json, CONTRIBUTING.md 4)."""
    questions = json.loads((CHAPTERS / "quiz" / f"{stem}.json").read_text(encoding="utf-8"))
    (q,) = [q for q in questions if q["id"] == qid]
    return q, next(o for o in q["options"] if o["correct"])


def test_review_questions_state_model_figures_and_the_http_api_timeout():
    bucket, right = quiz_question("10_api_gateway", "apigw-spike-shared-bucket")
    assert "In the book's model" in bucket["question"], bucket["question"]
    assert right["text"].startswith("After about 2.5 seconds"), right["text"]
    assert "best-effort basis, as targets rather than guaranteed ceilings" in right["why"]
    _, plans = quiz_question("10_api_gateway", "apigw-noisy-partner")
    assert "best-effort targets" in plans["why"] and "AWS WAF" in plans["why"] and "AWS Budgets" in plans["why"]
    _, timeout = quiz_question("10_api_gateway", "apigw-two-minute-report")
    assert "an HTTP API's is at most 30 seconds and cannot be raised" in timeout["why"]


def test_review_says_a_throttle_is_one_cause_of_a_500_behind_a_lambda_proxy_integration():
    """services-apigateway-errors.html: API Gateway answers 500 when the Lambda API rejects the
    invocation; a throttle is one cause, a missing invoke permission another."""
    _, right = quiz_question("11_capstone", "capstone-sale-throttle")
    assert right["text"].startswith("500 errors"), right["text"]
    assert "(a throttle is one cause, a missing invoke permission another)" in right["why"]
