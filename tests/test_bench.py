"""bench/reconcile.py stays a fair comparison: on a small month its DuckDB run and its pandas merge
give the same status counts and the same VAT per country (shop side). Times are printed by the
bench, never asserted here."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_reconcile_bench_agrees_with_its_pandas_baseline():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "reconcile.py"), "5000", "--repeat=1"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "status counts agree:" in out, out
    assert "equal to the cent" in out, out
    counts = [line.split() for line in out.splitlines() if " duckdb " in line and " pandas " in line]
    assert {c[0] for c in counts} >= {"matched", "missing_in_exact", "duplicated_in_exact", "only_in_exact",
                                       "other_period", "amount_differs", "vat_differs", "customer_differs", "draft"}
