"""Exact sandbox sales entries: POST/PUT/DELETE semantics, errors, transaction lines, sync/Deleted."""

from __future__ import annotations

import httpx2
import pytest

DIV = 123456
SE = f"/api/v1/{DIV}/salesentry/SalesEntries"
SEL = f"/api/v1/{DIV}/salesentry/SalesEntryLines"
SYNC = f"/api/v1/{DIV}/sync/Financial/TransactionLines"
DELETED = f"/api/v1/{DIV}/sync/Deleted"
PREFER = {"Prefer": "return=representation"}


def _ids(c, what: str, path: str, field: str = "Code") -> dict:
    rows = c.get(f"/api/v1/{DIV}/{path}", params={"$select": f"ID,{field}", "$filter": f"{field} ne null",
                                                 }).json()["d"]["results"]
    return {r[field].strip(): r["ID"] for r in rows}


@pytest.fixture
def refs(exact_local):
    return {
        "gl": _ids(exact_local, "gl", "financial/GLAccounts"),
        "acc": _ids(exact_local, "acc", "crm/Accounts"),
    }


def _entry(refs, **over) -> dict:
    body = {
        "Journal": "70", "Customer": refs["acc"]["1001"], "EntryDate": "2026-06-15T00:00:00", "YourRef": "WC-2001",
        "Description": "Order 2001", "Currency": "EUR",
        "SalesEntryLines": [
            {"GLAccount": refs["gl"]["8000"], "AmountFC": 82.64, "VATCode": "2", "Description": "Goods"},
            {"GLAccount": refs["gl"]["8100"], "AmountFC": "4.13", "VATCode": "2", "VATAmountFC": 0.87},
        ],
    }
    body.update(over)
    return body


def _err(r) -> str:
    return r.json()["error"]["message"]["value"]


def _sync_since(c, stamp: int) -> list[dict]:
    return c.get(SYNC, params={"$filter": f"Timestamp gt {stamp}L"}).json()["d"]["results"]


def _max_stamp(app) -> int:
    return app.divisions[DIV]._ts


def test_post_entry_full_representation_and_transaction_lines(exact_app, exact_local, refs):
    before = _max_stamp(exact_app)
    r = exact_local.post(SE, json=_entry(refs), headers=PREFER)
    assert r.status_code == 201
    d = r.json()["d"]
    assert d["Journal"] == "70" and d["Status"] == 20 and d["Type"] == 20
    assert d["EntryNumber"] == 26700011  # next free number in journal 70 / 2026
    assert (d["ReportingYear"], d["ReportingPeriod"]) == (2026, 6)
    assert d["VATAmountFC"] == 18.22  # 17.35 computed (82.64 * 21 %) + 0.87 supplied
    assert d["AmountFC"] == 104.99 and d["AmountDC"] == 104.99
    lines = d["SalesEntryLines"]["results"]
    assert [x["VATAmountFC"] for x in lines] == [17.35, 0.87]
    assert [x["LineNumber"] for x in lines] == [1, 2]
    tls = _sync_since(exact_local, before)
    assert {t["EntryID"] for t in tls} == {d["EntryID"]}
    assert all(t["Timestamp"] > before for t in tls)
    by_no = {t["LineNumber"]: t for t in tls}
    assert by_no[0]["Account"] == refs["acc"]["1001"] and by_no[0]["AmountFC"] == 104.99
    assert by_no[0]["GLAccountCode"] == "1300"
    assert (by_no[1]["AmountFC"], by_no[1]["AmountVATFC"], by_no[1]["AmountVATBaseFC"]) == (-82.64, -17.35, -82.64)
    assert by_no[1]["VATCode"] == "2" and by_no[1]["VATPercentage"] == 0.21
    assert by_no[3]["GLAccountCode"] == "1500" and by_no[3]["AmountFC"] == -18.22
    assert abs(sum(t["AmountFC"] for t in tls)) < 1e-9
    assert {t["YourRef"] for t in tls} == {"WC-2001"} and {t["JournalCode"] for t in tls} == {"70"}
    # also visible on the filtered standard endpoint
    std = exact_local.get(f"/api/v1/{DIV}/financialtransaction/TransactionLines",
                          params={"$filter": f"EntryID eq guid'{d['EntryID']}'", "$select": "ID"})
    assert len(std.json()["d"]["results"]) == 4


def test_post_without_prefer_is_mostly_null(exact_local, refs):
    r = exact_local.post(SE, json=_entry(refs))
    assert r.status_code == 201
    d = r.json()["d"]
    assert d["EntryID"] and d["AmountFC"] is None and d["EntryNumber"] is None


def test_credit_note_type_21_and_yourref_not_unique(exact_local, refs):
    body = _entry(refs, YourRef="WC-1002", SalesEntryLines=[
        {"GLAccount": refs["gl"]["8000"], "AmountFC": -82.64, "VATCode": "2", "VATAmountFC": -17.36}])
    d = exact_local.post(SE, json=body, headers=PREFER).json()["d"]
    assert d["Type"] == 21 and d["AmountFC"] == -100.0
    found = exact_local.get(SE, params={"$filter": "YourRef eq 'WC-1002'", "$select": "EntryID"}).json()["d"]
    assert len(found["results"]) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"Journal": "20"}, "Invalid reference: Journals"),
        ({"Journal": None}, "Mandatory: Journal"),
        ({"Customer": None}, "Mandatory: Relationship"),
        ({"EntryDate": "2026-01-10T00:00:00"}, "The financial year cannot be changed."),
        ({"EntryDate": "2031-01-10T00:00:00"}, "Invalid: Financial period"),
        ({"SalesEntryLines": []}, "Mandatory: Lines"),
        ({"EntryNumber": 26700002}, "In use: Entry number"),
    ],
)
def test_post_business_errors_are_500(exact_local, refs, change, message):
    r = exact_local.post(SE, json=_entry(refs, **change), headers=PREFER)
    assert r.status_code == 500
    assert message in _err(r)
    assert set(r.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    "line, message",
    [
        ({"VATCode": "OLD"}, "Invalid reference: VAT code"),  # blocked
        ({"VATCode": "5"}, "Invalid reference: VAT code"),  # purchase only
        ({"VATCode": "ZZ"}, "Invalid reference: VAT code"),
        ({"GL": "1300"}, "Invalid: G/L account type"),
        ({"GL": "1500"}, "Invalid: G/L account type"),
        ({"AmountFC": None}, "Mandatory: Amount"),
    ],
)
def test_line_validation(exact_local, refs, line, message):
    base = {"GLAccount": refs["gl"][line.pop("GL", "8000")], "AmountFC": 10, "VATCode": "2", **line}
    r = exact_local.post(SE, json=_entry(refs, SalesEntryLines=[base]))
    assert r.status_code == 500 and message in _err(r)


def test_customer_must_be_customer_and_journal_not_guid(exact_local, refs):
    r = exact_local.post(SE, json=_entry(refs, Customer=refs["acc"]["2001"]))
    assert r.status_code == 500 and _err(r) == "Invalid: Invoice to (Type)"
    jid = exact_local.get(f"/api/v1/{DIV}/financial/Journals", params={"$select": "ID,Code"}).json()["d"]["results"][0]
    r = exact_local.post(SE, json=_entry(refs, Journal=jid["ID"]))
    assert r.status_code == 500 and _err(r) == "Invalid reference: Journals"


def test_malformed_bodies_are_400(exact_local, refs):
    r = exact_local.post(SE, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and _err(r).startswith("Error processing request stream")
    r = exact_local.post(SE, json=_entry(refs, Bogus=1))
    assert r.status_code == 400 and "Bogus" in _err(r)
    r = exact_local.post(SE, json=_entry(refs, Customer="not-a-guid"))
    assert r.status_code == 400 and "Unrecognized GUID format" in _err(r)


def test_put_delete_and_sync_deleted(exact_app, exact_local, refs):
    d = exact_local.post(SE, json=_entry(refs), headers=PREFER).json()["d"]
    eid = d["EntryID"]
    stamp = _max_stamp(exact_app)
    r = exact_local.put(f"{SE}(guid'{eid}')", json={"YourRef": "WC-2001-B", "Description": "changed"})
    assert r.status_code == 204 and r.content == b""
    tls = _sync_since(exact_local, stamp)
    assert len(tls) == 4 and {t["YourRef"] for t in tls} == {"WC-2001-B"}  # all lines bumped, same IDs
    ids = {t["ID"] for t in tls}
    # PUT moving to another year is refused
    r = exact_local.put(f"{SE}(guid'{eid}')", json={"EntryDate": "2027-01-05T00:00:00"})
    assert r.status_code == 500
    stamp = _max_stamp(exact_app)
    assert exact_local.delete(f"{SE}(guid'{eid}')").status_code == 204
    assert exact_local.get(f"{SE}(guid'{eid}')").status_code == 404
    deleted = exact_local.get(DELETED, params={"$filter": f"Timestamp gt {stamp}L"}).json()["d"]["results"]
    assert {x["EntityKey"] for x in deleted} == ids and {x["EntityType"] for x in deleted} == {1}
    assert all(x["DeletedDate"].startswith("/Date(") for x in deleted)
    assert _sync_since(exact_local, stamp) == []
    # the freed (last) number is handed out again
    again = exact_local.post(SE, json=_entry(refs), headers=PREFER).json()["d"]
    assert again["EntryNumber"] == d["EntryNumber"]


def test_processed_and_closed_entries_cannot_change(exact_local):
    processed = exact_local.get(SE, params={"$filter": "Status eq 50", "$select": "EntryID"}).json()["d"]["results"]
    assert len(processed) == 1
    eid = processed[0]["EntryID"]
    r = exact_local.put(f"{SE}(guid'{eid}')", json={"Description": "x"})
    assert r.status_code == 500 and _err(r) == "Already processed"
    r = exact_local.delete(f"{SE}(guid'{eid}')")
    assert r.status_code == 500 and _err(r) == "Already processed"


def test_closed_period_entry_cannot_be_deleted(exact_app, exact_local, refs):
    d = exact_local.post(SE, json=_entry(refs, EntryDate="2026-02-20T00:00:00"), headers=PREFER).json()["d"]
    exact_app.close_period(DIV, "70", 2026, 2)
    r = exact_local.delete(f"{SE}(guid'{d['EntryID']}')")
    assert r.status_code == 500 and _err(r) == "The financial year cannot be changed."


def test_lines_endpoint_add_update_delete(exact_app, exact_local, refs):
    d = exact_local.post(SE, json=_entry(refs), headers=PREFER).json()["d"]
    eid = d["EntryID"]
    first, second = d["SalesEntryLines"]["results"]
    r = exact_local.post(SEL, json={"EntryID": eid, "GLAccount": refs["gl"]["8000"], "AmountFC": 10, "VATCode": "1"},
                         headers=PREFER)
    assert r.status_code == 201 and r.json()["d"]["VATAmountFC"] == 0.9 and r.json()["d"]["LineNumber"] == 3
    new_id = r.json()["d"]["ID"]
    assert exact_local.put(f"{SEL}(guid'{new_id}')", json={"AmountFC": 20}).status_code == 204
    header = exact_local.get(f"{SE}(guid'{eid}')", params={"$select": "AmountFC,VATAmountFC"}).json()["d"]
    assert header["VATAmountFC"] == 20.02 and header["AmountFC"] == 126.79
    for line in (first, second, {"ID": new_id}):
        assert exact_local.delete(f"{SEL}(guid'{line['ID']}')").status_code == 204
    # deleting the last line deleted the entry
    assert exact_local.get(f"{SE}(guid'{eid}')").status_code == 404
    assert exact_app.divisions[DIV].tl_by_entry.get(eid) is None


def test_drop_after_commit_really_commits(exact_app, exact_server, exact_make_client, refs):
    c = exact_make_client(exact_app, exact_server.url)
    exact_app.drop_next()
    with pytest.raises(httpx2.TransportError):
        c.post(SE, json=_entry(refs, YourRef="WC-DROP"), headers=PREFER)
    found = c.get(SE, params={"$filter": "YourRef eq 'WC-DROP'", "$select": "EntryID"}).json()["d"]["results"]
    assert len(found) == 1
    assert any(x["fault"] == "drop" and x["status"] == 201 for x in exact_app.calls(DIV))


def test_drop_in_process_raises_read_timeout(exact_app, exact_local, refs):
    exact_app.set_faults(drop_after_commit=1.0)
    with pytest.raises(httpx2.ReadTimeout):
        exact_local.post(SE, json=_entry(refs, YourRef="WC-DROP2"))
    exact_app.set_faults(drop_after_commit=0.0)
    assert len(exact_local.get(SE, params={"$filter": "YourRef eq 'WC-DROP2'"}).json()["d"]["results"]) == 1


def test_injected_5xx_does_no_work_and_is_seeded(exact_scenario, exact_clock, exact_make_client):
    from exactsync.sandbox.exact import create_app

    def run() -> list[int]:
        app = create_app(exact_scenario, clock=exact_clock)
        app.set_faults(seed=42, error_5xx=0.3, rate_429=0.1)
        c = exact_make_client(app)
        return [c.get(f"/api/v1/{DIV}/financial/Journals").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {503, 429, 200} <= set(first)


def test_faults_and_calls_over_http(exact_app, exact_server, exact_make_client):
    c = exact_make_client(exact_app, exact_server.url)
    with httpx2.Client(base_url=exact_server.url) as ctl:
        assert ctl.post("/_sandbox/faults", json={"fail_next": 1, "status_5xx": 502}).status_code == 200
        assert ctl.post("/_sandbox/faults", json={"bogus": 1}).status_code == 400
        assert c.get(f"/api/v1/{DIV}/financial/Journals").status_code == 502
        assert c.get(f"/api/v1/{DIV}/financial/Journals").status_code == 200
        calls = ctl.get("/_sandbox/calls", params={"division": DIV}).json()["calls"]
    assert [x["status"] for x in calls[-2:]] == [502, 200]
    last = calls[-1]
    assert last["method"] == "GET" and last["path"] == f"/api/v1/{DIV}/financial/Journals"
    assert last["endpoint"] == "financial/Journals" and last["minutely_remaining"] == 58
    assert last["daily_remaining"] == 4998 and last["division"] == DIV
    assert exact_app.calls(654321) == []


def test_post_account_pads_code(exact_local):
    r = exact_local.post(f"/api/v1/{DIV}/crm/Accounts", json={"Name": "New shop customer", "Status": "C"},
                         headers=PREFER)
    assert r.status_code == 201
    d = r.json()["d"]
    assert d["Code"] == f"{'2002':>18}" and d["IsSales"] is True
    assert exact_local.post(f"/api/v1/{DIV}/crm/Accounts", json={"Code": "1001", "Name": "dup"}).status_code == 500


def test_seeded_entries_produce_transaction_lines(exact_local):
    entries = exact_local.get(SE, params={"$select": "EntryID,YourRef,AmountFC,Type,Status,Currency"}).json()["d"]
    tls = exact_local.get(SYNC, params={"$filter": "Timestamp gt 1L"}).json()["d"]["results"]
    by_entry: dict[str, list[dict]] = {}
    for t in tls:
        by_entry.setdefault(t["EntryID"], []).append(t)
    assert set(by_entry) == {e["EntryID"] for e in entries["results"]}
    for e in entries["results"]:
        lines = sorted(by_entry[e["EntryID"]], key=lambda t: t["LineNumber"])
        assert lines[0]["LineNumber"] == 0 and lines[0]["AmountFC"] == e["AmountFC"]
        assert abs(sum(t["AmountFC"] for t in lines)) < 1e-9
        assert {t["Status"] for t in lines} == {e["Status"]} and {t["Type"] for t in lines} == {e["Type"]}
    icl = next(e for e in entries["results"] if e["YourRef"] == "WC-1006")
    assert [t["VATCode"] for t in sorted(by_entry[icl["EntryID"]], key=lambda t: t["LineNumber"])] == [None, "ICL"]
    credit = next(e for e in entries["results"] if e["YourRef"] == "WC-R-55")
    assert credit["Type"] == 21 and credit["AmountFC"] == -100.0
    usd = next(e for e in entries["results"] if e["YourRef"] == "WC-1007")
    ar = next(t for t in by_entry[usd["EntryID"]] if t["LineNumber"] == 0)
    assert usd["Currency"] == "USD" and (ar["AmountFC"], ar["AmountDC"], ar["ExchangeRate"]) == (300.0, 276.0, 0.92)


def test_process_entry_restamps_lines(exact_app, exact_local):
    eid = exact_local.get(SE, params={"$filter": "YourRef eq 'WC-1004'", "$select": "EntryID"}).json()["d"]["results"][0]["EntryID"]
    stamp = _max_stamp(exact_app)
    exact_app.process_entry(DIV, eid)
    tls = _sync_since(exact_local, stamp)
    assert {t["EntryID"] for t in tls} == {eid} and {t["Status"] for t in tls} == {50}


def test_latency_fault_is_real_time(exact_app, exact_local):
    import time

    exact_app.set_faults(latency_ms=60)
    t0 = time.perf_counter()
    assert exact_local.get(f"/api/v1/{DIV}/financial/Journals").status_code == 200
    assert time.perf_counter() - t0 >= 0.06
    exact_app.set_faults(latency_ms=0)


def test_sync_timestamp_move_division_and_controls(exact_app, exact_server, exact_make_client, exact_clock):
    c = exact_make_client(exact_app, exact_server.url)
    r = c.get(f"/api/v1/{DIV}/read/sync/Sync/SyncTimestamp",
              params={"modified": "datetime'2026-04-01'", "endPoint": "'TransactionLines'"})
    (rec,) = r.json()["d"]["results"]
    start = rec["TimeStampAsBigInt"]
    since = c.get(SYNC, params={"$filter": f"Timestamp gt {start}L", "$select": "Modified,YourRef"}).json()["d"]
    refs = {x["YourRef"] for x in since["results"]}
    assert {"WC-R-55", "WC-1008", "WC-1003"} <= refs  # modified in April/May
    assert c.get(f"/api/v1/{DIV}/read/sync/Sync/SyncTimestamp").status_code == 400
    old_max = exact_app.divisions[DIV]._ts
    with httpx2.Client(base_url=exact_server.url) as ctl:
        assert ctl.post("/_sandbox/move-division", json={"division": DIV}).status_code == 204
        assert ctl.post("/_sandbox/close-period", json={"division": DIV, "journal": "70", "year": 2026,
                                                        "period": 6}).status_code == 204
        assert ctl.post("/_sandbox/process-entry", json={"division": DIV}).status_code == 400
    div = c.get(f"/api/v1/{DIV}/system/Divisions({DIV})").json()["d"]
    assert div["DivisionMoveDate"] is not None
    after = c.get(SYNC, params={"$filter": "Timestamp gt 1L", "$select": "Timestamp"}).json()["d"]["results"]
    assert len(after) == len(exact_app.divisions[DIV].tl) and max(x["Timestamp"] for x in after) < old_max
    status = c.get(f"/api/v1/{DIV}/read/financial/JournalStatusList",
                   params={"$filter": "Period eq 6 and Journal eq '70'"}).json()["d"]["results"]
    assert [x["Status"] for x in status] == [1]


def test_dutch_messages(exact_scenario, exact_clock, exact_make_client, refs):
    from exactsync.sandbox.exact import create_app

    exact_scenario["user"]["language"] = "NL"
    app = create_app(exact_scenario, clock=exact_clock)
    c = exact_make_client(app)
    r = c.post(SE, json=_entry(refs, EntryNumber=26700002))  # GUIDs are the same: same seed
    assert r.status_code == 500 and _err(r) == "In gebruik: Boekstuknummer"
