"""The exceptions of the patchwalk client (and nothing else).

Every error a user can fix by editing the sweep spec is a :class:`SpecError`: a ``ValueError``
whose ``errors`` is a list of field errors ``{"loc": "medium.high.kappa", "msg": ...}`` — ``loc``
the dotted path of the offending field, ``msg`` how to fix it. Errors of a running service are
:class:`ServiceError` s carrying the RFC 9457 problem document.

Exception tree::

    PatchwalkError
    ├── SpecError (ValueError)              a spec that cannot be used; .errors
    ├── UnknownAxisError (ValueError)       a result filter naming no sweep axis; .errors
    └── ServiceError                        the service answered 4xx/5xx; .status_code, .problem
        ├── Unauthorized                    401: missing or wrong bearer token
        ├── SweepNotFound (LookupError)     404: no sweep with this id
        ├── SpecRejected (ValueError)       413/415/422 on submit; .errors
        └── SweepFailed                     a waited-for sweep failed or was cancelled
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FieldError = dict[str, str]


def _field_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    return [{"loc": str(e.get("loc", "")), "msg": str(e.get("msg", ""))} for e in errors]


def _lines(errors: Sequence[Mapping[str, str]]) -> str:
    """One line per field error: ``  loc: msg`` (``loc`` left out when empty)."""
    return "\n".join(f"  {e['loc']}: {e['msg']}" if e.get("loc") else f"  {e['msg']}"
                     for e in errors)


class PatchwalkError(Exception):
    """Base class of every patchwalk client error."""


class SpecError(PatchwalkError, ValueError):
    """A sweep spec that cannot be used, with the fields to fix.

    Parameters
    ----------
    errors : sequence of mapping
        Field errors, each with ``loc`` (dotted path, ``""`` for the spec as a whole) and
        ``msg`` (what is wrong and how to fix it).
    title : str, optional
        First line of ``str(error)``.
    """

    def __init__(self, errors: Sequence[Mapping[str, str]], title: str = "invalid sweep spec"):
        self.errors: list[FieldError] = _field_errors(errors)
        self.title = title
        n = len(self.errors)
        head = f"{title} ({n} error{'s' if n != 1 else ''}):"
        super().__init__(head + "\n" + _lines(self.errors))

    @classmethod
    def single(cls, loc: str, msg: str, title: str = "invalid sweep spec") -> SpecError:
        """A ``SpecError`` with one field error."""
        return cls([{"loc": loc, "msg": msg}], title)


class UnknownAxisError(PatchwalkError, ValueError):
    """A result filter that names no sweep axis; ``errors`` is ``[{loc, msg}]`` per name."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, str]]) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = _field_errors(errors)


class ServiceError(PatchwalkError):
    """The service answered with an error (an RFC 9457 problem document).

    Attributes
    ----------
    status_code : int
        HTTP status.
    problem : dict
        The problem document (``type``, ``title``, ``status``, ``detail``, ...).
    """

    def __init__(
        self, message: str, status_code: int = 0, problem: Mapping[str, Any] | None = None
    ):
        super().__init__(message)
        self.status_code = status_code
        self.problem: dict[str, Any] = dict(problem or {})


class Unauthorized(ServiceError):
    """Missing or wrong bearer token: pass ``token=`` or set ``PATCHWALK_TOKEN``."""


class SweepNotFound(ServiceError, LookupError):
    """No sweep with this id on the service."""


class SpecRejected(ServiceError, ValueError):
    """The service rejected the spec (invalid, infeasible or beyond its budget).

    ``errors`` lists the field errors ``{"loc", "msg"}``.
    """

    def __init__(
        self, message: str, status_code: int = 422, problem: Mapping[str, Any] | None = None
    ):
        super().__init__(message, status_code, problem)
        self.errors: list[FieldError] = _field_errors(self.problem.get("errors") or [])


class SweepFailed(ServiceError):
    """A sweep ended failed (or cancelled) while waiting for it; ``state`` and ``error`` say why."""

    def __init__(self, message: str, state: str = "failed", error: str | None = None):
        super().__init__(message)
        self.state = state
        self.error = error
