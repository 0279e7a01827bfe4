"""The errors a refused workflow action raises; the database is then left unchanged."""

from gesprokit.errors import GesprokitError


class PermissionDenied(GesprokitError):
    """The user's role or company does not allow this action."""


class InvalidTransition(GesprokitError):
    """The situation is not in a state where this action is possible."""


class ValidationError(GesprokitError):
    """The input of the action is incomplete or wrong."""


class StaleState(GesprokitError):
    """Someone else changed the situation since it was read: reload and try again."""


class AuthenticationFailed(GesprokitError):
    """Unknown e-mail or wrong password."""
