"""The normalized match reference on every document and entry (see exactsync/store/summaries.py).

``shop_documents.ref_tail``: ``exs_norm_ref([CN-]<doc_number>)``, the part of the document's
YourRef after its shop's prefix (prefixes are settings, so they are joined at reconciliation:
:func:`exactsync.reference.normalized_prefix`); ``exact_entries.ref_norm``: ``exs_norm_ref(your_ref)``.
The store keeps them current with the line summaries; existing rows are filled here.
"""

from exactsync.store.summaries import refresh_entry_summaries, refresh_shop_summaries


def up(con) -> None:
    con.execute("ALTER TABLE shop_documents ADD COLUMN ref_tail VARCHAR")
    con.execute("ALTER TABLE exact_entries ADD COLUMN ref_norm VARCHAR")
    refresh_shop_summaries(con)
    refresh_entry_summaries(con)
