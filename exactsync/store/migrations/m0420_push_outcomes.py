"""Push jobs remember a POST that got no answer, when the entry was verified in Exact, and when a
pull found it removed there.

* ``unknown_at``: when a POST of the job went unanswered (a timeout or a cut connection after the
  request was sent). Exact may still commit such a request later, so the job is not posted again
  until a while after it, and always after a look-up (docs/push.md).
* ``verified_at``: when a look-up after the POST showed the entry in Exact under its YourRef (the
  look-up every later run relies on to never post twice).
* ``removed_at``: when an Exact pull that began after the push no longer had the entry (deleted in
  Exact): the planner then pushes the document again as a new job (docs/push.md).
"""

from __future__ import annotations


def up(con) -> None:
    con.execute("ALTER TABLE push_jobs ADD COLUMN unknown_at TIMESTAMP")
    con.execute("ALTER TABLE push_jobs ADD COLUMN verified_at TIMESTAMP")
    con.execute("ALTER TABLE push_jobs ADD COLUMN removed_at TIMESTAMP")
