"""Sweep axes: expanding a spec's ``[sweep]`` table into points.

Plain keys of ``[sweep]`` are dotted paths into the spec with lists of values; the points are
their cartesian product. Each ``[[sweep.zip]]`` group is one more dimension whose paths vary
together. Order: plain axes in the order written, then zip groups, last dimension fastest.

Checking the ``[sweep]`` table itself is :mod:`patchwalk_client.axes`.

>>> spec = load_spec(...)                               # doctest: +SKIP
>>> [p.params for p in expand_points(spec)]             # doctest: +SKIP
[{'energy': 1.0, 'medium.high.patches.alpha': 1.5}, ...]
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from patchwalk_client import axes as _axes
from patchwalk_client.errors import SpecError
from patchwalk_client.model import SweepSpec
from patchwalk_client.schema import field_errors_from_pydantic, field_loc

__all__ = ["Point", "axes", "expand_points", "schema_paths"]

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


def schema_paths() -> tuple[str, ...]:
    """Every dotted path a sweep may name (nested tables included), in schema order."""
    return _axes.schema_paths(SweepSpec)


def _dimensions(spec: SweepSpec) -> list[tuple[list[str], list[list[Any]]]]:
    def values(path: str, vals: list[Any]) -> list[Any]:
        return [_axes.coerce(path, v, SweepSpec) for v in vals]

    dims = [([p], [values(p, vals)]) for p, vals in spec.sweep.axes.items()]
    for group in spec.sweep.zip:
        dims.append((list(group), [values(p, vals) for p, vals in group.items()]))
    return dims


def count_points(spec: SweepSpec) -> int:
    """How many points the sweep expands to (the product of its dimensions; nothing built)."""
    n = 1
    for vals in spec.sweep.axes.values():
        n *= len(vals)
    for group in spec.sweep.zip:
        n *= len(next(iter(group.values()), []))
    return n


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
    problems = _axes.check_sweep_axes(spec.sweep, SweepSpec)
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
