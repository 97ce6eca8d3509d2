"""Exact sandbox OData: $filter grammar and errors, $select, envelopes, paging, bulk, sync."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from exactsync.sandbox.exact.odata import ODataError, compile_filter
from exactsync.sandbox.exact.schema import ENTITIES

DIV = 123456
TL = ENTITIES["financialtransaction/transactionlines"]


def _f(text: str, row: dict) -> bool:
    return compile_filter(text, TL.fields, TL.type_name).predicate(row)


ROW = {
    "ID": "5b3debef-9b1c-4bcd-b7ae-003e8d4139df", "YourRef": "O'Brien ", "AmountFC": Decimal("-8500.50"),
    "FinancialYear": 2026, "Date": dt.datetime(2026, 3, 15), "JournalCode": "70", "AccountCode": "          1068",
    "EntryNumber": 26700001, "Status": 20, "VATCode": None,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("YourRef eq 'O''Brien'", True),  # '' escaping; trailing spaces ignored like SQL Server
        ("YourRef eq 'o''brien'", True),  # case-insensitive collation
        ("ID eq guid'5B3DEBEF-9B1C-4BCD-B7AE-003E8D4139DF'", True),
        ("AmountFC ge -8500.5 and AmountFC lt 0", True),
        ("FinancialYear eq 2026 and (JournalCode eq '71' or JournalCode eq '70')", True),
        ("not (FinancialYear eq 2026)", False),
        ("Date ge datetime'2026-03-01' and Date lt datetime'2026-04-01T00:00:00'", True),
        ("EntryNumber gt 26700000L", True),
        ("AccountCode eq '1068'", False),  # padded code: unpadded eq finds nothing
        ("trim(AccountCode) eq '1068'", True),
        ("AccountCode eq '          1068'", True),
        ("VATCode eq null", True),
        ("startswith(YourRef, 'O''B') eq true", True),
        ("substringof('Bri', YourRef)", True),
        ("JournalCode eq '70' or JournalCode eq '71' or JournalCode eq '72'", True),
    ],
)
def test_filter_semantics(text, expected):
    assert _f(text, ROW) is expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("ID eq 1", "Operator 'eq' incompatible with operand types 'System.Guid' and 'System.Int32' at position 3"),
        ("YourRef gt 5", "Operator 'gt' incompatible with operand types 'System.String' and 'System.Int32' at position 8"),
        ("Foo eq 1", "No property 'Foo' exists in type 'Exact.Web.Api.Models.Financial.TransactionLine' at position 0"),
        ("YourRef eq 'x' and", "Syntax error at position 18"),
        ("(YourRef eq 'x'", "Syntax error at position 15"),
        ("ID eq guid'nope'", "Unrecognized 'Edm.Guid' literal"),
    ],
)
def test_filter_errors(text, message):
    with pytest.raises(ODataError) as exc:
        compile_filter(text, TL.fields, TL.type_name)
    assert message in exc.value.message
    assert exc.value.status == 400


def test_filter_error_over_http(exact_http):
    r = exact_http.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$filter": "EntryID eq 1"})
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "", "message": {"lang": "", "value": (
        "Operator 'eq' incompatible with operand types 'System.Guid' and 'System.Int32' at position 8.")}}}


def test_select_envelope_metadata_and_dates(exact_http):
    r = exact_http.get(f"/api/v1/{DIV}/salesentry/SalesEntries",
                       params={"$filter": "YourRef eq 'WC-1002'", "$select": "EntryID,EntryDate,AmountFC,YourRef"})
    assert r.status_code == 200
    (rec,) = r.json()["d"]["results"]
    assert set(rec) == {"__metadata", "EntryID", "EntryDate", "AmountFC", "YourRef"}
    assert rec["__metadata"]["uri"] == f"{str(exact_http.base_url).rstrip('/')}/api/v1/{DIV}/salesentry/SalesEntries(guid'{rec['EntryID']}')"
    assert rec["__metadata"]["type"] == "Exact.Web.Api.Models.SalesEntry"
    assert rec["EntryDate"] == "/Date(1770076800000)/"  # 2026-02-03
    assert rec["AmountFC"] == 100.0
    assert "__next" not in r.json()["d"]
    single = exact_http.get(f"/api/v1/{DIV}/salesentry/SalesEntries(guid'{rec['EntryID']}')")
    d = single.json()["d"]
    assert d["EntryID"] == rec["EntryID"]
    assert d["SalesEntryLines"] == {"__deferred": {"uri": rec["__metadata"]["uri"] + "/SalesEntryLines"}}
    lines = exact_http.get(d["SalesEntryLines"]["__deferred"]["uri"]).json()["d"]["results"]
    assert [x["AmountFC"] for x in lines] == [82.64]
    bad = exact_http.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$select": "EntryID,Nope"})
    assert bad.status_code == 400 and "Nope" in bad.json()["error"]["message"]["value"]


@pytest.mark.parametrize("opt", ["$top", "$skip", "$orderby"])
def test_unsupported_options_rejected(exact_local, opt):
    r = exact_local.get(f"/api/v1/{DIV}/financial/GLAccounts", params={opt: "1" if opt != "$orderby" else "Code"})
    assert r.status_code == 400


def test_mandatory_filter_and_padded_codes(exact_local):
    r = exact_local.get(f"/api/v1/{DIV}/crm/Accounts", params={"$select": "ID,Code"})
    assert r.status_code == 400
    msg = r.json()["error"]["message"]["value"]
    assert msg.startswith("This endpoint has mandatory filtering applied. A GET request for this endpoint must have "
                          "a $filter parameter with one of the following fields in the url: ")
    assert "Code" in msg and "VATNumber" in msg
    url = f"/api/v1/{DIV}/crm/Accounts"
    assert exact_local.get(url, params={"$filter": "Code eq '1001'"}).json()["d"]["results"] == []
    padded = exact_local.get(url, params={"$filter": f"Code eq '{'1001':>18}'", "$select": "Code,Name"})
    assert [x["Code"] for x in padded.json()["d"]["results"]] == [" " * 14 + "1001"]
    trimmed = exact_local.get(url, params={"$filter": "trim(Code) eq '1001'", "$select": "Code"})
    assert len(trimmed.json()["d"]["results"]) == 1
    tl = exact_local.get(f"/api/v1/{DIV}/financialtransaction/TransactionLines", params={"$select": "ID"})
    assert tl.status_code == 400


def _many_entries(scenario: dict, n: int) -> dict:
    div = scenario["divisions"][0]
    for i in range(n):
        div["entries"].append({"journal": "70", "customer": "1001", "date": "2026-06-01", "your_ref": f"WC-G{i}",
                               "lines": [{"gl": "8000", "amount": "10.00", "vat_code": "2"}]})
    return scenario


def test_paging_skiptoken_and_inlinecount(exact_scenario, exact_clock, exact_make_client):
    from exactsync.sandbox.exact import create_app
    from exactsync.sandbox.server import serve

    app = create_app(_many_entries(exact_scenario, 140), clock=exact_clock)
    server = serve(app)
    try:
        c = exact_make_client(app, server.url)
        url = f"/api/v1/{DIV}/salesentry/SalesEntries?$select=EntryID,YourRef&$filter=Journal eq '70'&$inlinecount=allpages"
        seen, pages = [], 0
        first = c.get(url).json()["d"]
        assert first["__count"] == "150"
        d = first
        while True:
            pages += 1
            assert len(d["results"]) <= 60
            seen += [x["EntryID"] for x in d["results"]]
            if "__next" not in d:
                break
            nxt = d["__next"]
            assert nxt.startswith(server.url + f"/api/v1/{DIV}/salesentry/SalesEntries?")
            assert re.search(r"\$skiptoken=guid'[0-9a-f-]{36}'", nxt)
            assert "$select=EntryID,YourRef" in nxt and "$filter=" in nxt
            d = c.get(nxt).json()["d"]
        assert pages == 3
        assert len(seen) == len(set(seen)) == 150
        assert seen == sorted(seen)
        count = c.get(f"/api/v1/{DIV}/salesentry/SalesEntries/$count")
        assert count.text == "150"
    finally:
        server.stop()


def test_bulk_requires_select_and_pages_by_1000(exact_scenario, exact_clock, exact_make_client):
    from exactsync.sandbox.exact import create_app

    app = create_app(_many_entries(exact_scenario, 400), clock=exact_clock)
    c = exact_make_client(app)
    url = f"/api/v1/{DIV}/bulk/Financial/TransactionLines"
    r = c.get(url)
    assert r.status_code == 400
    assert r.json()["error"]["message"]["value"] == "Please add a $select or a $top=1 statement to the query string."
    d = c.get(url, params={"$select": "ID,EntryID,AmountFC"}).json()["d"]
    assert len(d["results"]) == 1000 and "__next" in d
    rest = c.get(d["__next"]).json()["d"]
    total = len(d["results"]) + len(rest["results"])
    assert total == len(app.divisions[DIV].tl) and "__next" not in rest


def test_sync_paging_by_timestamp_only(exact_scenario, exact_clock, exact_make_client):
    from exactsync.sandbox.exact import create_app

    app = create_app(_many_entries(exact_scenario, 600), clock=exact_clock)
    c = exact_make_client(app)
    url = f"/api/v1/{DIV}/sync/Financial/TransactionLines"
    bad = c.get(url, params={"$filter": "Timestamp gt 1L and JournalCode eq '70'", "$select": "ID"})
    assert bad.status_code == 400
    stamps, ids = [], []
    d = c.get(url, params={"$filter": "Timestamp gt 1L", "$select": "ID,Timestamp,LineNumber"}).json()["d"]
    while True:
        assert len(d["results"]) <= 1000
        stamps += [x["Timestamp"] for x in d["results"]]
        ids += [x["ID"] for x in d["results"]]
        if "__next" not in d:
            break
        assert re.search(r"\$skiptoken=\d+L", d["__next"])
        d = c.get(d["__next"]).json()["d"]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert len(ids) == len(set(ids)) == len(app.divisions[DIV].tl)
    # incremental: nothing newer than the last stamp
    later = c.get(url, params={"$filter": f"Timestamp gt {stamps[-1]}L", "$select": "ID"}).json()["d"]
    assert later["results"] == []


def test_vat_codes_and_reference_endpoints(exact_local):
    r = exact_local.get(f"/api/v1/{DIV}/vat/VATCodes", params={
        "$select": "Code,Percentage,OssCountry,VATTransactionType,IsBlocked,Type,GLToPay,EUSalesListing,VATPercentages",
        "$expand": "VATPercentages", "$filter": "Code eq '2'"})
    (code,) = r.json()["d"]["results"]
    assert code["Percentage"] == 0.21 and code["OssCountry"] is None and code["VATTransactionType"] == "B"
    ranges = code["VATPercentages"]["results"]
    assert [x["Percentage"] for x in ranges] == [0.19, 0.21]
    oss = exact_local.get(f"/api/v1/{DIV}/vat/VATCodes", params={"$filter": "OssCountry eq 'DE'", "$select": "Code"})
    assert [x["Code"] for x in oss.json()["d"]["results"]] == ["DE19"]
    periods = exact_local.get(f"/api/v1/{DIV}/financial/FinancialPeriods", params={"$filter": "FinYear eq 2026"})
    assert len(periods.json()["d"]["results"]) == 12
    status = exact_local.get(f"/api/v1/{DIV}/read/financial/JournalStatusList",
                             params={"$filter": "Journal eq '70' and Status eq 1"}).json()["d"]["results"]
    assert [(x["Year"], x["Period"]) for x in status] == [(2026, 1)]
    divs = exact_local.get(f"/api/v1/{DIV}/system/Divisions").json()["d"]["results"]
    assert [x["Code"] for x in divs] == [123456, 654321]
    gl_other = exact_local.get("/api/v1/654321/financial/GLAccounts", params={"$select": "ID,Code"}).json()["d"]
    gl_main = exact_local.get(f"/api/v1/{DIV}/financial/GLAccounts", params={"$select": "ID,Code"}).json()["d"]
    assert not {x["ID"] for x in gl_other["results"]} & {x["ID"] for x in gl_main["results"]}
    me = exact_local.get("/api/v1/current/Me", params={"$select": "CurrentDivision"}).json()
    assert me["d"]["results"][0]["CurrentDivision"] == DIV
    rights = exact_local.get(f"/api/v1/{DIV}/users/UserHasRights",
                             params={"endpoint": "'salesentry/SalesEntries'", "action": "'POST'"}).json()
    assert rights == {"d": {"UserHasRights": True}}
    recv = exact_local.get(f"/api/v1/{DIV}/cashflow/Receivables", params={"$filter": "YourRef eq 'WC-1002'"})
    (rec,) = recv.json()["d"]["results"]
    assert rec["AmountDC"] == 100.0 and rec["IsFullyPaid"] is False


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_string_literal_roundtrip(text):
    literal = "'" + text.replace("'", "''") + "'"
    pred = compile_filter(f"YourRef eq {literal}", TL.fields, TL.type_name).predicate
    assert pred({"YourRef": text}) is True
    assert pred({"YourRef": text + "x"}) is False
