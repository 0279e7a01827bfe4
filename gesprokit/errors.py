"""Domain errors with French messages a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class GesprokitError(Exception):
    """Base of every error gesprokit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and why it is refused."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(str(self.row))
        if self.column:
            where.append(self.column)
        return ":".join(where) + ": " + self.reason


class ImportRejected(GesprokitError):
    """The import found problems; nothing was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} problème(s) ; rien n'a été importé :\n"
            + "\n".join(str(p) for p in problems)
        )
