"""The base of every error exactsync explains to a user, with the CLI exit code it maps to."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExactsyncError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_PARTIAL", "EXIT_BUSY",
           "EXIT_CONFIG", "EXIT_AUTH", "SourceFailure", "exit_code_of"]

EXIT_OK = 0
EXIT_FAILURE = 1  # the job failed; nothing (more) was done
EXIT_USAGE = 2  # wrong command line (click's own code)
EXIT_PARTIAL = 3  # the job ran, but some records/jobs failed (see the sync log)
EXIT_BUSY = 4  # the database stayed locked by another process
EXIT_CONFIG = 5  # settings missing or invalid
EXIT_AUTH = 6  # a connection needs (re)authorisation


class ExactsyncError(Exception):
    """An error with a message meant for the user (no traceback needed); ``exit_code`` overrides
    the class's exit code for this one error (e.g. a job's single failure, told as it is)."""

    exit_code = EXIT_FAILURE

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


@dataclass(frozen=True)
class SourceFailure:
    """A source (a shop, an Exact division) that could not be pulled while the others were."""

    source: str
    message: str
    exit_code: int = EXIT_FAILURE

    @classmethod
    def of(cls, source: str, error: BaseException) -> "SourceFailure":
        from exactsync.redact import redact

        text = str(error) if isinstance(error, ExactsyncError) else f"unexpected error ({type(error).__name__}: {error})"
        return cls(source, redact(text), getattr(error, "exit_code", EXIT_FAILURE))

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "message": self.message, "exit_code": self.exit_code}


def exit_code_of(failures: "list[SourceFailure]", succeeded: int) -> int:
    """The exit code of a job over several sources: 0 when none failed; the failures' own code
    when every source failed alike (5 settings, 6 authorisation, …); else 3 (partial)."""
    if not failures:
        return EXIT_OK
    codes = {f.exit_code for f in failures}
    return codes.pop() if succeeded == 0 and len(codes) == 1 else EXIT_PARTIAL
