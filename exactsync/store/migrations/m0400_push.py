"""Push mappings and the push job queue (see docs/push.md).

Mappings are per Exact division; an empty string in a key column means "any" (the fallback).
``push_jobs`` is the ledger of intended writes to Exact: a row is committed as Queued before its
POST, so a crash never loses the fact that a write may have happened.
"""

MONEY = "DECIMAL(18,4)"


def up(con) -> None:
    con.execute("""
        CREATE TABLE push_settings (
            division        INTEGER PRIMARY KEY,
            journal_code    VARCHAR NOT NULL,
            debtor_strategy VARCHAR NOT NULL DEFAULT 'collective',
            create_debtors  BOOLEAN NOT NULL DEFAULT FALSE,
            updated_at      TIMESTAMP
        )""")
    con.execute("""
        CREATE TABLE map_vat_codes (
            division   INTEGER NOT NULL,
            country    VARCHAR NOT NULL DEFAULT '',
            rate       DECIMAL(7,4) NOT NULL,
            treatment  VARCHAR NOT NULL,
            vat_code   VARCHAR NOT NULL,
            updated_at TIMESTAMP,
            PRIMARY KEY (division, country, rate, treatment)
        )""")
    con.execute("""
        CREATE TABLE map_gl_accounts (
            division   INTEGER NOT NULL,
            line_type  VARCHAR NOT NULL,
            tax_class  VARCHAR NOT NULL DEFAULT '',
            country    VARCHAR NOT NULL DEFAULT '',
            gl_code    VARCHAR NOT NULL,
            updated_at TIMESTAMP,
            PRIMARY KEY (division, line_type, tax_class, country)
        )""")
    con.execute("""
        CREATE TABLE map_cost_centers (
            division    INTEGER NOT NULL,
            country     VARCHAR NOT NULL DEFAULT '',
            cost_center VARCHAR NOT NULL,
            updated_at  TIMESTAMP,
            PRIMARY KEY (division, country)
        )""")
    con.execute("""
        CREATE TABLE map_debtors (
            division     INTEGER NOT NULL,
            country      VARCHAR NOT NULL DEFAULT '',
            account_code VARCHAR NOT NULL,
            updated_at   TIMESTAMP,
            PRIMARY KEY (division, country)
        )""")
    con.execute("""
        CREATE TABLE push_debtors (
            division     INTEGER NOT NULL,
            match_key    VARCHAR NOT NULL,
            account_id   VARCHAR NOT NULL,
            account_code VARCHAR,
            created      BOOLEAN NOT NULL DEFAULT FALSE,
            created_at   TIMESTAMP,
            PRIMARY KEY (division, match_key)
        )""")
    con.execute(f"""
        CREATE TABLE push_jobs (
            job_id              VARCHAR PRIMARY KEY,
            plan_id             VARCHAR,
            doc_key             VARCHAR,
            shop                VARCHAR,
            run_id              VARCHAR,
            result_key          VARCHAR,
            kind                VARCHAR NOT NULL,
            reverses_entry_id   VARCHAR,
            reverses_entry_number INTEGER,
            pair_job_id         VARCHAR,
            division            INTEGER NOT NULL,
            journal_code        VARCHAR NOT NULL,
            your_ref            VARCHAR NOT NULL,
            description         VARCHAR,
            entry_date          DATE,
            fin_year            INTEGER,
            fin_period          INTEGER,
            net                 {MONEY},
            vat                 {MONEY},
            payload             VARCHAR NOT NULL,
            payload_hash        VARCHAR NOT NULL,
            status              VARCHAR NOT NULL,
            attempts            INTEGER NOT NULL DEFAULT 0,
            last_error          VARCHAR,
            claimed_by          VARCHAR,
            exact_entry_id      VARCHAR,
            exact_entry_number  INTEGER,
            found_existing      BOOLEAN,
            created_at          TIMESTAMP NOT NULL,
            queued_at           TIMESTAMP,
            synced_at           TIMESTAMP,
            updated_at          TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE INDEX push_jobs_status ON push_jobs (status)")
    con.execute("CREATE INDEX push_jobs_ref ON push_jobs (division, your_ref)")
