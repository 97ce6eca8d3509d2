"""The store: migrations, atomic(), bulk upserts, and two OS processes on one file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal

import duckdb
import pytest

from exactsync.store import Store, StoreBusyError
from exactsync.store.migrations import discover


def test_migrations_apply_once_and_are_recorded(tmp_path):
    path = tmp_path / "a.duckdb"
    first = Store(path).migrate()
    assert first == [name for name, _ in discover()]
    assert "0001_canonical" in first
    # A second store on the same file (another process start) applies nothing.
    assert Store(path).migrate() == []
    assert Store.open(path).applied_migrations() == first
    rows = Store(path).rows("SELECT name, applied_at FROM _migrations ORDER BY name")
    assert [r[0] for r in rows] == first and all(r[1] is not None for r in rows)


def test_canonical_money_columns_are_decimal_18_4(store):
    types = dict(
        store.rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'shop_documents'"
        )
    )
    for col in ("net", "vat", "gross", "net_base", "shipping_net"):
        assert types[col] == "DECIMAL(18,4)"
    assert types["created_at"] == "TIMESTAMP"


def test_atomic_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.atomic() as con:
            con.execute("INSERT INTO sync_state (source, scope, cursor) VALUES ('s', '', '1')")
            raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM sync_state") == 0
    with store.atomic() as con:
        Store.set_cursor(con, "s", "", "2", rows=3)
        with store.atomic() as inner:  # nested joins the outer transaction
            Store.set_cursor(inner, "s", "", "3", rows=4)
    assert store.get_cursor("s") == "3"
    assert store.scalar("SELECT rows_total FROM sync_state") == 7


def test_upsert_rows_types_decimals_and_replaces(store):
    row = {"doc_key": "d1", "line_no": 1, "line_type": "goods", "rate": Decimal("21"), "treatment": "domestic",
           "base": Decimal("10.10"), "vat": Decimal("2.121")}
    with store.atomic() as con:
        assert Store.upsert_rows(con, "shop_vat_lines", [row]) == 1
        Store.upsert_rows(con, "shop_vat_lines", [{**row, "vat": Decimal("2.12")}])
    assert store.rows("SELECT base, vat FROM shop_vat_lines") == [(Decimal("10.1000"), Decimal("2.1200"))]


def test_log_event_and_api_call_are_redacted(store):
    from exactsync.settings import Secret

    secret = Secret("cs_0123456789abcdef")
    with store.atomic() as con:
        Store.log_event(con, "shop:x", f"bad record, key {secret.get()}", record_key="42")
        Store.record_api_call(con, system="woocommerce", method="GET",
                              url="https://s/wp-json/wc/v3/orders?consumer_secret=zzz&page=2", status=200, duration_ms=3)
    assert store.scalar("SELECT message FROM sync_log") == "bad record, key ********"
    path = store.scalar("SELECT path FROM api_calls")
    assert "zzz" not in path and "consumer_secret=" in path and "page=2" in path


_READER = textwrap.dedent(
    """
    import sys, time
    from exactsync.store import Store
    store = Store(sys.argv[1], lock_timeout=30)
    with store.read() as con:
        print("reading", flush=True)
        n = con.execute("SELECT count(*) FROM sync_log").fetchall()[0][0]
        time.sleep(float(sys.argv[2]))   # a long read holds the file
    print("read", n, flush=True)
    """
)

_WRITER = textwrap.dedent(
    """
    import sys
    from exactsync.store import Store
    waits = []
    store = Store(sys.argv[1], lock_timeout=30, on_wait=waits.append)
    with store.atomic() as con:
        for i in range(100):
            Store.log_event(con, "writer", f"row {i}", level="info")
    print("wrote", store.scalar("SELECT count(*) FROM sync_log"), "waited", len(waits), flush=True)
    """
)


def test_two_processes_long_read_and_write_both_finish(tmp_path):
    path = tmp_path / "shared.duckdb"
    Store.open(path)
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(path), "2.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "reading"
    writer = subprocess.run([sys.executable, "-c", _WRITER, str(path)], capture_output=True, text=True, timeout=60)
    out_r, err_r = reader.communicate(timeout=60)
    assert reader.returncode == 0, err_r
    assert writer.returncode == 0, writer.stderr
    assert "Traceback" not in writer.stderr + err_r
    assert out_r.strip() == "read 0"
    assert writer.stdout.split()[:2] == ["wrote", "100"]
    assert int(writer.stdout.split()[-1]) >= 1  # it told the user it was waiting
    assert Store(path).scalar("SELECT count(*) FROM sync_log") == 100


def test_busy_database_gives_a_clear_error_not_a_lock_traceback(tmp_path):
    path = tmp_path / "busy.duckdb"
    Store.open(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _READER, str(path), "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "reading"
        messages: list[str] = []
        with pytest.raises(StoreBusyError) as info:
            Store(path, lock_timeout=0.5, on_wait=messages.append).scalar("SELECT 1")
        text = str(info.value)
        assert "in use by process" in text and "try again" in text
        assert not isinstance(info.value, duckdb.Error)
        assert messages and messages[0].startswith("Waiting for the database")
    finally:
        holder.kill()
        holder.communicate()


def test_threads_write_through_one_writer(store):
    import threading

    def work(n):
        for i in range(20):
            with store.atomic() as con:
                Store.log_event(con, f"t{n}", f"row {i}", level="info")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.scalar("SELECT count(*) FROM sync_log") == 80


def _database_before(path, migration: str):
    """A database file with the migrations before ``migration`` applied (and recorded), still open."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    for name, up in discover():
        if name < migration:
            up(con)
            con.execute("INSERT INTO _migrations VALUES (?, now())", [name])
    return con


def test_match_reference_migration_fills_existing_rows(tmp_path):
    """A database from before 0340 gets the normalized references of the rows it already holds."""
    path = tmp_path / "old.duckdb"
    con = _database_before(path, "0340")
    con.execute("INSERT INTO shop_documents (doc_key, shop, source, kind, source_id, doc_number, doc_date, currency, "
                "treatment, net, vat, gross, pulled_at) VALUES ('m:credit_note:0007', 'm', 'magento', 'credit_note', "
                "'7', ' 0007', DATE '2026-10-01', 'EUR', 'domestic', -10, -2.1, -12.1, now())")
    con.execute("INSERT INTO exact_entries (division, entry_id, your_ref) VALUES (1, 'e1', 'm2 - cn-007')")
    con.execute("INSERT INTO exact_vat_lines (division, entry_id, vat_code, gl_account_code, base, vat, base_dc, vat_dc) "
                "VALUES (1, 'e1', '2', '8000', -10, -2.1, -8, -1.68)")
    con.close()
    applied = Store(path).migrate()
    assert "0340_match_refs" in applied and "0350_result_vat_dc" in applied
    store = Store(path)
    assert store.rows("SELECT ref_tail FROM shop_documents") == [("CN-7",)]
    assert store.rows("SELECT ref_norm FROM exact_entries") == [("M2-CN-7",)]
    # 0350: the entry's line summary gets the division-currency sums of its lines
    assert store.rows("SELECT lines_base, lines_base_dc, lines_vat_dc FROM exact_entries") == [
        (Decimal("-10"), Decimal("-8"), Decimal("-1.68"))]


def test_gl_mapping_migration_keeps_every_row_for_any_treatment(tmp_path):
    """A database from before 0410 keeps its G/L accounts, each now for any treatment ('')."""
    path = tmp_path / "old.duckdb"
    con = _database_before(path, "0410")
    con.execute("INSERT INTO map_gl_accounts (division, line_type, tax_class, country, gl_code) VALUES "
                "(1, 'goods', '', '', '8000'), (1, 'goods', 'reduced-rate', 'DE', '8011')")
    con.close()
    assert "0410_gl_by_treatment" in Store(path).migrate()
    store = Store(path)
    assert store.rows("SELECT line_type, treatment, tax_class, country, gl_code FROM map_gl_accounts ORDER BY gl_code") == [
        ("goods", "", "", "", "8000"), ("goods", "", "reduced-rate", "DE", "8011")]
    # the key now holds the treatment: the same line type, tax class and country may differ by it
    store.execute("INSERT INTO map_gl_accounts (division, line_type, treatment, tax_class, country, gl_code) "
                  "VALUES (1, 'goods', 'oss', '', '', '8010')")
    assert store.scalar("SELECT count(*) FROM map_gl_accounts") == 3


def test_version_changes_with_every_commit_of_any_process_and_never_with_a_read(tmp_path):
    """Store.version() keys the dashboard's caches: a commit by another process (a cron pull, a CLI
    ``runs delete``) must change it, reading must not (or every page view would miss the cache)."""
    store = Store.open(tmp_path / "v.duckdb")
    first = store.version()
    assert first[0] is not None
    with store.read() as con:
        con.execute("SELECT count(*) FROM sync_log").fetchall()
    assert store.scalar("SELECT count(*) FROM shop_documents") == 0
    assert store.version() == first

    with store.atomic() as con:
        Store.log_event(con, "test", "one")
    second = store.version()
    assert second != first

    code = ("import sys; from exactsync.store import Store; s = Store(sys.argv[1])\n"
            "with s.atomic() as con: Store.log_event(con, 'test', 'from another process')")
    done = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert store.version() not in (first, second)
    assert store.scalar("SELECT count(*) FROM sync_log WHERE source = 'test'") == 2
    assert Store(tmp_path / "missing.duckdb").version() == (None, None)
