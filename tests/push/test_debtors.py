"""Debtor strategy ``lookup`` against the Exact sandbox over real HTTP: find by VAT number, find
by e-mail, create if absent (looked up in Exact first, created once, never twice across a lost
answer or a later run), and the collective debtor per country as the fallback."""

from __future__ import annotations

import socket

import httpx2
import polars as pl

from exactsync.mapping import save_mapping
from exactsync.push import Target, execute_plan, list_jobs, plan_targets, retry_jobs, save_plan
from exactsync.push.plan import NEW_DEBTOR

from .conftest import DIV, make_doc


def _strategy(env, create: bool) -> None:
    frame = pl.DataFrame([{"division": DIV, "journal_code": "70", "debtor_strategy": "lookup",
                           "create_debtors": create}])
    assert save_mapping(env.store, "settings", frame, DIV).saved


def _doc(n: int, *, email: str | None = None, vat: str | None = None, company: str | None = None, **kw):
    doc, lines = make_doc(n, **kw)
    doc.update(customer_email=email, vat_number=vat, company=company)
    return doc, lines


def _accounts(env) -> list[dict]:
    with env.app.lock:
        return [dict(a) for a in env.app.divisions[DIV].accounts.rows.values()]


def _account_id(env, code: str) -> str:
    return next(a["ID"] for a in _accounts(env) if a["Code"].strip() == code)


def _account_calls(env) -> list[dict]:
    return [c for c in env.app.calls(DIV) if c["path"].lower().endswith("/crm/accounts")]


def _customer_of(env, ref: str) -> str:
    [entry] = env.entries(ref)
    return entry["Customer"]


def test_lookup_finds_pulled_customers_by_vat_number_then_email_else_the_collective_debtor(make_env):
    env = make_env()
    _strategy(env, create=False)
    docs = [
        # ACME GmbH (1003) has VAT number DE123456789 and e-mail ap@acme.example in Exact
        _doc(9001, vat="de 123.456.789", email="someone@else.example", country="DE", treatment="reverse_charge",
             lines=[("goods", "0", "500.00", "0.00")]),
        _doc(9002, email="  AP@Acme.example ", country="DE", treatment="reverse_charge",
             lines=[("goods", "0", "80.00", "0.00")]),
        _doc(9003, email="nobody@example.com"),  # unknown, NL → collective 1001
        _doc(9004, email="niemand@example.de", country="DE", treatment="oss",
             lines=[("goods", "19", "10.00", "1.90")]),  # unknown, DE → collective 1002
        _doc(9005),  # neither e-mail nor VAT number
    ]
    env.add_docs(docs)
    plan = plan_targets(env.store, env.settings, [Target(d["doc_key"], "missing_in_exact") for d, _ in docs])
    assert plan.ok, plan.errors
    assert plan.new_debtors == 0 and plan.debtor_calls == 0
    customers = {j.your_ref: j.payload["Customer"] for j in plan.jobs}
    acme, nl, de = (_account_id(env, c) for c in ("1003", "1001", "1002"))
    assert customers == {"WC-9001": acme, "WC-9002": acme, "WC-9003": nl, "WC-9004": de, "WC-9005": nl}
    env.app.clear_calls()
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.exit_code) == (5, 0)
    assert _account_calls(env) == []  # everything was known from the pull: no look-up, no create
    assert {ref: _customer_of(env, ref) for ref in customers} == customers


def test_create_if_absent_looks_up_first_and_creates_each_debtor_once(make_env):
    env = make_env()
    _strategy(env, create=True)
    docs = [
        _doc(9101, email="new1@example.com"),
        _doc(9102, email="new1@example.com"),  # the same new customer's second invoice
        _doc(9103, vat="NL999999999B01", email="inkoop@klant.example", company="Klant B.V."),
        _doc(9104, email="late@example.com"),  # created in Exact after the pull (by someone else)
        _doc(9105, email="prospect@example.com"),  # an account in Exact, but a prospect
        _doc(9106),  # nothing to find a debtor by: the collective one
    ]
    env.add_docs(docs)
    with env.client() as client:
        for body in ({"Name": "Late Customer", "Email": "late@example.com", "Status": "C", "Country": "NL"},
                     {"Name": "Maybe Customer", "Email": "prospect@example.com", "Status": "P"}):
            client.post("crm/Accounts", DIV, body)
    before = len(_accounts(env))
    plan = plan_targets(env.store, env.settings, [Target(d["doc_key"], "missing_in_exact") for d, _ in docs])
    assert plan.ok, plan.errors
    placeholders = sorted(j.your_ref for j in plan.jobs if j.payload["Customer"].startswith(NEW_DEBTOR))
    assert placeholders == ["WC-9101", "WC-9102", "WC-9103", "WC-9104", "WC-9105"]
    # 4 debtors (9101 and 9102 share one): ≤ 1 look-up per key + 1 POST each; 9103 has two keys
    assert (plan.new_debtors, plan.debtor_calls) == (4, 9)
    assert plan.calls == plan.lookups + plan.posts + 9
    env.app.clear_calls()
    env.app.drop_next(1)  # the first debtor POST lands in Exact, its answer never arrives
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.errors, out.exit_code) == (5, 1, 3)
    accounts = _accounts(env)
    assert len(accounts) == before + 2  # new1@… and Klant B.V.: each created once, the lost answer too
    new1 = [a for a in accounts if a["Email"] == "new1@example.com"]
    klant = [a for a in accounts if a["VATNumber"] == "NL999999999B01"]
    assert len(new1) == 1 and len(klant) == 1
    assert (new1[0]["Status"], new1[0]["Country"]) == ("C", "NL")
    assert (klant[0]["Name"], klant[0]["Email"], klant[0]["Status"]) == ("Klant B.V.", "inkoop@klant.example", "C")
    posts = [c for c in _account_calls(env) if c["method"] == "POST"]
    assert len(posts) == 2 and [c["fault"] for c in posts] == ["drop", None]
    late = next(a["ID"] for a in accounts if a["Email"] == "late@example.com")
    assert _customer_of(env, "WC-9101") == _customer_of(env, "WC-9102") == new1[0]["ID"]
    assert _customer_of(env, "WC-9103") == klant[0]["ID"]
    assert _customer_of(env, "WC-9104") == late  # found in Exact, not created
    assert _customer_of(env, "WC-9106") == _account_id(env, "1001")
    [failed] = list_jobs(env.store, "Error").to_dicts()
    assert failed["your_ref"] == "WC-9105" and env.entries("WC-9105") == []
    assert "is not a customer (status 'P')" in failed["last_error"] and "prospect@example.com" in failed["last_error"]
    known = dict(env.store.rows("SELECT match_key, account_id FROM push_debtors WHERE division = ?", [DIV]))
    assert known == {"email:new1@example.com": new1[0]["ID"], "vat:NL999999999B01": klant[0]["ID"],
                     "email:late@example.com": late}

    # a later run: the debtor it created is known, so the plan names it and no account call is made
    env.add_docs([_doc(9107, email="new1@example.com")])
    later = plan_targets(env.store, env.settings, [Target("woo:invoice:9107", "missing_in_exact")])
    assert later.jobs[0].payload["Customer"] == new1[0]["ID"] and later.new_debtors == 0
    env.app.clear_calls()
    with env.client() as client:
        assert execute_plan(env.store, env.settings, later, client=client).synced == 1
    assert _account_calls(env) == [] and len(_accounts(env)) == before + 2
    # after a re-pull the created debtors are Exact's own customers: found by e-mail / VAT number
    env.pull()
    env.store.execute("DELETE FROM push_debtors")
    env.add_docs([_doc(9108, email="new1@example.com"), _doc(9109, vat="NL 9999.99.999.B01")])
    again = plan_targets(env.store, env.settings, [Target("woo:invoice:9108", "missing_in_exact"),
                                                    Target("woo:invoice:9109", "missing_in_exact")])
    assert {j.your_ref: j.payload["Customer"] for j in again.jobs} == {"WC-9108": new1[0]["ID"],
                                                                        "WC-9109": klant[0]["ID"]}


class _ArmBefore(httpx2.BaseTransport):
    """Real HTTP; just before the n-th request matching ``when`` is sent, call ``actions[n]`` (which
    arms a fault in the sandbox for exactly that request)."""

    def __init__(self, when, actions) -> None:
        self.inner = httpx2.HTTPTransport()
        self.when, self.actions, self.seen = when, list(actions), 0

    def handle_request(self, request):
        if self.when(request):
            if self.seen < len(self.actions):
                self.actions[self.seen]()
            self.seen += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_debtor_post_that_fails_or_loses_its_answer_is_looked_up_before_posting_again(make_env):
    env = make_env()
    _strategy(env, create=True)
    env.add_docs([_doc(9201, email="flaky@example.com")])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:9201", "missing_in_exact")])
    # 1st account POST: 503 before anything is done; 2nd: created, the answer is lost
    arm = _ArmBefore(lambda r: r.method == "POST" and r.url.path.lower().endswith("/crm/accounts"),
                     [lambda: env.app.fail_next(1, 503), lambda: env.app.drop_next(1)])
    env.app.clear_calls()
    with env.client(transport=arm) as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.exit_code) == (1, 0) and arm.seen == 2
    created = [a for a in _accounts(env) if a["Email"] == "flaky@example.com"]
    assert len(created) == 1 and _customer_of(env, "WC-9201") == created[0]["ID"]
    calls = [(c["method"], c["status"], c["fault"]) for c in _account_calls(env)]
    # look-up, POST 503, look-up (none), POST (dropped), look-up (found): never a third POST
    assert calls == [("GET", 200, None), ("POST", 503, "5xx"), ("GET", 200, None), ("POST", 201, "drop"),
                     ("GET", 200, None)]


def test_a_debtor_created_by_a_run_that_died_is_found_not_created_again(make_env):
    """The account POST landed, then the process died before recording it: the resumed job finds
    the debtor by its e-mail address instead of creating it again."""
    env = make_env()
    _strategy(env, create=True)
    env.add_docs([_doc(9301, email="crash@example.com")])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:9301", "missing_in_exact")])
    save_plan(env.store, plan)
    with env.client() as client:  # what the dead run sent before it died
        client.post("crm/Accounts", DIV, {"Name": "Customer 9301", "Email": "crash@example.com", "Status": "C",
                                          "Country": "NL"})
    env.store.execute("UPDATE push_jobs SET status = 'Queued', claimed_by = ?",
                      [f"{socket.gethostname()}:999999999:dead"])
    env.app.clear_calls()
    with env.client() as client:
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.synced, out.exit_code) == (1, 0)
    created = [a for a in _accounts(env) if a["Email"] == "crash@example.com"]
    assert len(created) == 1 and _customer_of(env, "WC-9301") == created[0]["ID"]
    assert [c["method"] for c in _account_calls(env)] == ["GET"]


def test_a_b2b_document_on_a_collective_debtor_is_warned_about_not_refused(make_env):
    """Strategy collective (or lookup finding no account and creating none) books a document with a
    VAT number on its country's collective debtor: allowed, but the plan says what follows (EU sales
    listing, customer_differs) and how to book it on its own account; B2C documents raise nothing."""
    env = make_env()  # the conftest's mappings: strategy collective
    docs = [
        _doc(9201, vat="DE123456789", country="DE", treatment="reverse_charge", lines=[("goods", "0", "500.00", "0.00")]),
        _doc(9202, email="b2c@example.com"),
    ]
    env.add_docs(docs)
    targets = [Target(d["doc_key"], "missing_in_exact") for d, _ in docs]
    plan = plan_targets(env.store, env.settings, targets)
    assert plan.ok, plan.errors
    assert plan.collective_b2b == ["WC-9201"]
    assert plan.collective_b2b_note.startswith("1 document(s) with a VAT number go to their country's collective debtor")
    assert "WARNING 1 document(s) with a VAT number" in plan.summary()
    assert plan.as_dict()["collective_b2b"] == ["WC-9201"]
    # lookup finds ACME GmbH by its VAT number: no warning
    _strategy(env, create=False)
    plan = plan_targets(env.store, env.settings, targets)
    assert plan.ok and plan.collective_b2b == [] and plan.collective_b2b_note is None
    assert "WARNING" not in plan.summary()
