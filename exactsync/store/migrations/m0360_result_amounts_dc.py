"""``recon_result_amounts`` gains the division-currency amounts (``*_dc``) of every row.

Totals over a run then add amounts of one currency: a run's documents come in several currencies
(Magento store views, a second shop), and their document-currency amounts summed together mean
nothing. A slim row is in the division's currency by definition (its amounts are its DC amounts,
its DC deltas zero); the other rows have saved their DC columns since migration 0300. A document
without amounts in the division's currency keeps them NULL: the sums leave it out and count it.
"""

MONEY = "DECIMAL(18,4)"

AMOUNTS_VIEW = f"""
CREATE OR REPLACE VIEW recon_result_amounts AS
SELECT run_id, result_key, doc_key, shop, division, status, cause, shop_net, shop_vat, shop_gross,
       exact_net, exact_vat, exact_gross, delta_net, delta_vat, delta_gross,
       tolerated_net, tolerated_vat, tolerated_gross, entry_count, live_count,
       shop_net_dc, shop_vat_dc, shop_gross_dc, exact_net_dc, exact_vat_dc, exact_gross_dc,
       -- rows saved before engine version 3 gave a document without DC amounts Exact's whole amount
       CASE WHEN NOT (result_key LIKE 'doc:%' AND shop_net_dc IS NULL) THEN delta_net_dc END AS delta_net_dc,
       CASE WHEN NOT (result_key LIKE 'doc:%' AND shop_vat_dc IS NULL) THEN delta_vat_dc END AS delta_vat_dc,
       CASE WHEN NOT (result_key LIKE 'doc:%' AND shop_gross_dc IS NULL) THEN delta_gross_dc END AS delta_gross_dc
FROM recon_result_rows
UNION ALL
SELECT run_id, 'doc:' || doc_key, doc_key, shop, division, 'matched', CAST(NULL AS VARCHAR), net, vat, gross,
       net, vat, gross, CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), CAST(0 AS {MONEY}),
       CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), 1, 1,
       net, vat, gross, net, vat, gross, CAST(0 AS {MONEY}), CAST(0 AS {MONEY}), CAST(0 AS {MONEY})
FROM recon_result_matched
"""


def up(con) -> None:
    con.execute(AMOUNTS_VIEW)
