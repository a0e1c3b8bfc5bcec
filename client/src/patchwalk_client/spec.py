"""Reading a sweep spec: parse text or a mapping, validate it, give it an identity.

:func:`parse_spec` takes spec text (JSON, TOML or YAML) or a mapping and never touches the
filesystem — it is what a server calls on a request body. :func:`load_spec` is the client and
CLI convenience that also reads a file. Both validate every sweep point, and raise
:class:`~patchwalk_client.errors.SpecError` naming each field to fix. :func:`spec_hash` is a
spec's identity (sha256 of :func:`canonical_json`).

The spec models themselves live in :mod:`patchwalk_client.model`,
:mod:`patchwalk_client.medium` and :mod:`patchwalk_client.options`; they are re-exported here,
so ``from patchwalk_client.spec import SweepSpec, load_spec`` keeps working.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from patchwalk_client.errors import SpecError
from patchwalk_client.medium import (
    ExponentialPdf,
    MediumSpec,
    NarrowPdf,
    PatchPdf,
    Phase,
    PowerLawPdf,
    RealPdf,
    SamePdf,
)
from patchwalk_client.model import (
    DensitySpec,
    EscapeSpec,
    ParticlesSpec,
    SweepSpec,
    TimesSpec,
)
from patchwalk_client.options import (
    KERNEL_OPTIONS,
    EulerOptions,
    ExactOptions,
    KernelName,
    PitchOptions,
    ReferenceOptions,
    StreamingOptions,
)
from patchwalk_client.schema import field_errors_from_pydantic
from patchwalk_client.sweep import expand_points

__all__ = [
    "KERNEL_OPTIONS", "DensitySpec", "EscapeSpec", "EulerOptions", "ExactOptions", "ExponentialPdf",
    "KernelName", "MediumSpec", "NarrowPdf", "ParticlesSpec", "PatchPdf", "Phase",
    "PitchOptions", "PowerLawPdf", "RealPdf", "ReferenceOptions", "SamePdf",
    "StreamingOptions", "SweepSpec", "TimesSpec", "canonical_json", "load_spec", "parse_spec",
    "spec_hash", "validate_spec",
]

_PARSERS = ("json", "toml", "yaml")


def _parse(text: str, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(text)
    if fmt == "toml":
        return tomllib.loads(text)
    import yaml

    return yaml.safe_load(text)


def _parse_text(text: str, formats: tuple[str, ...], origin: str) -> dict[str, Any]:
    problems = []
    for fmt in formats:
        try:
            data = _parse(text, fmt)
        except Exception as exc:  # noqa: BLE001 - each parser raises its own type
            problems.append(f"{fmt.upper()}: {exc}")
            continue
        if isinstance(data, dict):
            return data
        problems.append(f"{fmt.upper()}: parsed to {type(data).__name__}, not a table/mapping")
    raise SpecError.single("", f"could not read {origin} as " + " or ".join(
        f.upper() for f in formats) + " — fix the syntax: " + " | ".join(problems))


def _read(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    suffix = path.suffix.lower()
    by_suffix = {".toml": ("toml",), ".json": ("json",), ".yaml": ("yaml",), ".yml": ("yaml",)}
    if not path.is_file():
        raise SpecError.single("", f"spec file {str(path)!r} not found: check the path")
    text = path.read_text(encoding="utf-8")
    return _parse_text(text, by_suffix.get(suffix, _PARSERS), f"file {str(path)!r}")


def validate_spec(data: Mapping[str, Any]) -> SweepSpec:
    """Validate a mapping into a :class:`SweepSpec`, raising :class:`SpecError`."""
    try:
        return SweepSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(field_errors_from_pydantic(exc, SweepSpec)) from None


#: Parsers to try for each media type of spec text (``None``/``text/plain``: all three).
_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "application/json": ("json",),
    "application/toml": ("toml",),
    "text/toml": ("toml",),
    "application/yaml": ("yaml",),
    "application/x-yaml": ("yaml",),
    "text/yaml": ("yaml",),
    "text/x-yaml": ("yaml",),
}


def _formats(media_type: str | None) -> tuple[str, ...]:
    ctype = (media_type or "").split(";")[0].strip().lower()
    if ctype in _MEDIA_TYPES:
        return _MEDIA_TYPES[ctype]
    if ctype.endswith("+json"):
        return ("json",)
    return _PARSERS


def _checked(spec: SweepSpec) -> SweepSpec:
    """``spec`` after validating every sweep point (raises :class:`SpecError`)."""
    if spec.sweep:
        expand_points(spec)
    return spec


def parse_spec(
    source: str | Mapping[str, Any] | SweepSpec, media_type: str | None = None
) -> SweepSpec:
    """Validate spec text or a mapping; never touches the filesystem.

    Parameters
    ----------
    source : str, mapping or SweepSpec
        Spec text, a mapping, or a ``SweepSpec``. A string is always spec text, even one that
        looks like a path: this is what a server calls on a request body.
    media_type : str, optional
        How to parse text (``application/json``, ``application/toml``, ``application/yaml``);
        ``None`` or another type tries JSON, then TOML, then YAML.

    Returns
    -------
    SweepSpec
        The validated spec; every sweep point has been validated too.

    Raises
    ------
    SpecError
        With one ``{"loc", "msg"}`` entry per problem.
    """
    if isinstance(source, SweepSpec):
        return _checked(validate_spec(source.model_dump(mode="python")))
    if isinstance(source, Mapping):
        return _checked(validate_spec(source))
    if isinstance(source, str):
        return _checked(validate_spec(_parse_text(source, _formats(media_type), "the spec text")))
    raise SpecError.single("", f"cannot parse a spec from {type(source).__name__}: pass "
                           "TOML/JSON/YAML text, a dict or a SweepSpec")


_SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def load_spec(source: str | Path | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """Load and validate a sweep spec: the client and CLI convenience that reads files.

    Parameters
    ----------
    source : str, Path, mapping or SweepSpec
        A file path (``.toml``, ``.json``, ``.yaml``/``.yml``; another suffix tries all three;
        a one-line string that names an existing file or ends in one of those suffixes is a
        path), spec text (tried as JSON, then TOML, then YAML), a mapping, or a ``SweepSpec``.
        Servers call :func:`parse_spec` instead, which never opens a file.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SpecError
        With one ``{"loc", "msg"}`` entry per problem.
    """
    if isinstance(source, Path) or (isinstance(source, str) and _names_a_file(source)):
        return _checked(validate_spec(_read(source)))
    return parse_spec(source)


def _names_a_file(source: str) -> bool:
    """Whether a string passed to :func:`load_spec` is a path rather than spec text."""
    if "\n" in source or source.lstrip().startswith(("{", "[")) or len(source) > 1024:
        return False
    if Path(source).suffix.lower() in _SUFFIXES:
        return True
    try:
        return Path(source).is_file()
    except OSError:
        return False


def canonical_json(spec: SweepSpec) -> str:
    """Canonical JSON of a spec: sorted keys, compact; sweep axes as ordered [path, values]
    pairs (their order sets the point order, so it is part of the identity); ``escape.stop``
    is left out when false (its default), so specs written before it keep their hash."""
    data = spec.model_dump(mode="json")
    if not data["escape"].get("stop"):  # the default: specs from before it keep their hash
        data["escape"].pop("stop", None)
    data["sweep"] = {
        "axes": [[p, v] for p, v in spec.sweep.axes.items()],
        "zip": [[[p, v] for p, v in g.items()] for g in spec.sweep.zip],
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(spec: SweepSpec) -> str:
    """sha256 (hex) of :func:`canonical_json` — equal specs, equal hashes."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
