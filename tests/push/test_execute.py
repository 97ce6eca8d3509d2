"""Executing pushes against the Exact sandbox over real HTTP: never twice, corrections, resume."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from decimal import Decimal

import httpx2
import polars as pl

from exactsync.exact.client import ExactApiError
from exactsync.push import Target, execute_plan, list_jobs, plan_push, plan_targets, retry_jobs

from .conftest import DIV, make_doc

D = Decimal


def _plan(env, docs, status="missing_in_exact"):
    return plan_targets(env.store, env.settings, [Target(d["doc_key"], status) for d, _ in docs])


def test_push_posts_once_per_document_and_records_exact_ids(make_env):
    env = make_env()
    docs = [make_doc(6001), make_doc(6002, kind="credit_note", lines=[("goods", "21", "10.00", "2.10")])]
    env.add_docs(docs)
    with env.client() as client:
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.total, out.synced, out.posted, out.exit_code) == (2, 2, 2, 0)
    [inv] = env.entries("WC-6001")
    [cn] = env.entries("WC-CN-6002")
    assert (inv["AmountFC"], inv["VATAmountFC"], inv["Type"]) == (D("121.00"), D("21.00"), 20)
    assert (cn["AmountFC"], cn["Type"]) == (D("-12.10"), 21)
    jobs = {r["your_ref"]: r for r in list_jobs(env.store).to_dicts()}
    assert jobs["WC-6001"]["exact_entry_id"] == inv["EntryID"]
    assert jobs["WC-6001"]["exact_entry_number"] == inv["EntryNumber"]
    assert jobs["WC-6001"]["status"] == "Synced" and jobs["WC-6001"]["attempts"] == 1
    # every call logged, no secrets
    calls = env.store.query("SELECT method, path FROM api_calls WHERE system = 'exact'")
    assert calls.filter(calls["method"] == "POST").height >= 2
    secret = env.settings.exact.client_secret.get()
    token = json.loads(env.settings.exact.token_file.read_text())["access_token"]
    dump = env.store.query("SELECT * FROM api_calls").write_csv() + env.store.query("SELECT * FROM sync_log").write_csv()
    assert secret not in dump and token not in dump
    # planning and executing again: nothing new (job Synced), nothing posted
    env.app.clear_calls()
    with env.client() as client:
        again = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert again.total == 0 and len(env.entries("WC-6001")) == 1
    assert not [c for c in env.app.calls() if c["method"] == "POST"]


def test_dropped_answer_and_5xx_are_looked_up_not_posted_twice(make_env):
    env = make_env()
    docs = [make_doc(6100 + i) for i in range(4)]
    env.add_docs(docs)
    env.app.drop_next(2)  # the first two POSTs land, their answers never arrive
    with env.client() as client:
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert out.synced == 4 and out.found_existing == 2 and out.posted == 2
    assert all(len(env.entries(f"WC-{6100 + i}")) == 1 for i in range(4))
    docs2 = [make_doc(6200 + i) for i in range(3)]
    env.add_docs(docs2)
    env.app.set_faults(status_5xx=500)
    env.app.fail_next(2)  # the look-up and the first POST fail with 500 (nothing done)
    with env.client() as client:
        out = execute_plan(env.store, env.settings, _plan(env, docs2), client=client)
    assert out.synced == 3 and all(len(env.entries(f"WC-{6200 + i}")) == 1 for i in range(3))


def test_functional_error_is_recorded_with_exacts_message_then_retried(make_env):
    env = make_env()
    docs = [make_doc(6300)]
    env.add_docs(docs)
    plan = _plan(env, docs)
    with env.app.lock:  # the debtor gets blocked in Exact after the pull
        acc = next(a for a in env.app.divisions[DIV].accounts.rows.values() if a["Code"].strip() == "1001")
        acc["Status"] = "A"
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.errors, out.exit_code) == (0, 1, 1)
    job = list_jobs(env.store, "Error").to_dicts()[0]
    assert job["last_error"] == "Invalid: Invoice to (Type)" and job["attempts"] == 1
    # a validation answer is never posted again automatically (reference §6.2), only looked up
    entry_calls = [(c["method"], c["status"]) for c in env.app.calls(DIV) if "salesentries" in c["path"].lower()]
    assert entry_calls == [("GET", 200), ("POST", 500), ("GET", 200)]
    with env.app.lock:
        acc["Status"] = "C"
    with env.client() as client:
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.synced, out.exit_code) == (1, 0) and len(env.entries("WC-6300")) == 1


def test_resume_after_crash_finds_the_entry_instead_of_posting(make_env):
    env = make_env()
    docs = [make_doc(6400), make_doc(6401)]
    env.add_docs(docs)
    plan = _plan(env, docs)
    from exactsync.push import save_plan

    ids = save_plan(env.store, plan)
    # a run that died after its POST of 6400 landed: job Queued, claimant gone
    with env.client() as client:
        client.post("salesentry/SalesEntries", DIV, plan.jobs[0].payload)
    env.store.execute("UPDATE push_jobs SET status = 'Queued', claimed_by = ? WHERE job_id = ?",
                      [f"{socket.gethostname()}:999999999:dead", plan.jobs[0].job_id])
    with env.client() as client:
        out = retry_jobs(env.store, env.settings, client=client)
    assert out.synced == 2 and out.found_existing == 1 and out.posted == 1
    assert len(env.entries("WC-6400")) == 1 and len(env.entries("WC-6401")) == 1
    assert sorted(ids) == sorted(out.job_ids)


def test_a_post_in_flight_when_its_run_died_is_looked_up_over_a_minute_before_it_is_sent_again(make_env):
    """kill -9 while a POST was on its way: the next run posted again after one look-up, though
    Exact was still booking the first one."""
    from exactsync.push import save_plan

    env = make_env()
    docs = [make_doc(6410), make_doc(6411)]
    env.add_docs(docs)
    plan = _plan(env, docs)
    save_plan(env.store, plan)
    dead = f"{socket.gethostname()}:999999999:dead"
    env.store.execute("UPDATE push_jobs SET status = 'Queued', claimed_by = ?, posting_at = now() WHERE your_ref IN "
                      "('WC-6410', 'WC-6411')", [dead])
    with env.client() as client:
        real = client.http.request
        gets = {"n": 0}

        def request(method, url, **kw):  # the dead run's POST of 6410 lands while the next run looks
            if method == "GET" and "salesentries" in str(url).lower():
                gets["n"] += 1
                if gets["n"] == 3:
                    client.post("salesentry/SalesEntries", DIV, plan.jobs[0].payload)
            return real(method, url, **kw)

        client.http.request = request
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.synced, out.found_existing, out.posted) == (2, 1, 1)
    assert len(env.entries("WC-6410")) == 1 and len(env.entries("WC-6411")) == 1
    assert env.store.rows("SELECT DISTINCT posting_at FROM push_jobs") == [(None,)]


def test_correction_reverses_and_rebooks_and_duplicate_gets_a_reversal(make_env):
    env = make_env()
    # WC-1002 is booked as 82.64 + 17.36; the shop says 90.00 + 18.90
    # WC-1003 is booked twice (50 @ 21 % + 20 @ 9 %)
    d1002 = make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")])
    d1003 = make_doc(1003, day="2026-02-10", lines=[("goods", "21", "50.00", "10.50"), ("goods", "9", "20.00", "1.80")])
    env.add_docs([d1002, d1003])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "amount_differs"),
                                                   Target("woo:invoice:1003", "duplicated_in_exact")])
    assert plan.ok, plan.errors
    kinds = sorted((j.your_ref, j.kind) for j in plan.jobs)
    assert kinds == [("WC-1002", "rebook"), ("WC-1002", "reverse"), ("WC-1003", "reverse")]
    original = env.entries("WC-1002")[0]
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert out.synced == 3 and out.exit_code == 0
    booked = sorted(env.entries("WC-1002"), key=lambda e: e["EntryNumber"])
    assert [e["Description"] for e in booked] == ["Order 1002", f"Reversal of entry {original['EntryNumber']}",
                                                  f"Correction of entry {original['EntryNumber']}"]
    assert sum(e["AmountFC"] for e in booked) == D("108.90")
    assert booked[0]["EntryID"] == original["EntryID"]  # the original is never edited
    jobs = {r["kind"]: r for r in list_jobs(env.store, doc_key="woo:invoice:1002").to_dicts()}
    assert jobs["reverse"]["pair_job_id"] == jobs["rebook"]["job_id"]
    assert jobs["rebook"]["pair_job_id"] == jobs["reverse"]["job_id"]
    assert jobs["reverse"]["reverses_entry_id"] == original["EntryID"]
    dup = sorted(env.entries("WC-1003"), key=lambda e: e["EntryNumber"])
    assert len(dup) == 3 and dup[2]["Description"] == f"Reversal of entry {dup[1]['EntryNumber']}"
    assert dup[2]["AmountFC"] == -dup[1]["AmountFC"]
    # re-pull: the correction pair cancels, the live entry books what the shop says
    env.pull()
    from exactsync.push.plan import missing_targets

    assert missing_targets(env.store, env.settings, period="2026-02") == []
    e = env.store.query("SELECT net, vat, description FROM exact_entries WHERE your_ref = 'WC-1002' "
                        "ORDER BY entry_number")
    assert e["net"].to_list() == [D("82.64"), D("-82.64"), D("90.00")]


def test_a_document_reversed_in_exact_by_hand_is_pushed_as_missing(make_env):
    """The reconciliation cancels an entry and its exact negation, so the document is missing; the
    planner counted both as live ("Exact already holds entry …") and never pushed it."""
    env = make_env()
    d1002 = make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")])
    env.add_docs([d1002])
    correction = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "amount_differs")])
    reversal = next(j for j in correction.jobs if j.kind == "reverse").payload
    with env.client() as client:  # a bookkeeper reverses the entry in Exact, in words of their own
        client.post("salesentry/SalesEntries", DIV, {**reversal, "Description": "Creditering order 1002"})
    env.pull()
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "missing_in_exact")])
    assert [j.kind for j in plan.jobs] == ["create"], plan.skipped
    with env.client() as client:
        assert execute_plan(env.store, env.settings, plan, client=client).posted == 1
    assert sum(e["AmountFC"] for e in env.entries("WC-1002")) == D("108.90")


def test_a_correction_in_a_closed_period_is_booked_on_the_date_given(make_env):
    env = make_env()
    # WC-1001 is booked on 20 January (104.95 net, period 2026-01, closed for journal 70); the shop says 110.00
    env.add_docs([make_doc(1001, day="2026-01-20", lines=[("goods", "21", "110.00", "23.10")])])
    targets = [Target("woo:invoice:1001", "amount_differs")]
    refused = plan_targets(env.store, env.settings, targets)
    assert not refused.ok and refused.moved == []
    assert refused.errors[0].startswith("2026-01 is closed for journal 70 in division 123456")
    assert "--closed-period-date" in refused.errors[0]
    still_closed = plan_targets(env.store, env.settings, targets, closed_period_date=dt.date(2026, 1, 31))
    assert not still_closed.ok and "2026-01-31 is not in an open period either" in still_closed.errors[0]

    plan = plan_targets(env.store, env.settings, targets, closed_period_date=dt.date(2026, 3, 2))
    assert plan.ok, plan.errors
    assert sorted((m["kind"], m["closed_period"]) for m in plan.moved) == [("rebook", "2026-01"), ("reverse", "2026-01")]
    assert {(j.entry_date, j.fin_year, j.fin_period) for j in plan.jobs} == {(dt.date(2026, 3, 2), 2026, 3)}
    assert "2 job(s) dated 2026-03-02: their own period is closed (2026-01)" in plan.summary()
    assert {r["period"] for r in plan.effect().to_dicts()} == {"2026-03"}
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert out.synced == 2 and out.exit_code == 0
    again = plan_targets(env.store, env.settings, targets, closed_period_date=dt.date(2026, 3, 2))
    assert again.posts == 0  # planned again: the jobs are synced, nothing is sent twice
    env.pull()
    booked = env.store.rows("SELECT entry_date, fin_period, net FROM exact_entries "
                            "WHERE your_ref = 'WC-1001' ORDER BY entry_number")
    assert booked == [(dt.date(2026, 1, 20), 1, D("104.95")), (dt.date(2026, 3, 2), 3, D("-104.95")),
                      (dt.date(2026, 3, 2), 3, D("110.00"))]
    # January's reconciliation: the document's live entry is booked in March
    from exactsync.reconcile import results, run_reconciliation

    jan = results(env.store, run_reconciliation(env.store, env.settings, "2026-01", clock=env.clock).run_id)
    assert jan.filter(jan["doc_key"] == "woo:invoice:1001")["status"].to_list() == ["other_period"]


class _WatchPosts(httpx2.BaseTransport):
    """Real HTTP; at each POST of a sales entry, reads that job's row from the DuckDB file (a
    separate connection) as it is at the moment the POST leaves."""

    def __init__(self, db_path) -> None:
        self.inner = httpx2.HTTPTransport()
        self.db_path = db_path
        self.seen: dict[str, tuple] = {}

    def handle_request(self, request):
        if request.method == "POST" and request.url.path.lower().endswith("/salesentry/salesentries"):
            ref = json.loads(request.content)["YourRef"]
            from exactsync.store import Store

            row = Store(self.db_path).rows("SELECT status, claimed_by, queued_at, attempts FROM push_jobs "
                                           "WHERE your_ref = ?", [ref])
            self.seen[ref] = row[0] if row else None
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_each_job_is_committed_queued_before_its_post_and_keeps_its_timestamps(make_env, clock):
    env = make_env()
    docs = [make_doc(6500 + i) for i in range(3)]
    env.add_docs(docs)
    plan = _plan(env, docs)
    from exactsync.push import save_plan

    save_plan(env.store, plan, clock=clock)
    pending = list_jobs(env.store).to_dicts()
    assert {j["status"] for j in pending} == {"Pending"} and all(j["queued_at"] is None for j in pending)
    clock.advance(5)
    watch = _WatchPosts(env.settings.store.path)
    with env.client(transport=watch) as client:
        out = execute_plan(env.store, env.settings, [j.job_id for j in plan.jobs], client=client)
    assert out.synced == 3
    assert sorted(watch.seen) == ["WC-6500", "WC-6501", "WC-6502"]
    for status, claimed_by, queued_at, attempts in watch.seen.values():
        # committed (another connection sees it) as Queued, claimed by this process, before the POST
        assert status == "Queued" and claimed_by.split(":")[1] == str(os.getpid()) and queued_at is not None
        assert attempts == 0
    for j in list_jobs(env.store).to_dicts():
        assert j["status"] == "Synced" and j["attempts"] == 1 and j["last_error"] is None
        assert j["created_at"] < j["queued_at"] <= j["synced_at"] == j["updated_at"]
        assert j["exact_entry_id"] and j["exact_entry_number"] and not j["found_existing"]


def test_lookups_exact_never_answers_stop_the_run_cleanly_and_are_resumed(make_env):
    env = make_env()
    docs = [make_doc(6600 + i) for i in range(2)]
    env.add_docs(docs)
    env.app.set_faults(error_5xx=1.0, status_5xx=503)  # Exact is down
    with env.client() as client:
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.synced, out.not_done, out.exit_code) == (0, 2, 1)
    assert "not answering" in out.stopped
    # claimed, never posted, and released when the run stopped: a retry in this same process (the
    # dashboard's) takes them, look-up first
    assert set(list_jobs(env.store)["status"].to_list()) == {"Pending"}
    assert env.store.rows("SELECT DISTINCT claimed_by FROM push_jobs") == [(None,)]
    assert not [c for c in env.app.calls(DIV) if c["method"] == "POST"]
    env.app.set_faults(error_5xx=0.0)
    with env.client() as client:
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.synced, out.exit_code) == (2, 0)
    assert all(len(env.entries(f"WC-{6600 + i}")) == 1 for i in range(2))


def test_two_pushes_in_one_process_post_each_entry_once(make_env):
    """The dashboard runs pushes in its own process: a claim by this pid counted as stale, so a
    second run (another tab) took over the first one's live claims and both posted every entry."""
    import threading

    env = make_env()
    docs = [make_doc(6900 + i) for i in range(8)]
    env.add_docs(docs)
    plans = [_plan(env, docs), _plan(env, docs)]
    env.app.set_faults(latency_ms=40)
    outcomes, start = [], threading.Barrier(2)

    def push(plan):
        start.wait()
        with env.client() as client:
            outcomes.append(execute_plan(env.store, env.settings, plan, client=client))

    threads = [threading.Thread(target=push, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(env.entries(f"WC-{6900 + i}")) == 1 for i in range(8)), [
        len(env.entries(f"WC-{6900 + i}")) for i in range(8)]
    assert sum(o.posted for o in outcomes) == 8
    assert set(list_jobs(env.store)["status"].to_list()) == {"Synced"}


def test_a_live_claim_of_this_process_is_left_alone_and_a_finished_ones_taken_over(make_env):
    from exactsync.push import execute as ex

    env = make_env()
    docs = [make_doc(6950)]
    env.add_docs(docs)
    ids = ex.save_plan(env.store, _plan(env, docs))
    other = f"{socket.gethostname()}:{os.getpid()}:otherrun"
    env.store.execute("UPDATE push_jobs SET status = 'Queued', claimed_by = ?, queued_at = now() WHERE job_id = ?",
                      [other, ids[0]])
    ex._LIVE_RUNS.add(other)  # a run going on in this process (another dashboard session)
    try:
        with env.client() as client:
            out = retry_jobs(env.store, env.settings, client=client)
        assert (out.posted, out.not_done) == (0, 1) and env.entries("WC-6950") == []
    finally:
        ex._LIVE_RUNS.discard(other)
    with env.client() as client:  # that run has ended without finishing it: taken over, looked up, posted
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.posted, out.synced) == (1, 1) and len(env.entries("WC-6950")) == 1


def test_a_token_failure_mid_push_releases_the_claims_and_logs_the_run(make_env):
    """A failing token endpoint escaped as an exception: no run summary, and the jobs stayed Queued
    under a live process, which a retry in the same process then skipped for good."""
    from exactsync.exact.oauth import TokenError

    env = make_env()
    docs = [make_doc(6960 + i) for i in range(3)]
    env.add_docs(docs)
    with env.client() as client:
        real_post = client.post
        calls = {"n": 0}

        def post(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 2:
                raise TokenError("Exact's token endpoint answered HTTP 502 (Bad Gateway); try again later")
            return real_post(*a, **kw)

        client.post = post
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert out.synced == 1 and out.not_done == 2 and "502" in out.stopped
    jobs = list_jobs(env.store).to_dicts()
    assert sorted(j["status"] for j in jobs) == ["Pending", "Pending", "Synced"]
    assert env.store.rows("SELECT DISTINCT claimed_by FROM push_jobs") == [(None,)]
    (summary,) = env.store.rows("SELECT message FROM sync_log WHERE source = 'push' AND message LIKE 'push run %'")
    assert "stopped: Exact's token endpoint answered HTTP 502" in summary[0]
    with env.client() as client:
        again = retry_jobs(env.store, env.settings, client=client)
    assert (again.synced, again.exit_code) == (2, 0)
    assert all(len(env.entries(f"WC-{6960 + i}")) == 1 for i in range(3))


def _lose_answers(client, env, *, lose=1, deliver="never", not_sent=False):
    """Make the first ``lose`` POSTs of ``client`` go unanswered: delivered to Exact ``"now"``, at
    the second look-up after it (``"late"``: Exact commits it after the client gave up), or
    ``"never"``; ``not_sent``: the connection is refused (the request never left)."""
    real = client.http.request
    state = {"lost": 0, "pending": None, "gets": 0}

    def request(method, url, **kw):
        if method == "POST" and "salesentries" in str(url).lower() and state["lost"] < lose:
            state["lost"] += 1
            req = httpx2.Request(method, url)
            if not_sent:
                raise httpx2.ConnectError("connection refused", request=req)
            if deliver == "now":
                real(method, url, **kw)
            elif deliver == "late":
                state["pending"] = (method, url, kw)
            raise httpx2.ReadTimeout("the answer never came", request=req)
        if method == "GET" and state["pending"] is not None:
            state["gets"] += 1
            if state["gets"] == 2:
                real(*state["pending"][:2], **state["pending"][2])
                state["pending"] = None
        return real(method, url, **kw)

    client.http.request = request
    return state


def _posts(env):
    return [c for c in env.app.calls(DIV) if c["method"] == "POST" and "salesentries" in c["path"].lower()]


def test_a_post_without_answer_is_not_sent_again_on_one_early_look_up(make_env, clock):
    """A timeout after the request left: Exact may still commit it. It was posted again after a
    0.5 s back-off and one look-up, and a late commit made two entries."""
    env = make_env()
    docs = [make_doc(7001)]
    env.add_docs(docs)
    with env.client() as client:
        _lose_answers(client, env, deliver="late")
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.synced, out.found_existing, out.posted) == (1, 1, 0)
    assert len(env.entries("WC-7001")) == 1 and len(_posts(env)) == 1  # the one POST, committed late

    docs = [make_doc(7002)]
    env.add_docs(docs)
    with env.client() as client:
        _lose_answers(client, env, deliver="never")
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.synced, out.errors, out.exit_code) == (0, 1, 1) and env.entries("WC-7002") == []
    [job] = list_jobs(env.store, "Error").to_dicts()
    assert "Exact did not answer the POST" in job["last_error"] and "Not sent again in this run" in job["last_error"]
    assert job["attempts"] == 1
    with env.client() as client:  # at once: looked up, still not there, not posted yet
        out = retry_jobs(env.store, env.settings, client=client)
    assert out.posted == 0 and env.entries("WC-7002") == []
    assert "not posted again yet" in list_jobs(env.store, "Error").to_dicts()[0]["last_error"]
    clock.advance(11 * 60)
    with env.client() as client:  # ten minutes on, nothing appeared: posted, once
        out = retry_jobs(env.store, env.settings, client=client)
    assert (out.posted, out.synced, out.exit_code) == (1, 1, 0) and len(env.entries("WC-7002")) == 1


def test_a_refused_connection_is_posted_again_in_the_run(make_env):
    env = make_env()
    docs = [make_doc(7010)]
    env.add_docs(docs)
    with env.client() as client:
        _lose_answers(client, env, not_sent=True)
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.synced, out.posted) == (1, 1) and len(env.entries("WC-7010")) == 1


def test_a_rebook_is_not_posted_when_the_document_is_booked_again_meanwhile(make_env):
    """Reversal posted, rebook refused; the document then reconciles as missing and a create books
    it. The old rebook, retried, booked it a second time."""
    env = make_env()
    d1002 = make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")])
    env.add_docs([d1002])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "amount_differs")])
    with env.client() as client:
        real = client.post

        def refuse_rebook(path, division, body, **kw):
            if str(body.get("Description", "")).startswith("Correction of entry"):
                raise ExactApiError(400, "Invalid: simulated refusal", method="POST", path=path)
            return real(path, division, body, **kw)

        client.post = refuse_rebook
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.errors) == (1, 1)
    env.pull()
    create = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "missing_in_exact")])
    assert [j.kind for j in create.jobs] == ["create"]
    with env.client() as client:
        assert execute_plan(env.store, env.settings, create, client=client).posted == 1
        out = retry_jobs(env.store, env.settings, client=client)
    assert out.posted == 0
    live = [e for e in env.entries("WC-1002") if e["Description"] != "Order 1002"
            and not e["Description"].startswith("Reversal")]
    assert len(live) == 1, env.entries("WC-1002")
    rebook = list_jobs(env.store, doc_key="woo:invoice:1002").filter(pl.col("kind") == "rebook").to_dicts()[0]
    assert rebook["status"] == "Error" and "Exact holds live entry" in rebook["last_error"]


def test_a_reversal_whose_description_was_edited_is_found_by_its_amount(make_env):
    env = make_env()
    d1002 = make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")])
    env.add_docs([d1002])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "amount_differs")])
    original = env.entries("WC-1002")[0]
    with env.client() as client:
        real = client.http.request
        state = {"done": False}

        def request(method, url, **kw):  # the reversal lands, its answer is lost, a bookkeeper edits it
            response = real(method, url, **kw)
            if method == "POST" and not state["done"]:
                state["done"] = True
                eid = json.loads(response.read())["d"]["EntryID"]
                with env.app.lock:
                    env.app.divisions[DIV].entries.rows[eid]["Description"] = "Storno factuur"
                raise httpx2.ReadTimeout("the answer never came", request=response.request)
            return response

        client.http.request = request
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.found_existing, out.exit_code) == (2, 1, 0)
    booked = sorted(env.entries("WC-1002"), key=lambda e: e["EntryNumber"])
    assert [e["Description"] for e in booked] == ["Order 1002", "Storno factuur",
                                                  f"Correction of entry {original['EntryNumber']}"]


def test_posted_entries_are_verified_by_a_look_up_after(make_env):
    env = make_env()
    docs = [make_doc(7020), make_doc(7021)]
    env.add_docs(docs)
    with env.client() as client:
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.posted, out.unverified, out.exit_code) == (2, 0, 0)
    assert env.store.rows("SELECT count(*) FROM push_jobs WHERE verified_at IS NOT NULL") == [(2,)]
    gets = [c for c in env.app.calls(DIV) if c["method"] == "GET" and "salesentries" in c["path"].lower()]
    assert len(gets) == 2  # the look-up before the batch, and one after it

    docs = [make_doc(7022)]
    env.add_docs(docs)
    with env.client() as client:
        real = client.post

        def answer_with_another_id(*a, **kw):  # an answer naming an entry Exact does not show
            data = real(*a, **kw)
            data["d"]["EntryID"] = "00000000-0000-0000-0000-000000000000"
            return data

        client.post = answer_with_another_id
        out = execute_plan(env.store, env.settings, _plan(env, docs), client=client)
    assert (out.posted, out.unverified, out.exit_code) == (1, 1, 3)
    (msg,) = env.store.rows("SELECT message FROM sync_log WHERE level = 'warning' AND message LIKE '%look-up right after%'")
    assert "check the entry in Exact before pushing it again" in msg[0]
    from exactsync.views.push import _result  # what the dashboard's Push page shows of it

    shown = _result(env.store, out)
    assert shown.counts["unverified"] == 1 and "1 posted but not shown by Exact under their reference" in shown.message


def test_an_entry_removed_in_exact_after_the_push_is_pushed_again_once_the_pulls_show_it(make_env, clock):
    """The job id is the same intent each time, and a Synced job was never sent again: a document
    whose pushed entry a bookkeeper deleted in Exact stayed missing, with no way to push it."""
    from exactsync.push import save_plan

    env = make_env()
    docs = [make_doc(7030)]
    env.add_docs(docs)
    with env.client() as client:
        assert execute_plan(env.store, env.settings, _plan(env, docs), client=client).posted == 1
    [entry] = env.entries("WC-7030")
    with env.client() as client:  # deleted in Exact (an open entry can be)
        client.delete(f"salesentry/SalesEntries(guid'{entry['EntryID']}')", DIV)
    assert env.entries("WC-7030") == []

    # until a pull that began after the push shows it gone, the Synced job stands
    stale = _plan(env, docs)
    assert [j.existing_status for j in stale.jobs] == ["Synced"] and stale.removed == []
    clock.advance(60)
    env.pull()
    (note,) = env.store.rows("SELECT message FROM sync_log WHERE message LIKE '%is no longer in Exact%'")
    assert note[0] == f"entry {entry['EntryNumber']} (WC-7030), pushed by exactsync, is no longer in Exact: " \
                      "a push plans the document again"
    again = _plan(env, docs)
    assert [j.existing_status for j in again.jobs] == [None]
    assert again.removed == [{"job_id": again.jobs[0].job_id, "your_ref": "WC-7030",
                              "entry_number": entry["EntryNumber"]}]
    assert again.jobs[0].job_id.endswith(f"~{entry['EntryNumber']}")
    assert "have been removed in Exact since and are pushed again: WC-7030" in again.summary()
    with env.client() as client:
        out = execute_plan(env.store, env.settings, again, client=client)
    assert (out.posted, out.exit_code) == (1, 0) and len(env.entries("WC-7030")) == 1
    with env.client() as client:  # and only once
        assert execute_plan(env.store, env.settings, _plan(env, docs), client=client).total == 0
    assert len(env.entries("WC-7030")) == 1 and save_plan(env.store, _plan(env, docs)) == []

    # removed a second time (Exact may give the new entry the removed one's number again): a job of
    # its own again, and planning ends
    [second] = env.entries("WC-7030")
    with env.client() as client:
        client.delete(f"salesentry/SalesEntries(guid'{second['EntryID']}')", DIV)
    clock.advance(60)
    env.pull()
    third = _plan(env, docs)
    assert [j.existing_status for j in third.jobs] == [None]
    assert third.jobs[0].job_id == f"{again.jobs[0].job_id}~{second['EntryNumber']}"
    with env.client() as client:
        assert execute_plan(env.store, env.settings, third, client=client).posted == 1
    assert len(env.entries("WC-7030")) == 1


def test_a_processed_entry_is_corrected_by_reversal_never_edited_and_reconciles_as_matched(make_env):
    from exactsync.reconcile import DiffFilters, differences, document_detail, run_reconciliation

    env = make_env()
    d1002 = make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")])
    env.add_docs([d1002])
    original = env.entries("WC-1002")[0]
    env.app.process_entry(DIV, original["EntryID"])  # the bookkeeper processed it (Status 50)
    env.pull()
    run = run_reconciliation(env.store, env.settings, "2026-02", clock=env.clock)
    before = differences(env.store, run.run_id, DiffFilters(search="1002"), limit=10).to_dicts()
    assert [r["status"] for r in before] == ["amount_differs"]
    processed = {k: v for k, v in env.entries("WC-1002")[0].items()}
    env.app.clear_calls()
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:1002", "amount_differs")])
    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert out.synced == 2
    assert [c["method"] for c in env.app.calls(DIV) if "salesentr" in c["path"].lower()
            and c["method"] not in ("GET", "POST")] == []  # no PUT, no DELETE
    booked = sorted(env.entries("WC-1002"), key=lambda e: e["EntryNumber"])
    assert booked[0] == processed  # the processed original is untouched
    n = original["EntryNumber"]
    assert [e["Description"] for e in booked[1:]] == [f"Reversal of entry {n}", f"Correction of entry {n}"]
    # re-pull and re-reconcile: the document is matched; all three entries stay visible, linked
    env.pull()
    # the old run still says "amount differs": pushing from it again would correct twice, so it is skipped
    stale = plan_push(env.store, env.settings, run.run_id, statuses=["amount_differs"])
    assert stale.jobs == [] and stale.posts == 0
    assert [why for _, why in stale.skipped] == [
        f"already corrected in Exact after run {run.run_id} (job {plan.jobs[-1].job_id}); "
        "reconcile again to see where it stands"]
    rerun = run_reconciliation(env.store, env.settings, "2026-02", clock=env.clock)
    [row] = differences(env.store, rerun.run_id, DiffFilters(search="1002", include_ok=True), limit=10).to_dicts()
    assert row["status"] == "matched" and sorted(row["entry_numbers"]) == [e["EntryNumber"] for e in booked]
    detail = document_detail(env.store, rerun.run_id, row["result_key"])
    assert detail["exact"]["entry_id"].to_list() == [e["EntryID"] for e in booked]
    jobs = {j["kind"]: j for j in list_jobs(env.store, doc_key="woo:invoice:1002").to_dicts()}
    assert jobs["reverse"]["reverses_entry_id"] == jobs["rebook"]["reverses_entry_id"] == original["EntryID"]
    assert (jobs["reverse"]["exact_entry_id"], jobs["rebook"]["exact_entry_id"]) == (booked[1]["EntryID"],
                                                                                   booked[2]["EntryID"])
    assert jobs["reverse"]["pair_job_id"] == jobs["rebook"]["job_id"]
