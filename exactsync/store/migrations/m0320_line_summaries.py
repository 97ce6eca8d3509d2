"""Line summaries on ``shop_documents`` and ``exact_entries`` (see exactsync/store/summaries.py).

Each document and each entry keeps what its VAT lines add up to, and their bucket when they all
fall in one, so the reconciliation reads VAT lines only where a row has several buckets.
Existing rows are summarized here; the store keeps them current from now on.
"""

from exactsync.store.summaries import refresh_entry_summaries, refresh_shop_summaries

MONEY = "DECIMAL(18,4)"


def up(con) -> None:
    for table, extra in (("shop_documents", [("lines_treatment", "VARCHAR"), ("lines_country", "VARCHAR")]),
                         ("exact_entries", [("lines_code", "VARCHAR")])):
        columns = [("lines_n", "INTEGER"), ("lines_single", "BOOLEAN"), *extra, ("lines_rate", "DECIMAL(7,4)"),
                   ("lines_base", MONEY), ("lines_vat", MONEY)]
        for name, kind in columns:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    refresh_shop_summaries(con)  # only the columns that exist now: the match references come with 0340
    refresh_entry_summaries(con)
