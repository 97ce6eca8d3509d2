"""DiffFilters.result_keys: a run's differences for a chosen set of results (push reads its
selection through it)."""

from __future__ import annotations

from recon_world import D, World, nl

from exactsync.reconcile import DiffFilters, count_differences, differences, run_reconciliation


def test_differences_of_chosen_result_keys(store):
    w = World()
    w.book(w.doc(1, "2026-10-01"))  # matched
    w.doc(2, "2026-10-02")  # missing
    w.doc(3, "2026-10-03")  # missing
    w.doc(4, "2026-10-04", [nl("50")])
    w.entry("WC-4", "2026-10-04", [("2", D(40), D("8.40"))])  # amount differs
    w.write(store)
    run = run_reconciliation(store, w.settings(), "2026-10")
    everything = differences(store, run.run_id, DiffFilters(include_ok=True), limit=100)
    keys = {r["doc_key"]: r["result_key"] for r in everything.iter_rows(named=True) if r["doc_key"]}
    chosen = [keys[k] for k in sorted(keys) if k.endswith((":2", ":4", ":1"))]
    assert len(chosen) == 3
    frame = differences(store, run.run_id, DiffFilters(result_keys=chosen), limit=100)
    # the matched one is chosen but not a difference: the status filter still applies
    assert sorted(frame["status"].to_list()) == ["amount_differs", "missing_in_exact"]
    assert set(frame["result_key"].to_list()) < set(chosen)
    f = DiffFilters(result_keys=chosen, statuses=["missing_in_exact"])
    assert differences(store, run.run_id, f, limit=100)["result_key"].to_list() == [keys[k] for k in keys
                                                                                    if k.endswith(":2")]
    assert count_differences(store, run.run_id, f) == 1
    assert count_differences(store, run.run_id, DiffFilters(result_keys=chosen, include_ok=True)) == 3
    assert count_differences(store, run.run_id, DiffFilters(result_keys=["doc:nothing"])) == 0
