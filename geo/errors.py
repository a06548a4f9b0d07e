"""Domain errors: the one hierarchy of everything a user or client can act on.

Each error carries what the user must fix; ``api`` maps them to HTTP statuses
in one table (:data:`api.problems.STATUS`) and the CLI prints them as one line
without a traceback.  A :class:`Problem` is one finding in an input — where it
is (file, sheet, row, column), the offending value, what was expected and a
stable machine-readable ``kind`` — and is the only problem type: field rules
(:mod:`geo.rules`), planner edits (:mod:`geo.editing`) and file imports
(:mod:`geo.io.importer`) all report with it.

::

    ServiceMapError
    ├── ConfigurationError   a package, binary or setting is missing   (500)
    ├── DatabaseUnavailable  the database cannot be reached            (503)
    ├── NotFound             no such point, region, sample ...          (404)
    ├── Forbidden            role or region scope does not allow it     (403)
    ├── Conflict             duplicate code, not deleted ...            (409)
    │   └── IllegalTransition  a workflow step the state does not allow (409)
    ├── RateLimited          too many submissions from a phone or IP    (429)
    ├── BackupError          a backup cannot be written or restored (CLI only)
    └── InvalidInput         an input is invalid: ``problems``          (422)
        ├── TableError           a file cannot be read as a table
        ├── NetworkImportError   an OSM extract holds no walkable network
        └── ImportRejected       an import wrote nothing: ``report``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackupError",
    "Conflict",
    "ConfigurationError",
    "DatabaseUnavailable",
    "Forbidden",
    "IllegalTransition",
    "ImportRejected",
    "InvalidInput",
    "NetworkImportError",
    "NotFound",
    "Problem",
    "RateLimited",
    "ServiceMapError",
    "TableError",
]


class ServiceMapError(Exception):
    """Base class of errors a user can act on."""

    #: stable machine-readable error type, used as the problem+json ``type`` suffix
    code = "servicemap-error"


class ConfigurationError(ServiceMapError, RuntimeError):
    """The machine or settings are missing something (a package, a binary)."""

    code = "configuration"


class DatabaseUnavailable(ServiceMapError, ConnectionError):
    """The database server cannot be reached."""

    code = "database-unavailable"


class NotFound(ServiceMapError, LookupError):
    """A requested object (point, region, sample) does not exist."""

    code = "not-found"


class Forbidden(ServiceMapError, PermissionError):
    """The principal lacks the role or the region for this action."""

    code = "forbidden"


class BackupError(ServiceMapError):
    """A backup could not be written or restored; nothing was changed."""

    code = "backup"


class Conflict(ServiceMapError):
    """The request conflicts with the stored state (duplicate code, not deleted)."""

    code = "conflict"


class IllegalTransition(Conflict):
    """A workflow step that the record's state does not allow (a wish that is
    withdrawn cannot be claimed). ``state`` and ``action`` are the slugs; the
    message names the state in Chinese."""

    code = "illegal-transition"

    def __init__(self, message: str, *, state: str, action: str,
                 allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.state = state
        self.action = action
        self.allowed = allowed


class RateLimited(ServiceMapError):
    """Too many submissions from one phone or address; try again after
    ``retry_after`` seconds (429)."""

    code = "too-many-requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


@dataclass
class Problem:
    """One problem found in an input: where it is and what was expected.

    Attributes
    ----------
    message
        What is wrong (Chinese for anything a user sees).
    file, sheet, row, column
        Where: a file (and sheet or layer), a 1-based row, a column or a
        request field (``name``, ``geometry.coordinates``).
    value
        The offending value (shortened).
    expected
        What would be accepted.
    kind
        Stable identifier of the kind of problem (``not_a_number``,
        ``unknown_region`` ...; listed in ``docs/data-formats.md``).
    """

    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    expected: str | None = None
    kind: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class InvalidInput(ServiceMapError, ValueError):
    """An input (file, request, parameter) is invalid; ``problems`` lists every issue."""

    message: str
    problems: list[Problem] = field(default_factory=list)
    code = "invalid-input"

    def __post_init__(self) -> None:
        ValueError.__init__(self, self.message)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        first = self.problems[0]
        if len(self.problems) == 1 and first.message == self.message:
            return self.message
        where = ", ".join(
            f"{k}={v}" for k, v in first.as_dict().items()
            if k not in ("message", "expected", "kind"))
        extra = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.message}: {first.message} [{where}]{extra}"


class TableError(InvalidInput):
    """The file cannot be read as a table; carries one file-level problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message, [problem])

    @property
    def problem(self) -> Problem:
        return self.problems[0]


class NetworkImportError(InvalidInput):
    """The OSM file cannot be read or holds no walkable ways (in the bbox)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ImportRejected(InvalidInput):
    """An import wrote nothing: the file or some rows are invalid.

    Attributes
    ----------
    report : geo.io.importer.ImportReport
        The full report; ``problems`` are its errors.  ``message`` overrides the
        headline (``"<file> 未导入：发现 N 个错误"``) where one says more.
    """

    def __init__(self, report: Any, message: str | None = None) -> None:
        n = len(report.errors)
        super().__init__(message or f"{report.file} 未导入：发现 {n} 个错误",
                         list(report.errors))
        self.report = report
