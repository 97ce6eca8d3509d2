"""Reconciliation results in two tables behind one view, so a run of a million documents saves fast.

Most documents of a month match their one Exact entry. Saving all of their columns again for every
run cost more than the reconciliation itself, so a run now saves:

* ``recon_result_rows`` — every row that is not a plain match (a difference, a match within
  tolerance, a match through a reversed pair, an Exact-only row, foreign-currency rows), with all
  columns, exactly as ``recon_results`` had them;
* ``recon_result_matched`` — a *slim* row per matched document with one entry, in the division's
  currency: its key, shop, division, the entry id and amounts (shop = Exact; deltas are zero by
  definition). The two key columns are stored uncompressed: they are
  unique, and analysing them for compression cost more than writing them.

``recon_results`` becomes a view over both (``recon_result_amounts``: the same rows with only the
saved columns, no joins, for totals over a whole run): slim rows get the document's number, kind, date,
currency (= the division's currency, or the row would not be slim), VAT country and treatment from
``shop_documents`` and the entry's YourRef, number and date from ``exact_entries``: what identifies
a document or a processed entry does not change; a later pull that changes a document's country
shows in a reopened run's matched rows (its amounts, status and the run's VAT table stay as saved). Every reader keeps reading
``recon_results``; rows of earlier runs move to ``recon_result_rows`` unchanged.
"""

MONEY = "DECIMAL(18,4)"

VIEW = f"""
CREATE OR REPLACE VIEW recon_results AS
SELECT * FROM recon_result_rows
UNION ALL BY NAME
SELECT m.run_id, 'doc:' || m.doc_key AS result_key, m.doc_key, m.shop, d.kind, d.doc_number, d.doc_date,
       m.division, e.your_ref, [m.entry_id] AS entry_ids, [e.entry_number] AS entry_numbers, e.entry_date,
       'matched' AS status, CAST(NULL AS VARCHAR) AS cause, CAST([] AS VARCHAR[]) AS flags,
       CAST(NULL AS VARCHAR) AS detail, d.currency, d.currency AS exact_currency, d.currency AS division_currency,
       CASE upper(trim(d.vat_country)) WHEN 'EL' THEN 'GR' WHEN 'UK' THEN 'GB'
            ELSE nullif(upper(trim(d.vat_country)), '') END AS vat_country, d.treatment,
       m.net AS shop_net, m.vat AS shop_vat, m.gross AS shop_gross,
       m.net AS exact_net, m.vat AS exact_vat, m.gross AS exact_gross,
       CAST(0 AS {MONEY}) AS delta_net, CAST(0 AS {MONEY}) AS delta_vat, CAST(0 AS {MONEY}) AS delta_gross,
       m.net AS shop_net_dc, m.vat AS shop_vat_dc, m.gross AS shop_gross_dc,
       m.net AS exact_net_dc, m.vat AS exact_vat_dc, m.gross AS exact_gross_dc,
       CAST(0 AS {MONEY}) AS delta_net_dc, CAST(0 AS {MONEY}) AS delta_vat_dc, CAST(0 AS {MONEY}) AS delta_gross_dc,
       CAST(0 AS {MONEY}) AS tolerated_net, CAST(0 AS {MONEY}) AS tolerated_vat, CAST(0 AS {MONEY}) AS tolerated_gross,
       1 AS entry_count, 1 AS live_count
FROM recon_result_matched m
LEFT JOIN shop_documents d ON d.doc_key = m.doc_key
LEFT JOIN exact_entries e ON e.division = m.division AND e.entry_id = m.entry_id
"""

#: the same rows with only what is saved in both tables (no joins): for totals over a whole run
AMOUNTS_VIEW = f"""
CREATE OR REPLACE VIEW recon_result_amounts AS
SELECT run_id, result_key, doc_key, shop, division, status, cause, shop_net, shop_vat, shop_gross,
       exact_net, exact_vat, exact_gross, delta_net, delta_vat, delta_gross,
       tolerated_net, tolerated_vat, tolerated_gross, entry_count, live_count
FROM recon_result_rows
UNION ALL
SELECT run_id, 'doc:' || doc_key, doc_key, shop, division, 'matched', CAST(NULL AS VARCHAR), net, vat, gross,
       net, vat, gross, CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), CAST(0 AS {MONEY}),
       CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), 1, 1
FROM recon_result_matched
"""


def up(con) -> None:
    con.execute("CREATE TABLE recon_result_rows AS SELECT * FROM recon_results LIMIT 0")
    con.execute("INSERT INTO recon_result_rows SELECT * FROM recon_results")
    con.execute("DROP INDEX IF EXISTS recon_results_run")
    con.execute("DROP TABLE recon_results")
    # no indexes on the result tables: rows of one run are written together (and run ids sort by
    # time), so DuckDB's min/max zone maps find them; an ART index cost more at every commit
    con.execute("DROP INDEX IF EXISTS recon_result_vat_key")
    con.execute(f"""
        CREATE TABLE recon_result_matched (
            run_id            VARCHAR NOT NULL,
            doc_key           VARCHAR NOT NULL USING COMPRESSION uncompressed,
            shop              VARCHAR,
            division          INTEGER,
            entry_id          VARCHAR NOT NULL USING COMPRESSION uncompressed,
            net               {MONEY},
            vat               {MONEY},
            gross             {MONEY}
        )""")
    con.execute(VIEW)
    con.execute(AMOUNTS_VIEW)
