"""Server time per dashboard page with 1,000,000 shop documents in the store.

Builds a demo month (sandboxes on loopback, pulled and reconciled), then scales the store with SQL
``range()`` to ``--documents`` shop documents (and as many reconciliation results in the run),
and renders every page with Streamlit's AppTest: first view (cold caches) and a second view; the
pages whose queries depend on the sidebar's shop again for one shop. Imports happen once per
server process and are measured apart (warm-up). Prints one line per page; the target is ≤ 2 s
of server time per page.

    .venv/bin/python bench/dashboard.py [--documents 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PAGES = ["overview.py", "differences.py", "vat.py", "push.py", "sync_log.py", "runs.py", "status.py",
         "connections.py", "mappings.py"]
#: pages whose queries change when a shop is picked in the sidebar: measured again for one shop
SHOP_PAGES = ["overview.py", "differences.py", "vat.py"]


def scale(store, documents: int) -> tuple[int, int]:
    """Copy shop documents, their VAT lines and the run's results until ``documents`` exist."""
    with store.read() as con:
        have = con.execute("SELECT count(*) FROM shop_documents").fetchall()[0][0]
    copies = max(0, -(-documents // have) - 1)
    with store.atomic() as con:
        con.execute(f"""
            INSERT INTO shop_vat_lines SELECT l.* REPLACE (l.doc_key || '~' || i AS doc_key)
            FROM shop_vat_lines l, range(1, {copies + 1}) r(i)""")
        con.execute(f"""
            INSERT INTO shop_documents SELECT d.* REPLACE (d.doc_key || '~' || i AS doc_key,
                                                         d.doc_number || '~' || i AS doc_number)
            FROM shop_documents d, range(1, {copies + 1}) r(i)""")
        # the run's rows: differences in full, matched documents slim (recon_results is a view of both)
        con.execute(f"""
            INSERT INTO recon_result_rows SELECT x.* REPLACE (x.result_key || '~' || i AS result_key,
                                                            x.doc_key || '~' || i AS doc_key)
            FROM recon_result_rows x, range(1, {copies + 1}) r(i) WHERE x.doc_key IS NOT NULL""")
        con.execute(f"""
            INSERT INTO recon_result_matched SELECT m.* REPLACE (m.doc_key || '~' || i AS doc_key)
            FROM recon_result_matched m, range(1, {copies + 1}) r(i)""")
        docs = con.execute("SELECT count(*) FROM shop_documents").fetchall()[0][0]
        results = con.execute("SELECT count(*) FROM recon_results").fetchall()[0][0]
    return docs, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=2000, help="orders in the generated demo month")
    ap.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    args = ap.parse_args()

    from demo_support import prepare_demo
    from streamlit.testing.v1 import AppTest

    work = args.keep or Path(tempfile.mkdtemp(prefix="exactsync-bench-dashboard-"))
    t0 = time.perf_counter()
    month = prepare_demo(work, orders=args.orders)
    try:
        docs, results = scale(month.store(), args.documents)
        import logging

        logging.getLogger("streamlit").setLevel(logging.ERROR)  # "No runtime found" noise
        print(f"store: {docs:,} shop documents, {results:,} results in the run "
              f"(built in {time.perf_counter() - t0:.1f} s) at {month.settings.store.path}")
        from exactsync import views

        store = month.store()
        run = views.latest_run_info(store)
        selection = views.pushable_keys(store, run["run_id"], views.DiffFilters(statuses=("missing_in_exact",)))[:50]
        os.environ["EXACTSYNC_CONFIG"] = str(month.config)
        os.chdir(ROOT)
        # a server imports Streamlit's runtime, Plotly, pandas/pyarrow once per process, not per page:
        # one throw-away render of a small page first, so the figures below are per-page server time
        start = time.perf_counter()
        AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).switch_page("pages/status.py").run()
        import plotly.express  # noqa: F401 - the Overview's first chart would otherwise pay the import

        print(f"process warm-up (imports, not counted): {time.perf_counter() - start:.2f} s")
        print(f"{'page':<28}{'first view':>12}{'again':>10}")
        worst = 0.0
        shop = next(iter(month.settings.shops))
        for page, picked_shop in [(p, None) for p in PAGES] + [(p, shop) for p in SHOP_PAGES]:
            from streamlit import cache_data

            cache_data.clear()
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            if page == "push.py":  # a page of differences selected for pushing
                at.session_state["push_selection"] = set(selection)
            if picked_shop:
                at.session_state["shop"] = picked_shop
            times = []
            start = time.perf_counter()
            at.run()  # a user arriving: chrome (sidebar pickers) + the Overview
            if page == "overview.py":
                times.append(time.perf_counter() - start)
            for _ in range(2 if page != "overview.py" else 1):
                start = time.perf_counter()
                if page == "overview.py":
                    at.run()
                else:
                    at.switch_page(f"pages/{page}").run()
                times.append(time.perf_counter() - start)
            problem = f"  EXCEPTION {at.exception[0].value[:80]}" if at.exception else ""
            worst = max(worst, times[0])
            errors = [e.value for e in at.error]
            if errors:
                problem += f"  ERROR {errors[0][:80]}"
            name = f"{page} ({picked_shop})" if picked_shop else page
            print(f"{name:<28}{times[0]:>10.2f} s{times[1]:>8.2f} s{problem}")
        print(f"slowest first view: {worst:.2f} s (target ≤ 2 s)")
    finally:
        month.stop()
        if args.keep is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
