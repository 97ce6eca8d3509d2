"""Reconciliation: saved runs and their results, VAT per country, the VAT code mapping.

* ``vat_code_map`` — optional overrides of how an Exact VAT code is read for reconciliation
  (country, rate in percent, treatment); without a row the code is read from ``exact_vat_codes``.
* ``recon_runs`` — one row per run: parameters, summary, engine version.
* ``recon_results`` — one row per shop document of the period and per Exact-only reference.
* ``recon_result_vat`` — per result with a difference: shop vs Exact per (treatment, country, rate).
* ``recon_vat`` — VAT per country and rate, shop vs Exact, in the shape of the OSS return.
* ``recon_vat_map`` — the VAT code reading each run used (so a reopened run shows it as it was).
"""

MONEY = "DECIMAL(18,4)"


def up(con) -> None:
    con.execute("""
        CREATE TABLE vat_code_map (
            division  INTEGER NOT NULL,
            vat_code  VARCHAR NOT NULL,
            country   VARCHAR,
            rate      DECIMAL(7,4),
            treatment VARCHAR NOT NULL,
            note      VARCHAR,
            PRIMARY KEY (division, vat_code)
        )""")
    con.execute("""
        CREATE TABLE recon_runs (
            run_id         VARCHAR PRIMARY KEY,
            created_at     TIMESTAMP NOT NULL,
            period         VARCHAR NOT NULL,
            divisions      INTEGER[],
            shops          VARCHAR[],
            tolerance      JSON,
            params         JSON,
            summary        JSON,
            engine_version VARCHAR NOT NULL,
            duration_ms    INTEGER
        )""")
    con.execute("CREATE INDEX recon_runs_created ON recon_runs (created_at)")
    con.execute(f"""
        CREATE TABLE recon_results (
            run_id           VARCHAR NOT NULL,
            result_key       VARCHAR NOT NULL,
            doc_key          VARCHAR,
            shop             VARCHAR,
            kind             VARCHAR,
            doc_number       VARCHAR,
            doc_date         DATE,
            division         INTEGER,
            your_ref         VARCHAR,
            entry_ids        VARCHAR[],
            entry_numbers    INTEGER[],
            entry_date       DATE,
            status           VARCHAR NOT NULL,
            cause            VARCHAR,
            flags            VARCHAR[],
            detail           VARCHAR,
            currency         VARCHAR,
            exact_currency   VARCHAR,
            division_currency VARCHAR,
            vat_country      VARCHAR,
            treatment        VARCHAR,
            shop_net         {MONEY},
            shop_vat         {MONEY},
            shop_gross       {MONEY},
            exact_net        {MONEY},
            exact_vat        {MONEY},
            exact_gross      {MONEY},
            delta_net        {MONEY},
            delta_vat        {MONEY},
            delta_gross      {MONEY},
            shop_net_dc      {MONEY},
            shop_vat_dc      {MONEY},
            shop_gross_dc    {MONEY},
            exact_net_dc     {MONEY},
            exact_vat_dc     {MONEY},
            exact_gross_dc   {MONEY},
            delta_net_dc     {MONEY},
            delta_vat_dc     {MONEY},
            delta_gross_dc   {MONEY},
            tolerated_net    {MONEY},
            tolerated_vat    {MONEY},
            tolerated_gross  {MONEY},
            entry_count      INTEGER,
            live_count       INTEGER
        )""")
    # no primary key: (run_id, result_key) is unique by construction (tested), and an index on a
    # million string keys per run would cost more than the reconciliation itself
    con.execute("CREATE INDEX recon_results_run ON recon_results (run_id)")
    con.execute(f"""
        CREATE TABLE recon_result_vat (
            run_id      VARCHAR NOT NULL,
            result_key  VARCHAR NOT NULL,
            treatment   VARCHAR NOT NULL,
            country     VARCHAR,
            rate        DECIMAL(7,4),
            shop_base   {MONEY},
            shop_vat    {MONEY},
            exact_base  {MONEY},
            exact_vat   {MONEY},
            delta_base  {MONEY},
            delta_vat   {MONEY}
        )""")
    con.execute("CREATE INDEX recon_result_vat_key ON recon_result_vat (run_id, result_key)")
    con.execute(f"""
        CREATE TABLE recon_vat (
            run_id    VARCHAR NOT NULL,
            scope     VARCHAR NOT NULL,
            division  INTEGER,
            currency  VARCHAR,
            treatment VARCHAR NOT NULL,
            country   VARCHAR,
            rate      DECIMAL(7,4),
            base      {MONEY} NOT NULL,
            vat       {MONEY} NOT NULL,
            documents BIGINT NOT NULL
        )""")
    con.execute("CREATE INDEX recon_vat_run ON recon_vat (run_id)")
    con.execute("""
        CREATE TABLE recon_vat_map (
            run_id    VARCHAR NOT NULL,
            division  INTEGER NOT NULL,
            vat_code  VARCHAR NOT NULL,
            country   VARCHAR,
            rate      DECIMAL(7,4),
            treatment VARCHAR NOT NULL,
            source    VARCHAR NOT NULL,
            PRIMARY KEY (run_id, division, vat_code)
        )""")
