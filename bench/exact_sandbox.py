"""Exact sandbox at volume: load a 25,000-entry division, then page sync/bulk/filtered reads.

Prints figures only (nothing is asserted). Run: .venv/bin/python bench/exact_sandbox.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2

from exactsync.sandbox.exact import create_app

SMALL = Path(__file__).resolve().parent.parent / "tests" / "sandbox" / "data" / "exact_small.json"
DIV = 123456


def scenario(n_entries: int) -> dict:
    sc = json.loads(SMALL.read_text(encoding="utf-8"))
    div = sc["divisions"][0]
    codes = ["2", "1", "DE19", "BE21", "FR20"]
    entries = []
    for i in range(n_entries):
        code = codes[i % len(codes)]
        gl = "8000" if code in ("2", "1") else "8010"
        entries.append({
            "journal": "70", "customer": "1001" if gl == "8000" else "1002", "date": f"2026-{2 + i % 11:02d}-15",
            "your_ref": f"WC-{100000 + i}", "status": 50 if i % 3 == 0 else 20,
            "lines": [{"gl": gl, "amount": f"{10 + i % 90}.{i % 100:02d}", "vat_code": code},
                      {"gl": "8100" if gl == "8000" else gl, "amount": "4.95", "vat_code": code}],
        })
    div["entries"] = entries
    sc["limits"] = {"minutely": 10**9, "daily": 10**9}
    return sc


def main() -> None:
    sc = scenario(25_000)
    t0 = time.perf_counter()
    app = create_app(sc)
    load = time.perf_counter() - t0
    div = app.divisions[DIV]
    print(f"load 25,000 entries: {load:.2f} s, {len(div.tl):,} transaction lines")
    token = app.issue_tokens()["access_token"]
    c = httpx2.Client(transport=app.transport(), base_url="https://start.exactonline.nl",
                      headers={"Authorization": f"Bearer {token}"})

    t0 = time.perf_counter()
    pages = rows = 0
    url: str | None = f"/api/v1/{DIV}/sync/Financial/TransactionLines?$filter=Timestamp gt 1L"
    while url:
        d = c.get(url).json()["d"]
        pages += 1
        rows += len(d["results"])
        url = d.get("__next")
    dt_sync = time.perf_counter() - t0
    print(f"sync TransactionLines: {rows:,} rows in {pages} pages, {dt_sync:.2f} s ({dt_sync / pages * 1000:.0f} ms/page)")

    t0 = time.perf_counter()
    d = c.get(f"/api/v1/{DIV}/sync/Financial/TransactionLines",
              params={"$filter": f"Timestamp gt {div._ts - 500}L"}).json()["d"]
    print(f"sync tail page ({len(d['results'])} rows): {(time.perf_counter() - t0) * 1000:.1f} ms")

    t0 = time.perf_counter()
    pages = 0
    url = f"/api/v1/{DIV}/bulk/Financial/TransactionLines?$select=ID,EntryID,AmountFC,VATCode"
    while url:
        d = c.get(url).json()["d"]
        pages += 1
        url = d.get("__next")
    print(f"bulk TransactionLines: {pages} pages, {time.perf_counter() - t0:.2f} s")

    refs = " or ".join(f"YourRef eq 'WC-{100000 + i}'" for i in range(0, 4000, 100))
    t0 = time.perf_counter()
    d = c.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$filter": refs, "$select": "EntryID,YourRef"}).json()
    print(f"SalesEntries by 40 YourRefs: {len(d['d']['results'])} rows, {(time.perf_counter() - t0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
