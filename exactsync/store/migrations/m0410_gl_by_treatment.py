"""G/L accounts mapped per VAT treatment too: ``map_gl_accounts.treatment`` ('' = any).

A revenue account is chosen per treatment in most charts of accounts (domestic sales, intra-EU
supplies under reverse charge, OSS distance sales, exports each on their own account, as the VAT
return and the ICP listing ask), not per country: a German business customer and a German
consumer are two treatments in one country. The key becomes (division, line type, treatment,
tax class, country); every stored row keeps its account under treatment '' (any), so what was
booked before is booked the same.
"""

from __future__ import annotations


def up(con) -> None:
    con.execute("ALTER TABLE map_gl_accounts RENAME TO map_gl_accounts_0400")
    con.execute("""
        CREATE TABLE map_gl_accounts (
            division   INTEGER NOT NULL,
            line_type  VARCHAR NOT NULL,
            treatment  VARCHAR NOT NULL DEFAULT '',
            tax_class  VARCHAR NOT NULL DEFAULT '',
            country    VARCHAR NOT NULL DEFAULT '',
            gl_code    VARCHAR NOT NULL,
            updated_at TIMESTAMP,
            PRIMARY KEY (division, line_type, treatment, tax_class, country)
        )""")
    con.execute("""
        INSERT INTO map_gl_accounts (division, line_type, treatment, tax_class, country, gl_code, updated_at)
        SELECT division, line_type, '', tax_class, country, gl_code, updated_at FROM map_gl_accounts_0400""")
    con.execute("DROP TABLE map_gl_accounts_0400")
