"""SNS: the filter-policy evaluator on the AWS pages' own examples (tests/sns_filter_policy_examples.json),
the limits, the delivery retry schedule's phases for the three endpoint classes, client- and
server-side failures, delivery fates, large-message topics and the fan-out's books."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labsim import sns, sqs, traffic
from labsim.sns import Fate, matches

DG = "https://docs.aws.amazon.com/sns/latest/dg/"
STRING_PAGE = DG + "string-value-matching.html"
NUMERIC_PAGE = DG + "numeric-value-matching.html"
KEY_PAGE = DG + "attribute-key-matching.html"
LIMITS_PAGE = DG + "subscription-filter-policy-constraints.html"
POLICIES_PAGE = DG + "sns-subscription-filter-policies.html"
EXAMPLE_PAGE = DG + "example-filter-policies.html"


def S(v):
    return {"Type": "String", "Value": v}


def SA(*v):
    return {"Type": "String.Array", "Value": "[" + ", ".join(f'"{x}"' for x in v) + "]"}


def N(v):
    return {"Type": "Number", "Value": v}


def attr(**kw):
    return kw


def body(**kw):
    return kw


#: Every example of the SNS filter-policy pages (tests/sns_filter_policy_examples.json, by page).
EXAMPLES_FILE = Path(__file__).with_name("sns_filter_policy_examples.json")
PAGES = json.loads(EXAMPLES_FILE.read_text())["pages"]
CASES = [(url, i, c) for url, page in PAGES.items() for i, c in enumerate(page["cases"])]


@pytest.mark.parametrize("url,i,case", CASES, ids=[f"{u.rsplit('/', 1)[1][:-5]}-{i}" for u, i, _ in CASES])
def test_aws_page_examples(url, i, case):
    """Each policy and message the page prints, with the page's answer (or a rule it states)."""
    kind, policy, scope = case["kind"], case["policy"], case["scope"]
    if kind == "match":
        assert sns.check_policy(policy, scope) is policy
        assert matches(policy, case["message"], scope) is case["expected"], (url, case)
    elif kind == "combinations":
        assert sns.check_policy(policy, scope) is policy
        assert sns.combinations(policy, scope) == case["expected"], (url, case)
    elif kind == "wildcard_complexity":
        assert sns.wildcard_complexity(policy, scope) == case["expected"], (url, case)
    else:
        assert kind == "refused"
        with pytest.raises(ValueError, match=case["error"]):
            matches(policy, case["message"], scope)


def test_the_examples_file_covers_every_filter_policy_page():
    want = {"and-or-logic", "string-value-matching", "numeric-value-matching", "attribute-key-matching",
            "subscription-filter-policy-constraints", "example-filter-policies"}
    assert {u.rsplit("/", 1)[1][:-5] for u in PAGES} == want
    for url, page in PAGES.items():
        copied = [c for c in page["cases"] if c["source"] == "the page's example"]
        assert len(copied) >= 3, url           # most cases are the page's own, not derived ones
    # both answers occur, and both scopes
    ms = [c for _, _, c in CASES if c["kind"] == "match"]
    assert {c["expected"] for c in ms} == {True, False} and {c["scope"] for c in ms} == set(sns.SCOPES)


#: The example message of the example-filter-policies page, as attributes and as a body.
EX_ATTR = attr(customer_interests=SA("soccer", "rugby", "hockey"), store=S("example_corp"), event=S("order_placed"),
               price_usd=N("210.75"))
EX_BODY = body(customer_interests=["soccer", "rugby", "hockey"], store="example_corp", event="order_placed",
               price_usd=210.75)


@pytest.mark.parametrize("scope,msg", [("MessageAttributes", EX_ATTR), ("MessageBody", EX_BODY)])
def test_and_across_keys_or_within_a_key(scope, msg):
    """sns-subscription-filter-policies.html: every policy key must match (AND) and one of a
    key's values is enough (OR), on the example-filter-policies.html message."""
    policy = {"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
              "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]}
    assert matches(policy, msg, scope)                                  # all four keys match
    assert not matches(dict(policy, price_usd=[{"numeric": [">=", 300]}]), msg, scope)   # one key fails: AND
    assert matches(dict(policy, store=["other", "example_corp"]), msg, scope)            # OR within a key
    assert not matches(dict(policy, encrypted=[{"exists": True}]), msg, scope)           # absent key
    assert matches({"unrelated": [{"exists": False}]}, msg, scope)      # properties not in the policy are ignored


def test_body_scope_nests_and_attributes_do_not():
    pol = {"order": {"kind": ["book"], "total": [{"numeric": [">", 10]}]}}
    assert matches(pol, {"order": {"kind": "book", "total": 12}}, "MessageBody")
    assert not matches(pol, {"order": {"kind": "book", "total": 8}}, "MessageBody")
    with pytest.raises(ValueError, match="nested policies are allowed only with the MessageBody scope"):
        sns.check_policy(pol, "MessageAttributes")


def test_suffix_and_case_and_types():
    # not examples from the pages: the operators' plain meaning
    assert matches({"f": [{"suffix": "ball"}]}, {"f": S("baseball")})
    assert not matches({"f": [{"suffix": "ball"}]}, {"f": S("rugby")})
    assert matches({"f": [{"equals-ignore-case": "RUGBY"}]}, {"f": S("rugby")})
    assert not matches({"f": ["rugby"]}, {"f": S("Rugby")})                            # case-sensitive
    assert not matches({"f": [{"numeric": [">", 1]}]}, {"f": S("5")})                  # a String is not a Number
    assert matches({"f": [{"anything-but": {"prefix": "eu"}}]}, {"f": S("us-east")})
    assert not matches({"f": [{"anything-but": {"prefix": "eu"}}]}, {"f": S("eu-west")})
    assert not matches({"f": [{"anything-but": ["x"]}]}, {"g": S("y")})                # anything-but needs the key


def test_limits_name_themselves():
    """subscription-filter-policy-constraints.html: 5 keys, 150 combinations, +-10^9."""
    five = {f"k{i}": ["a"] for i in range(5)}
    assert sns.check_policy(five) is five
    with pytest.raises(ValueError, match="6 keys: the limit is 5 keys"):
        sns.check_policy(dict(five, k5=["a"]))
    ok = {"a": list(range(10)), "b": list(range(15))}                   # 10 x 15 = 150
    assert sns.combinations(ok) == 150 and sns.check_policy(ok)
    with pytest.raises(ValueError, match="151 value combinations: the limit is 150 combinations"):
        sns.check_policy({"a": list(range(151))})
    with pytest.raises(ValueError, match="160 value combinations"):
        sns.check_policy({"a": list(range(10)), "b": list(range(16))})
    with pytest.raises(ValueError, match="10\\^9"):
        sns.check_policy({"a": [{"numeric": [">", 2e9]}]})
    with pytest.raises(ValueError, match="unknown operator"):
        sns.check_policy({"a": [{"regex": "x"}]})
    with pytest.raises(ValueError, match="scope"):
        sns.matches({"a": ["x"]}, {"a": "x"}, "Body")
    with pytest.raises(ValueError, match="protocol"):
        sns.Subscription("q", protocol="ftp")


# --- delivery retries ------------------------------------------------------------------------------
def test_aws_managed_schedule_phases_and_boundaries():
    """sns-message-delivery-retries.html: 3 immediate, 2 at 1 s, 10 backoff 1-20 s, 100,000 at 20 s."""
    p = sns.AWS_MANAGED
    assert p.phases == {"immediate": 3, "pre-backoff": 2, "backoff": 10, "post-backoff": 100_000}
    d, ph = p.delays(), p.phase_of_retry()
    assert len(d) == sum(p.phases.values()) == 100_015
    assert np.bincount(ph).tolist() == [3, 2, 10, 100_000]
    assert (d[ph == 0] == 0).all() and (d[ph == 1] == 1).all() and (d[ph == 3] == 20).all()
    b = d[ph == 2]
    assert b[0] == 1 and b[-1] == 20 and (np.diff(b) >= 0).all()       # from 1 s to 20 s, never shorter
    # exponential: labsim.retry's exponential strategy (base 1 s, cap 20 s): the model's curve
    assert b.tolist() == [1, 2, 4, 8, 16, 20, 20, 20, 20, 20]
    assert 23 <= p.total_seconds / 86_400 < 24                          # "over 23 days"


def test_http_default_and_limit():
    p = sns.HTTP_DEFAULT
    assert p.num_retries == 3 and p.delays().tolist() == [20, 20, 20] and p.attempts == 4
    assert p.phases == {"immediate": 0, "pre-backoff": 0, "backoff": 3, "post-backoff": 0}
    assert sns.http_policy(60, 60).total_seconds == 3_600                # exactly the limit is allowed
    with pytest.raises(ValueError, match="3,660 s in all: the limit is 3,600 s"):
        sns.http_policy(61, 60)
    with pytest.raises(ValueError, match="min_delay"):
        sns.http_policy(3, 0.5)
    with pytest.raises(ValueError, match="backoff_function"):
        sns.http_policy(3, 1, 10, "cubic")


@pytest.mark.parametrize("fn", sns.BACKOFF_FUNCTIONS)
def test_http_custom_phases_and_backoff_functions(fn):
    p = sns.http_policy(12, 2, 60, fn, num_no_delay_retries=2, num_min_delay_retries=3, num_max_delay_retries=2)
    d, ph = p.delays(), p.phase_of_retry()
    assert np.bincount(ph, minlength=4).tolist() == [2, 3, 5, 2]
    assert (d[ph == 0] == 0).all() and (d[ph == 1] == 2).all() and (d[ph == 3] == 60).all()
    b = d[ph == 2]
    assert b[0] == 2 and (np.diff(b) > 0).all() and b[-1] <= 60
    if fn != "exponential":
        assert b[-1] == 60                                  # the model's curves end at the maximum
    else:
        assert b.tolist() == [2, 4, 8, 16, 32]


def test_delivery_fates_by_hand():
    # endpoint down [100, 200): default policy tries at t, t+20, t+40, t+60
    r = sns.simulate_delivery([50.0, 100.0, 130.0, 150.0, 250.0], endpoint_down=[(100, 200)], dlq=False)
    # 150 -> retries at 170, 190, 210: delivered late at 210; 100 -> 160 last: lost; 130 -> 190 last: lost
    assert [Fate(f).name for f in r.fate] == ["DELIVERED", "LOST", "LOST", "DELIVERED_LATE", "DELIVERED"]
    assert r.departure[3] == 210 and r.attempts.tolist() == [1, 4, 4, 4, 1]
    assert r.departure[1] == 160
    r2 = sns.simulate_delivery([100.0, 150.0], endpoint_down=[(100, 200)], dlq=True, horizon=155.0)
    assert [Fate(f).name for f in r2.fate] == ["PENDING", "PENDING"] and r2.attempts.tolist() == [3, 1]
    r3 = sns.simulate_delivery([100.0], endpoint_down=[(100, 200)], dlq=True)
    assert r3.fate[0] == Fate.DLQ and len(r3.attempt_times()) == 4
    with pytest.raises(ValueError, match="overlap"):
        sns.simulate_delivery([1.0], endpoint_down=[(0, 10), (5, 20)])
    with pytest.raises(ValueError, match="dlq"):
        sns.simulate_delivery([1.0], dlq="yes")


def test_customer_managed_schedule_phases():
    """sns-message-delivery-retries.html: email, SMS, mobile push: 0 immediate, 2 at 10 s, 10 backoff
    from 10 s to 600 s, 38 at 600 s = 50. AWS sums it up as "over 6 hours"; the phases take longer."""
    p = sns.CUSTOMER_MANAGED
    assert p.phases == {"immediate": 0, "pre-backoff": 2, "backoff": 10, "post-backoff": 38}
    assert p.num_retries == 50 and p.attempts == 51 and p.managed
    d, ph = p.delays(), p.phase_of_retry()
    assert (d[ph == 1] == 10).all() and (d[ph == 3] == 600).all()
    assert d[ph == 2].tolist() == [10, 20, 40, 80, 160, 320, 600, 600, 600, 600]     # the model's curve
    assert 38 * 600 / 3_600 > 6                         # the post-backoff phase alone is 6.3 hours
    assert p.total_seconds == 20 + 3_030 + 22_800 and 7.1 < p.total_seconds / 3_600 < 7.2
    assert p.total_seconds > sns.HTTP_MAX_POLICY_SECONDS          # no HTTP/S policy could hold it


@pytest.mark.parametrize("protocol,cls,policy", [
    ("sqs", "aws-managed", "AWS_MANAGED"), ("lambda", "aws-managed", "AWS_MANAGED"),
    ("firehose", "aws-managed", "AWS_MANAGED"), ("http", "http", "HTTP_DEFAULT"), ("https", "http", "HTTP_DEFAULT"),
    ("email", "customer-managed", "CUSTOMER_MANAGED"), ("email-json", "customer-managed", "CUSTOMER_MANAGED"),
    ("sms", "customer-managed", "CUSTOMER_MANAGED"), ("application", "customer-managed", "CUSTOMER_MANAGED")])
def test_each_protocol_gets_its_class_policy(protocol, cls, policy):
    assert sns.endpoint_class(protocol) == cls and sns.policy_for(protocol) is getattr(sns, policy)
    sub = sns.Subscription("s", protocol=protocol)
    assert sub.endpoint_class == cls and sub.delivery_policy is getattr(sns, policy)


def test_only_http_takes_a_custom_policy():
    custom = sns.http_policy(60, 60)
    assert sns.policy_for("https", custom) is custom
    for protocol in ("email", "sms", "application", "sqs", "lambda", "firehose"):
        with pytest.raises(ValueError, match="only HTTP/S supports custom policies"):
            sns.policy_for(protocol, custom)
    with pytest.raises(ValueError, match="not one of SNS's fixed policies"):
        sns.policy_for("http", sns.CUSTOMER_MANAGED)
    with pytest.raises(ValueError, match="only HTTP/S supports custom policies"):
        sns.simulate_delivery([1.0], protocol="sms", policy=custom)
    with pytest.raises(ValueError, match="^protocol="):
        sns.simulate_delivery([1.0], protocol="smtp")


def test_email_bridges_an_outage_that_http_cannot():
    """An hour's outage: the HTTP/S default gives up after 60 s and even the longest HTTP/S policy
    after 3,600 s, but email/SMS/push keep trying every 600 s for hours: all delivered late."""
    t = traffic.poisson(0.2, 1_800.0, 5)
    down = [(0.0, 4_000.0)]                      # longer than any HTTP/S policy
    email = sns.simulate_delivery(t, protocol="email", endpoint_down=down)
    longest = sns.simulate_delivery(t, protocol="https", policy=sns.http_policy(60, 60), endpoint_down=down)
    default = sns.simulate_delivery(t, protocol="https", endpoint_down=down)
    assert email.count(Fate.DELIVERED_LATE) == len(t) and email.count(Fate.LOST) == 0
    assert email.params["policy"] is sns.CUSTOMER_MANAGED and email.params["protocol"] == "email"
    assert (email.departure - t <= 4_000.0 + 600.0).all()           # within one 600 s step of the end
    lost = longest.fate == Fate.LOST
    assert lost.any() and (t[lost] + 3_600.0 < 4_000.0).all()       # 3,600 s of retries ended inside
    assert default.count(Fate.LOST) == len(t)
    # the protocol's own policy, given explicitly, is the same run
    again = sns.simulate_delivery(t, protocol="email", policy=sns.CUSTOMER_MANAGED, endpoint_down=down)
    assert np.array_equal(again.fate, email.fate) and np.array_equal(again.departure, email.departure)


def test_client_side_errors_are_not_retried():
    """sns-dead-letter-queues.html: on a client-side error SNS does not retry: DLQ or discarded."""
    t = np.array([50.0, 100.0, 130.0, 150.0, 250.0])
    srv = sns.simulate_delivery(t, endpoint_down=[(100, 200)], failure="server")
    cli = sns.simulate_delivery(t, endpoint_down=[(100, 200)], failure="client")
    assert [Fate(f).name for f in srv.fate] == ["DELIVERED", "LOST", "LOST", "DELIVERED_LATE", "DELIVERED"]
    assert [Fate(f).name for f in cli.fate] == ["DELIVERED", "LOST", "LOST", "LOST", "DELIVERED"]
    assert cli.attempts.tolist() == [1, 1, 1, 1, 1]                   # one attempt: no retries
    assert cli.departure.tolist() == [50.0, 100.0, 130.0, 150.0, 250.0]
    assert cli.client_error.tolist() == [False, True, True, True, False] and cli.client_errors == 3
    assert srv.client_errors == 0
    dl = sns.simulate_delivery(t, endpoint_down=[(100, 200)], failure="client", dlq=True,
                               policy=sns.http_policy(60, 60))
    assert dl.count(Fate.DLQ) == 3 and dl.count(Fate.LOST) == 0 and dl.attempts.max() == 1
    # a retry of a server-side failure that lands in a client-error window fails there, for good
    mix = sns.simulate_delivery([95.0], endpoint_down=[(90, 100), (100, 200)], failure=["server", "client"],
                                protocol="sqs")
    assert mix.fate[0] == Fate.LOST and mix.client_errors == 1 and mix.attempts[0] >= 2
    assert 100 <= mix.departure[0] < 101
    # the AWS-managed class's 100,015 retries do not help against a client-side error either
    aws = sns.simulate_delivery(t, protocol="lambda", endpoint_down=[(100, 200)], failure="client")
    assert aws.count(Fate.LOST) == 3
    with pytest.raises(ValueError, match="^failure="):
        sns.simulate_delivery(t, endpoint_down=[(100, 200)], failure="timeout")
    with pytest.raises(ValueError, match="^failure must be"):
        sns.simulate_delivery(t, endpoint_down=[(100, 200)], failure=["server", "client"])


def test_a_large_message_topic_takes_firehose_sqs_and_lambda_only():
    """large-message-payloads.html: above 256 KiB, only Firehose, SQS and Lambda, at most 100."""
    ok = [sns.Subscription(f"s{i}", protocol=p) for i, p in enumerate(("sqs", "lambda", "firehose"))]
    assert sns.check_topic(ok, 1_048_576) == tuple(ok)
    for p in ("http", "https", "email", "email-json", "sms", "application"):
        sub = sns.Subscription("x", protocol=p)
        assert sns.check_topic([sub], 262_144) == (sub,)                  # a default topic takes any
        with pytest.raises(ValueError, match="supports only Firehose, SQS and Lambda"):
            sns.check_topic(ok + [sub], 262_145)
    many = [sns.Subscription(f"q{i}") for i in range(101)]
    assert len(sns.check_topic(many[:100], 1_048_576)) == 100 and len(sns.check_topic(many)) == 101
    with pytest.raises(ValueError, match="at most 100 subscriptions"):
        sns.check_topic(many, 1_048_576)
    with pytest.raises(ValueError, match="^maximum_message_size="):
        sns.check_topic(ok, 2_000_000)


def test_or_operator_and_number_array():
    """and-or-logic.html's "$or", and the attribute types: no Number.Array (API_MessageAttributeValue)."""
    pol = {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}
    assert sns.alternatives(pol) == [{"source": ["aws.cloudwatch"], "metricName": ["CPUUtilization"]},
                                     {"source": ["aws.cloudwatch"], "namespace": ["AWS/EC2"]}]
    assert sns.combinations(pol) == 2
    # one member is not an OR: "$or" is then an attribute name like any other
    single = {"$or": [{"metricName": ["CPUUtilization"]}]}
    with pytest.raises(ValueError, match="nested policies are allowed only"):
        sns.check_policy({"$or": {"a": ["x"]}})          # an object: a nested key named "$or"
    with pytest.raises(ValueError, match="unknown operator 'metricName'"):
        sns.check_policy(single)                 # [{"metricName": [...]}] read as conditions of key "$or"
    assert matches({"$or": ["x"]}, {"$or": S("x")})                   # a plain key named "$or"
    # too many branches is refused before they are built
    wide = {"$or": [{f"k{i}": ["a"]} for i in range(2)]}
    for _ in range(7):
        wide = {"$or": [wide, dict(wide)]}
    with pytest.raises(ValueError, match="150"):
        sns.check_policy(wide)
    with pytest.raises(ValueError, match="no Number.Array"):
        matches({"p": [{"numeric": [">", 1]}]}, {"p": {"Type": "Number.Array", "Value": "[1, 2]"}})
    assert matches({"p": [{"exists": True}]}, {"p": {"Type": "Binary", "Value": "AQID"}, "q": S("x")}) is False
    # the fan-out lab's "$or" preset: exactly the union of its two branches
    from labsim.labs import sns as lab
    _, msgs = lab.orders(1.0)
    got = sns.fan_out([sns.Subscription("c", filter_policy=lab.POLICY_PRESETS["express OR >= 100 USD ($or)"])], msgs)
    want = [("express" in m) or m["price_usd"]["Value"] >= 100 for m in msgs]
    assert got[:, 0].tolist() == want and 0 < sum(want) < len(msgs)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0, 2_000), st.floats(0, 3_000), st.booleans(),
       st.sampled_from(["default", "long", "expo"]), st.floats(100, 10_000))
def test_delivery_books_and_fates_agree_with_a_direct_search(seed, t0, length, dlq, which, horizon):
    pol = {"default": sns.HTTP_DEFAULT, "long": sns.http_policy(60, 60),
           "expo": sns.http_policy(10, 1, 600, "exponential", num_no_delay_retries=1)}[which]
    t = traffic.poisson(0.05, horizon, seed)
    r = sns.simulate_delivery(t, policy=pol, endpoint_down=[(t0, t0 + length)], dlq=dlq, horizon=horizon)
    b = r.books()
    assert b["published"] == sum(v for k, v in b.items() if k != "published")
    off = r.offsets
    for i, ti in enumerate(t.tolist()):
        a = ti + off
        up = ~((a >= t0) & (a < t0 + length))
        k = int(np.argmax(up)) if up.any() else None
        if k is None:
            want = Fate.PENDING if a[-1] > horizon else (Fate.DLQ if dlq else Fate.LOST)
        else:
            want = Fate.PENDING if a[k] > horizon else (Fate.DELIVERED if k == 0 else Fate.DELIVERED_LATE)
        assert r.fate[i] == want, (i, ti, Fate(r.fate[i]), want)


# --- fan-out ------------------------------------------------------------------------------------------
def test_fan_out_books_balance_and_each_queue_gets_its_matches():
    t = traffic.poisson(1.0, 300.0, 3)
    rng = np.random.default_rng(4)
    ev = rng.choice(["order_placed", "order_cancelled", "order_shipped"], len(t))
    price = rng.uniform(1, 300, len(t))
    msgs = [{"event": S(e), "price_usd": N(p)} for e, p in zip(ev.tolist(), price.tolist())]
    subs = [sns.Subscription("placed", filter_policy={"event": ["order_placed"]}),
            sns.Subscription("big", filter_policy={"price_usd": [{"numeric": [">=", 200]}]}),
            sns.Subscription("all")]
    r = sns.simulate_fan_out(t, msgs, subs, horizon=400.0, mean_duration=[0.5, 2.0, 0.2])
    b = r.books()
    assert b["deliveries"] == b["delivered"] + b["dlq"] + b["lost"] + b["pending"] == int(r.match.sum())
    assert r.queues[0].sent == int((ev == "order_placed").sum())
    assert r.queues[1].sent == int((price >= 200).sum())
    assert r.queues[2].sent == len(t) and r.unmatched == 0
    for q in r.queues:
        qb = q.books()
        assert qb["sent"] == qb["deleted"] + qb["queued"] + qb["in_flight"] + qb["expired"] + qb["dlq"]
    # each queue drains at its own pace
    wait = [np.nanmean(q.first_receive - q.enqueue) for q in r.queues]
    assert wait[1] > 2 * wait[2]                 # load 0.67 against 0.2: the slow queue's copies wait longer


def test_message_size_limits():
    assert sns.check_message_size(262_144) == 262_144
    with pytest.raises(ValueError, match="262,144"):
        sns.check_message_size(262_145)
    assert sns.check_message_size(1_048_576, 1_048_576)
    with pytest.raises(ValueError, match="maximum_message_size"):
        sns.check_message_size(10, 2_000_000)


# --- the availability windows added to SQS and Kinesis for the outage lab ----------------------------
def test_sqs_consumers_down_receive_nothing_in_the_window_and_catch_up():
    t = traffic.poisson(0.2, 3_600.0, 5)
    r = sqs.simulate_queue(t, horizon=3_600.0, mean_duration=0.5, consumer_down=(600, 1_800))
    fr = r.first_receive
    assert not ((fr >= 600) & (fr < 1_800)).any()
    waiting = (t >= 600) & (t < 1_800)
    assert (fr[waiting] >= 1_800).all() and r.count(sqs.MessageOutcome.DELETED) == len(t)
    base = sqs.simulate_queue(t, horizon=3_600.0, mean_duration=0.5)
    before = t < 590
    assert np.allclose(fr[before], base.first_receive[before])         # untouched before the outage
    short = sqs.simulate_queue(t, horizon=3_600.0, mean_duration=0.5, consumer_down=(600, 1_800), retention=300)
    # retention 300 s: a message sent in the window that waits past 300 s expires
    exp = short.outcome == sqs.MessageOutcome.EXPIRED
    assert exp.any() and (t[exp] >= 600 - 300).all() and (t[exp] < 1_800).all()
    with pytest.raises(ValueError, match="consumer_down"):
        sqs.simulate_queue(t, horizon=3_600.0, consumer_down=(10, 5))


def test_kinesis_reader_resumes_from_its_checkpoint():
    from labsim import kinesis
    t = traffic.poisson(0.2, 3_600.0, 6)
    keys = np.arange(len(t)) % 5
    r = kinesis.simulate_stream(t, keys, 1_024, 1, consumers=1, horizon=3_600.0, consumer_down=(600, 1_800))
    rd = r.read[:, 0]
    assert not ((rd >= 600 + 0.2 + 1e-6) & (rd < 1_800)).any()         # reads begun before 600 s may finish
    assert (np.diff(rd) >= -1e-9).all()                                  # in order, from the checkpoint
    assert r.count(kinesis.Fate.PROCESSED) == len(t)
    w = (t >= 600) & (t < 1_800)
    assert (rd[w] >= 1_800).all()


# --- hostile input found by the sweep (issue 9): each is refused by name -----------------------------
def test_delivery_policy_checks_managed_and_stores_whole_counts():
    with pytest.raises(ValueError, match="^managed="):
        sns.DeliveryPolicy(managed="yes")
    p = sns.DeliveryPolicy(num_retries=np.float64(5), num_no_delay_retries=np.float64(1.0), min_delay=2, max_delay=8)
    assert type(p.num_retries) is int and type(p.num_no_delay_retries) is int and len(p.delays()) == 5
    with pytest.raises(ValueError, match="max_delay=3,600 s.*3,600 s for an HTTP/S endpoint"):
        sns.DeliveryPolicy(num_retries=3, min_delay=20, max_delay=3_600)
    with pytest.raises(ValueError, match="^max_delay=20 .*min_delay=3,600 s"):
        sns.DeliveryPolicy(min_delay=3_600)


def test_subscription_checks_name_dlq_and_names_filter_policy():
    with pytest.raises(ValueError, match="^name="):
        sns.Subscription(None)
    with pytest.raises(ValueError, match="^dlq="):
        sns.Subscription("q", dlq=1)
    with pytest.raises(ValueError, match="^filter_policy of subscription 'q'"):
        sns.Subscription("q", filter_policy="abc")


def test_matches_refuses_a_string_message_and_an_unchecked_policy():
    with pytest.raises(ValueError, match="^message must be a dict"):
        matches({"event": ["abc"]}, "abc")                  # was searched as a string: 'event' in 'abc'
    with pytest.raises(ValueError, match="numeric"):
        matches({"n": [{"numeric": ">"}]}, {"n": N(3)})      # crashed with a TypeError
    with pytest.raises(ValueError, match="message attribute 'n'"):
        matches({"n": [{"numeric": [">", 1]}]}, {"n": {"Type": "Number", "Value": "x"}})
    with pytest.raises(ValueError, match="^scope="):
        sns.combinations({"a": ["x"]}, "abc")


def test_fan_out_checks_subscriptions_and_messages():
    with pytest.raises(ValueError, match="^subscriptions must be"):
        sns.fan_out("abc", [{}])
    with pytest.raises(ValueError, match="^messages must be"):
        sns.fan_out([sns.Subscription("q")], [[1.0]])


def test_fan_out_books_are_counts_that_balance():
    t = np.array([1.0, 2.0, 3.0])
    r = sns.simulate_fan_out(t, [{"a": "x"}, {"a": "y"}, {"b": "z"}],
                             [sns.Subscription("X", filter_policy={"a": ["x"]}), sns.Subscription("all")],
                             horizon=10.0)
    b = r.books()
    assert all(isinstance(v, int) for v in b.values())
    assert b["published"] == b["matched"] + b["unmatched"] == 3 and b["deliveries"] == 4
    assert r.queue_books()["X"]["sent"] == 1 and r.queue_books()["all"]["sent"] == 3


def test_simulate_fan_out_checks_horizon_seed_and_per_queue_values():
    args = (np.array([1.0]), [{"a": "x"}], [sns.Subscription("q")])
    with pytest.raises(ValueError, match="^horizon="):
        sns.simulate_fan_out(*args, horizon="abc")
    with pytest.raises(ValueError, match="^seed="):
        sns.simulate_fan_out(*args, horizon=10.0, seed="abc")
    with pytest.raises(ValueError, match="^consumers="):
        sns.simulate_fan_out(args[0][:0], [], [], horizon=10.0, consumers=math.nan)


def test_simulate_delivery_refuses_a_number_for_endpoint_down():
    with pytest.raises(ValueError, match="^endpoint_down must be a list"):
        sns.simulate_delivery([1.0], endpoint_down=math.nan)


def test_the_sns_and_outage_lab_models_check_their_controls_by_name():
    from labsim.labs import overview, sns as lab
    p = list(lab.DELIVERY_PRESETS)[0]
    with pytest.raises(ValueError, match="^policy='abc'"):                  # was a KeyError
        lab.delivery_model(20, "abc", False)
    with pytest.raises(ValueError, match="^down_minutes=None"):             # was a TypeError
        lab.delivery_model(None, p, False)
    with pytest.raises(ValueError, match="^queue_b=1"):
        lab.fanout_model("placed", 1, "cancelled", 1.0)
    with pytest.raises(ValueError, match="^retention='1 week'"):
        overview.outage_model(30, p, False, "1 week")
    with pytest.raises(ValueError, match="^down_minutes=True"):             # was accepted as 1 minute
        overview.outage_model(True, p, False, "1 hour")
