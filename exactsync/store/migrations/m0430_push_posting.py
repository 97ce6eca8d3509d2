"""Push jobs remember a POST in flight: ``posting_at`` is committed right before a POST and cleared
by its answer (or its error). A job that still has it was being posted when its run died (a crash,
``kill -9``): the next run looks its reference up over a minute before it posts again
(docs/push.md)."""

from __future__ import annotations


def up(con) -> None:
    con.execute("ALTER TABLE push_jobs ADD COLUMN posting_at TIMESTAMP")
