"""The per-bucket comparison of a row in the division's currency too (``recon_result_vat.*_dc``).

``shop_base_dc``/``shop_vat_dc``, ``exact_base_dc``/``exact_vat_dc`` and ``delta_base_dc``/
``delta_vat_dc`` beside the document-currency columns (docs/reconcile.md, "Amounts and deltas").
Rows of earlier runs keep them NULL (they were saved without them). Exact entries get the
division-currency sums of their VAT lines in their line summary (``lines_base_dc``,
``lines_vat_dc``; exactsync/store/summaries.py), filled here for the entries already stored.
"""

from exactsync.store.summaries import refresh_entry_summaries

MONEY = "DECIMAL(18,4)"


def up(con) -> None:
    for name in ("lines_base_dc", "lines_vat_dc"):
        con.execute(f"ALTER TABLE exact_entries ADD COLUMN {name} {MONEY}")
    refresh_entry_summaries(con)
    for side in ("shop", "exact", "delta"):
        for amount in ("base", "vat"):
            con.execute(f"ALTER TABLE recon_result_vat ADD COLUMN {side}_{amount}_dc {MONEY}")
