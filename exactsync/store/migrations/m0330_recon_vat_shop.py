"""VAT per country and rate saved per shop too (``recon_vat.shop``).

Several shops may book into one division; the dashboard's shop picker shows one shop's OSS table
as the run saved it. A shop row totals the shop's documents; an Exact row the entries of that
shop's documents (an entry booked in the period for a document of another month counts for that
document's shop; an entry no shop document has, for none: ``shop`` is NULL). Rows of earlier runs
keep ``shop`` NULL (they were saved without it).
"""


def up(con) -> None:
    con.execute("ALTER TABLE recon_vat ADD COLUMN shop VARCHAR")
