"""The canonical tables of DESIGN.md (see docs/store.md for every column).

Money DECIMAL(18,4) in sales sign (credit notes negative); ``*_at`` naive UTC TIMESTAMP.
"""

MONEY = "DECIMAL(18,4)"


def up(con) -> None:
    con.execute(f"""
        CREATE TABLE shop_documents (
            doc_key         VARCHAR PRIMARY KEY,
            shop            VARCHAR NOT NULL,
            source          VARCHAR NOT NULL,
            kind            VARCHAR NOT NULL,
            source_id       VARCHAR NOT NULL,
            doc_number      VARCHAR NOT NULL,
            order_id        VARCHAR,
            order_number    VARCHAR,
            doc_date        DATE NOT NULL,
            created_at      TIMESTAMP,
            modified_at     TIMESTAMP,
            currency        VARCHAR NOT NULL,
            base_currency   VARCHAR,
            fx_rate         DECIMAL(18,8),
            customer_ref    VARCHAR,
            customer_name   VARCHAR,
            customer_email  VARCHAR,
            company         VARCHAR,
            billing_country VARCHAR,
            ship_country    VARCHAR,
            vat_country     VARCHAR,
            vat_number      VARCHAR,
            treatment       VARCHAR NOT NULL,
            net             {MONEY} NOT NULL,
            vat             {MONEY} NOT NULL,
            gross           {MONEY} NOT NULL,
            net_base        {MONEY},
            vat_base        {MONEY},
            gross_base      {MONEY},
            shipping_net    {MONEY},
            discount_net    {MONEY},
            status          VARCHAR,
            pulled_at       TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX shop_documents_shop_date ON shop_documents (shop, doc_date)")
    con.execute(f"""
        CREATE TABLE shop_vat_lines (
            doc_key   VARCHAR NOT NULL,
            line_no   INTEGER NOT NULL,
            line_type VARCHAR NOT NULL,
            tax_class VARCHAR,
            country   VARCHAR,
            rate      DECIMAL(7,4) NOT NULL,
            treatment VARCHAR NOT NULL,
            base      {MONEY} NOT NULL,
            vat       {MONEY} NOT NULL,
            PRIMARY KEY (doc_key, line_no)
        )""")

    # ---- Exact reference data (per division) ----
    con.execute("""
        CREATE TABLE exact_divisions (
            division    INTEGER PRIMARY KEY,
            description VARCHAR,
            currency    VARCHAR,
            country     VARCHAR,
            vat_number  VARCHAR,
            status      INTEGER,
            pulled_at   TIMESTAMP
        )""")
    con.execute("""
        CREATE TABLE exact_accounts (
            division       INTEGER NOT NULL,
            account_id     VARCHAR NOT NULL,
            code           VARCHAR,
            name           VARCHAR,
            email          VARCHAR,
            country        VARCHAR,
            vat_number     VARCHAR,
            status         VARCHAR,
            blocked        BOOLEAN,
            sales_vat_code VARCHAR,
            modified_at    TIMESTAMP,
            pulled_at      TIMESTAMP,
            PRIMARY KEY (division, account_id)
        )""")
    con.execute("""
        CREATE TABLE exact_vat_codes (
            division             INTEGER NOT NULL,
            code                 VARCHAR NOT NULL,
            vat_code_id          VARCHAR,
            description          VARCHAR,
            percentage           DECIMAL(7,4),
            type                 VARCHAR,
            vat_transaction_type VARCHAR,
            oss_country          VARCHAR,
            eu_sales_listing     VARCHAR,
            is_blocked           BOOLEAN,
            gl_to_pay            VARCHAR,
            pulled_at            TIMESTAMP,
            PRIMARY KEY (division, code)
        )""")
    con.execute("""
        CREATE TABLE exact_gl_accounts (
            division     INTEGER NOT NULL,
            gl_id        VARCHAR NOT NULL,
            code         VARCHAR,
            description  VARCHAR,
            type         INTEGER,
            balance_type VARCHAR,
            vat_code     VARCHAR,
            is_blocked   BOOLEAN,
            pulled_at    TIMESTAMP,
            PRIMARY KEY (division, gl_id)
        )""")
    con.execute("""
        CREATE TABLE exact_journals (
            division                INTEGER NOT NULL,
            code                    VARCHAR NOT NULL,
            journal_id              VARCHAR,
            description             VARCHAR,
            type                    INTEGER,
            currency                VARCHAR,
            allow_variable_currency BOOLEAN,
            is_blocked              BOOLEAN,
            pulled_at               TIMESTAMP,
            PRIMARY KEY (division, code)
        )""")
    con.execute("""
        CREATE TABLE exact_periods (
            division   INTEGER NOT NULL,
            fin_year   INTEGER NOT NULL,
            fin_period INTEGER NOT NULL,
            start_date DATE,
            end_date   DATE,
            PRIMARY KEY (division, fin_year, fin_period)
        )""")
    con.execute("""
        CREATE TABLE exact_journal_status (
            division     INTEGER NOT NULL,
            journal_code VARCHAR NOT NULL,
            fin_year     INTEGER NOT NULL,
            fin_period   INTEGER NOT NULL,
            status       INTEGER NOT NULL,
            PRIMARY KEY (division, journal_code, fin_year, fin_period)
        )""")

    # ---- Exact booked data ----
    con.execute(f"""
        CREATE TABLE exact_transaction_lines (
            division        INTEGER NOT NULL,
            line_id         VARCHAR NOT NULL,
            entry_id        VARCHAR NOT NULL,
            entry_number    INTEGER,
            line_number     INTEGER,
            type            INTEGER,
            journal_code    VARCHAR,
            entry_date      DATE,
            fin_year        INTEGER,
            fin_period      INTEGER,
            account_id      VARCHAR,
            account_code    VARCHAR,
            gl_account_id   VARCHAR,
            gl_account_code VARCHAR,
            amount_fc       {MONEY},
            amount_dc       {MONEY},
            vat_amount_fc   {MONEY},
            vat_base_fc     {MONEY},
            vat_code        VARCHAR,
            vat_percentage  DECIMAL(7,4),
            currency        VARCHAR,
            exchange_rate   DECIMAL(18,8),
            description     VARCHAR,
            your_ref        VARCHAR,
            invoice_number  INTEGER,
            status          INTEGER,
            timestamp       BIGINT,
            modified_at     TIMESTAMP,
            pulled_at       TIMESTAMP,
            PRIMARY KEY (division, line_id)
        )""")
    con.execute("CREATE INDEX exact_transaction_lines_entry ON exact_transaction_lines (division, entry_id)")
    con.execute(f"""
        CREATE TABLE exact_entries (
            division      INTEGER NOT NULL,
            entry_id      VARCHAR NOT NULL,
            journal_code  VARCHAR,
            entry_number  INTEGER,
            your_ref      VARCHAR,
            description   VARCHAR,
            entry_date    DATE,
            fin_year      INTEGER,
            fin_period    INTEGER,
            currency      VARCHAR,
            fx_rate       DECIMAL(18,8),
            customer_id   VARCHAR,
            customer_code VARCHAR,
            customer_name VARCHAR,
            net           {MONEY},
            vat           {MONEY},
            gross         {MONEY},
            net_dc        {MONEY},
            vat_dc        {MONEY},
            gross_dc      {MONEY},
            status        INTEGER,
            type          INTEGER,
            line_count    INTEGER,
            modified_at   TIMESTAMP,
            pulled_at     TIMESTAMP,
            PRIMARY KEY (division, entry_id)
        )""")
    con.execute("CREATE INDEX exact_entries_ref ON exact_entries (division, your_ref)")
    con.execute(f"""
        CREATE TABLE exact_vat_lines (
            division        INTEGER NOT NULL,
            entry_id        VARCHAR NOT NULL,
            vat_code        VARCHAR NOT NULL,
            gl_account_code VARCHAR NOT NULL,
            base            {MONEY} NOT NULL,
            vat             {MONEY} NOT NULL,
            base_dc         {MONEY},
            vat_dc          {MONEY},
            vat_percentage  DECIMAL(7,4),
            PRIMARY KEY (division, entry_id, vat_code, gl_account_code)
        )""")

    # ---- operations ----
    con.execute("""
        CREATE TABLE sync_state (
            source          VARCHAR NOT NULL,
            scope           VARCHAR NOT NULL,
            cursor          VARCHAR,
            last_success_at TIMESTAMP,
            last_attempt_at TIMESTAMP,
            rows_total      BIGINT DEFAULT 0,
            detail          VARCHAR,
            PRIMARY KEY (source, scope)
        )""")
    con.execute("CREATE SEQUENCE sync_log_seq")
    con.execute("""
        CREATE TABLE sync_log (
            log_id     BIGINT PRIMARY KEY DEFAULT nextval('sync_log_seq'),
            logged_at  TIMESTAMP NOT NULL,
            run_id     VARCHAR,
            source     VARCHAR NOT NULL,
            level      VARCHAR NOT NULL,
            record_key VARCHAR,
            message    VARCHAR NOT NULL,
            detail     VARCHAR
        )""")
    con.execute("CREATE SEQUENCE api_calls_seq")
    con.execute("""
        CREATE TABLE api_calls (
            call_id                 BIGINT PRIMARY KEY DEFAULT nextval('api_calls_seq'),
            called_at               TIMESTAMP NOT NULL,
            system                  VARCHAR NOT NULL,
            scope                   VARCHAR,
            method                  VARCHAR NOT NULL,
            path                    VARCHAR NOT NULL,
            status                  INTEGER,
            duration_ms             INTEGER,
            rate_remaining          INTEGER,
            rate_minutely_remaining INTEGER,
            error                   VARCHAR
        )""")
