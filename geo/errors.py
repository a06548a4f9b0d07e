"""Domain errors. Each carries what the user must fix; ``api`` maps them to HTTP
statuses in one table and the CLI prints them as one line without a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


@dataclass
class Problem:
    """One problem found in an input: where it is and what was expected."""

    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    expected: str | None = None

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
        where = ", ".join(
            f"{k}={v}" for k, v in first.as_dict().items() if k not in ("message", "expected")
        )
        extra = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.message}: {first.message} [{where}]{extra}"
