"""``shop_rejects``: the shop documents the last pull could not read, so a reconciliation can say why.

A record a connector cannot turn into canonical rows (a total that its lines do not explain, no
country, an unknown tax rate…) is skipped with an error in ``sync_log``; the pull goes on. When its
document can still be named — shop, kind and number, so the YourRef it would be booked under — it
is also kept here, one row per document: an Exact entry with that reference is then "only in Exact"
*because the shop document could not be read*, and the reconciliation says so instead of "no shop
document". A later pull that reads the document, or that sees its order leave the booked statuses,
removes the row.
"""

from __future__ import annotations


def up(con) -> None:
    con.execute("""
        CREATE TABLE shop_rejects (
            doc_key     VARCHAR PRIMARY KEY,
            shop        VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,
            doc_number  VARCHAR NOT NULL,
            order_id    VARCHAR,
            record_key  VARCHAR NOT NULL,
            message     VARCHAR NOT NULL,
            rejected_at TIMESTAMP NOT NULL
        )""")
