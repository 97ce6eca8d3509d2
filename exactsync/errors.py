"""The base of every error exactsync explains to a user, with the CLI exit code it maps to."""

from __future__ import annotations

__all__ = ["ExactsyncError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_PARTIAL", "EXIT_BUSY",
           "EXIT_CONFIG", "EXIT_AUTH"]

EXIT_OK = 0
EXIT_FAILURE = 1  # the job failed; nothing (more) was done
EXIT_USAGE = 2  # wrong command line (click's own code)
EXIT_PARTIAL = 3  # the job ran, but some records/jobs failed (see the sync log)
EXIT_BUSY = 4  # the database stayed locked by another process
EXIT_CONFIG = 5  # settings missing or invalid
EXIT_AUTH = 6  # a connection needs (re)authorisation


class ExactsyncError(Exception):
    """An error with a message meant for the user (no traceback needed)."""

    exit_code = EXIT_FAILURE
