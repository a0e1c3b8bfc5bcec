"""The ``[sweep]`` table: its model, and the checks of the paths it names.

Plain keys of ``[sweep]`` are dotted paths into the spec with lists of values; each
``[[sweep.zip]]`` group is a set of paths that vary together. The checks walk the schema of
the model being swept (``root``, the ``SweepSpec`` class, passed in so that this module does
not import it): a path must name a sweepable field, every value is coerced to that field's
type. Expanding the table into points is :mod:`patchwalk_client.sweep`.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError, model_serializer, model_validator

from patchwalk_client.schema import RelError, SpecModel, child, child_members, field_names

#: Keys whose sweeping is refused, with the reason.
UNSWEEPABLE = {
    "particles": "the store layout fixes the number of tasks and particles for the whole sweep",
    "times": "the store layout fixes the output times for the whole sweep",
    "sweep": "a sweep cannot sweep its own axes",
    "name": "a sweep has one name",
}


class SweepAxes(SpecModel):
    """``[sweep]``: dotted spec paths with lists of values (cartesian product), and
    ``[[sweep.zip]]`` groups of paths that vary together.

    Accepts the flat TOML shape ``{"energy": [1, 10], "zip": [{...}]}``; serialises to it.
    """

    __loc_transparent__: ClassVar[tuple[str, ...]] = ("axes",)

    axes: dict[str, list[Any]] = {}
    zip: list[dict[str, list[Any]]] = []

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data.get("axes"), Mapping):
            flat = dict(data)
            zipped = flat.pop("zip", [])
            return {"axes": flat, "zip": zipped}
        return data

    @model_serializer(mode="plain")
    def _to_flat(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.axes)
        if self.zip:
            out["zip"] = [dict(g) for g in self.zip]
        return out

    def __bool__(self) -> bool:
        return bool(self.axes or self.zip)

    def paths(self) -> list[str]:
        """Every swept path: plain axes first, then zip groups, in the order written."""
        return list(self.axes) + [p for g in self.zip for p in g]


def _annotation(path: str, root: type[BaseModel]) -> tuple[Any, str | None]:
    """Annotation at a dotted path of the ``root`` model, or ``(None, error message)``."""
    parts = path.split(".")
    if parts[0] in UNSWEEPABLE:
        return None, (f"sweeping {parts[0]}.* is not supported: {UNSWEEPABLE[parts[0]]}; "
                      f"set {parts[0]} once and run one sweep per value instead")
    node: Any = root
    for i, part in enumerate(parts):
        nxt, _ = child(node, part)
        if nxt is None:  # a union of pdf models: look the field up in each member
            for member in child_members(node):
                if part in member.model_fields:
                    nxt = member.model_fields[part].annotation
                    break
        if nxt is None:
            here = ".".join(parts[:i]) or "the spec"
            return None, (f"unknown sweep path {path!r}{_suggest_path(path, root)} "
                          f"({part!r} is not a key of {here})")
        node = nxt
    return node, None


def sweep_path_ok(path: str, root: type[BaseModel]) -> bool:
    """Whether ``path`` names a sweepable field of the ``root`` model."""
    return _annotation(path, root)[1] is None


@functools.cache
def schema_paths(root: type[BaseModel]) -> tuple[str, ...]:
    """Every dotted path a sweep of ``root`` may name (nested tables included), in order."""
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

    walk(root, "")
    return tuple(out)


def _suggest_path(path: str, root: type[BaseModel]) -> str:
    close = difflib.get_close_matches(path, schema_paths(root), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_sweep_axes(sweep: SweepAxes, root: type[BaseModel]) -> list[RelError]:
    """Field errors (locations relative to ``root``) of a ``[sweep]`` table's paths and shape."""
    errs: list[RelError] = []
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
        _, problem = _annotation(path, root)
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
def _adapter(path: str, root: type[BaseModel]) -> TypeAdapter[Any] | None:
    ann, problem = _annotation(path, root)
    return None if problem or ann is None else TypeAdapter(ann)


def coerce(path: str, value: Any, root: type[BaseModel]) -> Any:
    """A sweep value as the spec will hold it (``"1e-3"`` → ``0.001`` for a float field)."""
    adapter = _adapter(path, root)
    if adapter is None:
        return value
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except (ValidationError, TypeError, ValueError):
        return value  # the point's validation reports it with context


def coerce_sweep_values(sweep: SweepAxes, root: type[BaseModel]) -> None:
    """Coerce every sweep value in place to what its field holds (``1`` → ``1.0``, ...)."""
    sweep.axes = {p: [coerce(p, v, root) for v in vals] for p, vals in sweep.axes.items()}
    sweep.zip = [{p: [coerce(p, v, root) for v in vals] for p, vals in g.items()}
                 for g in sweep.zip]


