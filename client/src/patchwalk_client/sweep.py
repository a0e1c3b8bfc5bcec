"""Sweep axes: expanding a spec's ``[sweep]`` table into points.

Plain keys of ``[sweep]`` are dotted paths into the spec with lists of values; the points are
their cartesian product. Each ``[[sweep.zip]]`` group is one more dimension whose paths vary
together. Order: plain axes in the order written, then zip groups, last dimension fastest.

>>> spec = load_spec(...)                               # doctest: +SKIP
>>> [p.params for p in expand_points(spec)]             # doctest: +SKIP
[{'energy': 1.0, 'medium.high.patches.alpha': 1.5}, ...]
"""

from __future__ import annotations

import copy
import difflib
import functools
import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from patchwalk_client.errors import (
    SpecError,
    child,
    field_errors_from_pydantic,
    field_loc,
    field_names,
    is_model,
    unwrap_annotation,
)
from patchwalk_client.spec import UNSWEEPABLE, SweepAxes, SweepSpec

__all__ = ["Point", "SweepAxes", "axes", "check_sweep_axes", "expand_points", "schema_paths"]

_MAX_REPORTED = 10


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Attributes
    ----------
    index : int
        Position in the expansion order (0-based).
    params : dict
        Swept path → value at this point (values as validated, e.g. ``1`` → ``1.0`` for a float).
    spec : SweepSpec
        The fully resolved spec of this point, with an empty ``sweep``.
    """

    index: int
    params: dict[str, Any]
    spec: SweepSpec


def _annotation(path: str) -> tuple[Any, str | None]:
    """Annotation at a dotted spec path, or ``(None, error message)``."""
    parts = path.split(".")
    if parts[0] in UNSWEEPABLE:
        return None, (f"sweeping {parts[0]}.* is not supported: {UNSWEEPABLE[parts[0]]}; "
                      f"set {parts[0]} once and run one sweep per value instead")
    node: Any = SweepSpec
    for i, part in enumerate(parts):
        nxt, _ = child(node, part)
        if nxt is None:  # a union of pdf models: look the field up in each member
            for member in child_members(node):
                if part in member.model_fields:
                    nxt = member.model_fields[part].annotation
                    break
        if nxt is None:
            here = ".".join(parts[:i]) or "the spec"
            return None, (f"unknown sweep path {path!r}{_suggest_path(path)} "
                          f"({part!r} is not a key of {here})")
        node = nxt
    return node, None


def sweep_path_ok(path: str) -> bool:
    """Whether ``path`` names a sweepable field of the spec schema."""
    return _annotation(path)[1] is None


def child_members(node: Any) -> list[Any]:
    """Model classes of a union annotation (empty for anything else)."""
    node = unwrap_annotation(node)
    return [m for m in node if is_model(m)] if isinstance(node, tuple) else []


@functools.cache
def schema_paths() -> tuple[str, ...]:
    """Every dotted path a sweep may name (nested tables included), in schema order."""
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for name in field_names(node):
            path = f"{prefix}.{name}" if prefix else name
            if not prefix and name in UNSWEEPABLE:
                continue
            out.append(path) if path not in out else None
            sub, _ = child(node, name)
            if sub is None:
                sub = next((m.model_fields[name].annotation for m in child_members(node)
                            if name in m.model_fields), None)
            if sub is not None and field_names(sub):
                walk(sub, path)

    walk(SweepSpec, "")
    return tuple(out)


def _suggest_path(path: str) -> str:
    close = difflib.get_close_matches(path, schema_paths(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_sweep_axes(sweep: SweepAxes) -> list[tuple[tuple[str | int, ...], str]]:
    """Field errors (locations relative to the spec) of a ``[sweep]`` table's paths and shape."""
    errs: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, tuple[str | int, ...]] = {}
    entries: list[tuple[tuple[str | int, ...], str, list[Any]]] = [
        (("sweep", p), p, v) for p, v in sweep.axes.items()]
    for i, group in enumerate(sweep.zip):
        if not group:
            errs.append((("sweep", "zip", i), "is an empty zip group: give at least one "
                         "path = [values]"))
        lengths = {p: len(v) for p, v in group.items()}
        if len(set(lengths.values())) > 1:
            errs.append((("sweep", "zip", i), "zipped axes must have equal lengths (got "
                         + ", ".join(f"{p}: {n}" for p, n in lengths.items())
                         + "): make the lists the same length or move one to a plain axis"))
        entries += [(("sweep", "zip", i, p), p, v) for p, v in group.items()]
    for loc, path, values in entries:
        _, problem = _annotation(path)
        if problem:
            errs.append((loc, problem))
            continue
        if not values:
            errs.append((loc, "has no values: give a non-empty list"))
        for other in seen:
            if path == other or path.startswith(other + ".") or other.startswith(path + "."):
                errs.append((loc, f"overlaps sweep path {other!r}: sweep each field once"))
        seen[path] = loc
    return errs


@functools.cache
def _adapter(path: str) -> TypeAdapter[Any] | None:
    ann, problem = _annotation(path)
    return None if problem or ann is None else TypeAdapter(ann)


def _coerce(path: str, value: Any) -> Any:
    """A sweep value as the spec will hold it (``"1e-3"`` → ``0.001`` for a float field)."""
    adapter = _adapter(path)
    if adapter is None:
        return value
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except (ValidationError, TypeError, ValueError):
        return value  # the point's validation reports it with context


def coerce_sweep_values(sweep: SweepAxes) -> None:
    """Coerce every sweep value in place to what its field holds (``1`` → ``1.0``, ...)."""
    sweep.axes = {p: [_coerce(p, v) for v in vals] for p, vals in sweep.axes.items()}
    sweep.zip = [{p: [_coerce(p, v) for v in vals] for p, vals in g.items()} for g in sweep.zip]


def _dimensions(spec: SweepSpec) -> list[tuple[list[str], list[list[Any]]]]:
    dims = [([p], [[_coerce(p, v) for v in vals]]) for p, vals in spec.sweep.axes.items()]
    for group in spec.sweep.zip:
        dims.append((list(group), [[_coerce(p, v) for v in vals] for p, vals in group.items()]))
    return dims


def axes(spec: SweepSpec) -> list[tuple[str, list[Any]]]:
    """``(dimension name, values)`` per independent axis, in expansion order.

    A zip group is one dimension named by (and valued as) its first path.
    """
    return [(paths[0], values[0]) for paths, values in _dimensions(spec)]


def _set(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | str:
    """The dict holding the last key of ``path`` inside ``data``, or an error message."""
    parts = path.split(".")
    node: Any = data
    for i, key in enumerate(parts[:-1]):
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            table = ".".join(parts[: i + 1])
            return (f"cannot set {path!r}: {table} is not set in this spec (an explicit medium "
                    f"has no high/low phases): add {table} to the spec or sweep another path")
    return node, parts[-1]


def _culprit(loc: str, paths: list[str]) -> str | None:
    """The swept path to blame for an error at ``loc``: one at or above it, else a sibling
    (same table), else the only swept path."""
    at = loc.replace("[", ".").split(".")
    best, best_score = None, -1
    for path in paths:
        parts = path.split(".")
        pairs = zip(parts, at, strict=False)
        common = len(list(itertools.takewhile(lambda ab: ab[0] == ab[1], pairs)))
        score = 2 if common == len(parts) else 1 if common >= max(1, len(parts) - 1) else 0
        if score > best_score and score > 0:
            best, best_score = path, score
    if best is None and len(paths) == 1:
        return paths[0]
    return best


def expand_points(spec: SweepSpec) -> list[Point]:
    """Expand the spec's sweep into points, each with a validated resolved spec.

    Parameters
    ----------
    spec : SweepSpec
        A validated spec; without a ``[sweep]`` it expands to one point with empty params.

    Returns
    -------
    list of Point
        In order: plain axes as written, then zip groups, the last dimension fastest.

    Raises
    ------
    SpecError
        If a path does not exist or is not sweepable, or some point's values make an invalid
        spec (the error names the sweep path and the point's params).
    """
    problems = check_sweep_axes(spec.sweep)
    if problems:
        raise SpecError([{"loc": field_loc(loc), "msg": m} for loc, m in problems])
    base = spec.model_dump(mode="json", exclude={"sweep"})
    dims = _dimensions(spec)
    points: list[Point] = []
    errors: list[dict[str, str]] = []
    n_bad = 0
    for index, combo in enumerate(itertools.product(*(range(len(v[0])) for _, v in dims))):
        params: dict[str, Any] = {}
        for (paths, values), j in zip(dims, combo, strict=True):
            for path, vals in zip(paths, values, strict=True):
                params[path] = vals[j]
        data = copy.deepcopy(base)
        point_errors: list[dict[str, str]] = []
        for path, value in params.items():
            where = _set(data, path)
            if isinstance(where, str):
                point_errors.append({"loc": f'sweep."{path}"', "msg": where})
            else:
                where[0][where[1]] = copy.deepcopy(value)
        if not point_errors:
            try:
                point_spec = SweepSpec.model_validate(data)
            except ValidationError as exc:
                for e in field_errors_from_pydantic(exc, SweepSpec):
                    culprit = _culprit(e["loc"], list(params))
                    loc = f'sweep."{culprit}"' if culprit else e["loc"]
                    point_errors.append({"loc": loc, "msg": f"at point {index} {params}: "
                                         f"{e['loc']}: {e['msg']}"})
            else:
                points.append(Point(index=index, params=params, spec=point_spec))
        if point_errors:
            n_bad += 1
            if len(errors) < _MAX_REPORTED:
                errors.extend(point_errors)
    if errors:
        if n_bad > 1:
            errors.append({"loc": "sweep", "msg": f"{n_bad} points are invalid in all: change "
                           "the sweep values or the fixed fields they conflict with"})
        raise SpecError(errors, "invalid sweep point(s)")
    return points
