"""Every error a user can catch, in one tree; each names where the problem is and what
was expected, in one line.

    PromiselineError            a problem the user can act on
    ├── ScenarioError           a scenario (file, text, patch) that breaks SCENARIO.md
    ├── OrderBookError          an order-book file that cannot be read at all
    ├── OrderError              an order or quote for something the scenario lacks
    ├── UnknownOrderError       an order id that is not in the plan (also a KeyError)
    ├── QuoteError              a booking that is not at the back of the queue
    ├── SizingError             a sizing target that cannot be read
    ├── StudyTooLargeError      a sizing or allocation over its size bounds (nothing built)
    ├── TransitionError         an order's status forbids the change asked for
    ├── ProgressError           a progress file with wrong rows (nothing was written)
    ├── RecordError             a record to fit from (output, receipts) with wrong rows
    ├── StorageError            the database failed a read or a write (nothing was stored)
    ├── StoppedError            work stopped before its end: its caller left, or cancelled
    └── RequestError            a service request that cannot be served as asked
        ├── InvalidRequestError well formed, but not acceptable
        ├── UnauthorizedError   no token or key, or an unknown one
        ├── ForbiddenError      a key without the role needed
        ├── NotFoundError       no such order or key
        ├── ConflictError       clashes with what is stored (idempotency key, last admin)
        ├── BodyTooLargeError   a request body over its route's limit
        └── TooManyRequestsError a cap is reached (open event streams)

The service answers each with its own HTTP status (service/app.py); the CLI prints it as
one line and exits with code 2.
"""

from __future__ import annotations


def counted(n: int, one: str, many: str | None = None) -> str:
    """`n` things in words, the noun agreeing: "1 row", "2,001 rows", "3 mix limits"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


class PromiselineError(Exception):
    """Base class for errors shown to the user as one clear line."""


class ScenarioError(PromiselineError):
    """A scenario file or object that does not follow SCENARIO.md.

    Carries every problem found (not just the first), so a user fixes the file once.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        head = f"{source}: {problems[0]}" if problems else source
        more = f" (and {counted(len(problems) - 1, 'more problem')})" if len(problems) > 1 else ""
        super().__init__(head + more)

    def details(self) -> str:
        """All problems, one per line."""
        return "\n".join(f"{self.source}: {p}" for p in self.problems)


class OrderBookError(PromiselineError):
    """An order book that cannot be read at all (missing file, missing column)."""


class OrderError(PromiselineError):
    """An order or quote for a model, variant, market or options the scenario lacks."""


class UnknownOrderError(PromiselineError, KeyError):
    """An order id that is not in the plan."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown order"


class QuoteError(PromiselineError):
    """A booking asked for anywhere but the back of the queue."""


class AllocationError(PromiselineError):
    """An allocation that cannot be made: no export market or sailing, or a domestic
    target the capacity cannot hold even with no export (the message names the limit)."""


class SizingError(PromiselineError):
    """A sizing target that cannot be read or measured."""


class StudyTooLargeError(PromiselineError):
    """A sizing or allocation whose model would be over the bounds of
    core/studies/bounds.py: refused before anything is built."""


class TransitionError(PromiselineError):
    """The order's status (or the time since it locked) forbids this change."""


class ProgressError(PromiselineError):
    """A progress file whose rows are not all true: each wrong row is named, and none of
    the file was written."""

    def __init__(self, message: str, rows: list[str]) -> None:
        self.rows = rows
        super().__init__(message)


class RecordError(PromiselineError):
    """A record to learn uncertainty from (daily output, part receipts; a file or a
    database) that cannot be fitted: every wrong row or name is in `problems`, the first
    also in the message."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


class StorageError(PromiselineError):
    """The database failed a read or a write; a write that fails stored nothing."""


class RequestError(PromiselineError):
    """A service request that cannot be served as asked."""


class InvalidRequestError(RequestError):
    """Well formed, but not acceptable (a bad value, a missing header)."""


class UnauthorizedError(RequestError):
    """No token or API key, or one that is unknown or revoked."""


class ForbiddenError(RequestError):
    """An API key without the role this needs."""


class NotFoundError(RequestError):
    """No such order (for this token) or key."""


class ConflictError(RequestError):
    """Clashes with what is stored: an idempotency key reused, the last admin key."""


class BodyTooLargeError(RequestError):
    """A request body over its route's limit (cut off while it streams in)."""


class StoppedError(PromiselineError):
    """Work stopped before its end, as asked: its caller left (a download), or a planner
    cancelled it, or it went over its time or memory limit (a job)."""


class TooManyRequestsError(RequestError):
    """A cap is reached (event streams per order or in total)."""
