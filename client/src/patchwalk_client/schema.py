"""The spec's schema machinery: the model base, number types, and field errors both ways.

Every spec model derives from :class:`SpecModel` (unknown keys are refused). A model validator
that finds several problems reports them at once with :func:`fail_fields`.
:func:`field_errors_from_pydantic` turns a ``pydantic.ValidationError`` back into field errors
``{"loc", "msg"}`` by walking the schema of the validated model: locations as dotted paths
with discriminator tags dropped, unknown keys with a "did you mean", terse messages rewritten
to say how to fix the value. :mod:`patchwalk_client.axes` walks it too, to check sweep paths.
It imports no spec model itself.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

FieldError = dict[str, str]

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

#: A field error found by a model validator: (location relative to the model, message).
RelError = tuple[tuple[str | int, ...], str]


def fail_fields(errors: list[RelError]) -> None:
    """Raise the field errors found by a model validator (relative locations)."""
    if errors:
        raise PydanticCustomError(
            "spec_fields",
            "{message}",
            {"message": "; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, m in errors),
             "fields": errors},
        )


class SpecModel(BaseModel):
    """Base of every spec model: unknown keys are refused, defaults are validated."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True)


def format_loc(loc: Iterable[str | int]) -> str:
    """Dotted path of a location: ``("medium", "patches", 0, 1)`` → ``medium.patches[0][1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def unwrap_annotation(ann: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` from an annotation."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return tuple(unwrap_annotation(a) for a in args)
            ann = args[0]
        else:
            return ann


def is_model(node: Any) -> bool:
    """Whether an annotation is a pydantic model class."""
    return isinstance(node, type) and hasattr(node, "model_fields")


def _tags(model: Any) -> set[Any]:
    """Values of the single-value ``Literal`` fields of a model (its discriminator tags)."""
    out = set()
    for f in model.model_fields.values():
        ann = unwrap_annotation(f.annotation)
        if get_origin(ann) is Literal and len(get_args(ann)) == 1:
            out.add(get_args(ann)[0])
    return out


def child(node: Any, part: str | int) -> tuple[Any, bool]:
    """Annotation of ``part`` inside ``node`` and whether ``part`` shows in a dotted path.

    ``node`` is an annotation (model class, union of models, list, tuple, dict); returns
    ``(None, True)`` when ``part`` does not exist there.
    """
    node = unwrap_annotation(node)
    if is_model(node):
        if part in getattr(node, "__loc_transparent__", ()):
            return node.model_fields[part].annotation, False
        if isinstance(part, str) and part in node.model_fields:
            return node.model_fields[part].annotation, True
        return None, True
    if isinstance(node, tuple):  # a union of models: the part is a discriminator tag
        for m in node:
            if is_model(m) and part in _tags(m):
                return m, False
        return None, True
    origin, args = get_origin(node), get_args(node)
    if origin is list and isinstance(part, int):
        return args[0], True
    if origin is tuple and isinstance(part, int) and args:
        if args[-1] is Ellipsis:
            return args[0], True
        return (args[part] if part < len(args) else None), True
    if origin is dict:
        return args[1], True
    return None, True


def field_names(node: Any) -> list[str]:
    """Valid keys at ``node`` (a union of models gives the union of their fields)."""
    node = unwrap_annotation(node)
    models = (
        [node]
        if is_model(node)
        else [m for m in node if is_model(m)]
        if isinstance(node, tuple)
        else []
    )
    names: list[str] = []
    for m in models:
        hidden = getattr(m, "__loc_transparent__", ())
        names += [n for n in m.model_fields if n not in names and n not in hidden]
    return names


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def field_loc(parts: Sequence[str | int]) -> str:
    """Dotted path of a location whose dotted keys (sweep paths) are quoted."""
    return format_loc(f'"{p}"' if isinstance(p, str) and "." in p else p for p in parts)


def _message(err: Mapping[str, Any], node: Any, key: str | int | None) -> str:
    t, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    if t == "missing":
        return "is required: add it to the spec"
    if t == "extra_forbidden":
        names = field_names(node)
        return (
            f"unknown key {key!r}{suggest(str(key), names)} (valid keys here: {', '.join(names)})"
        )
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if t in bounds:
        bound = next(iter(ctx.values()), "?")
        return f"must be {bounds[t]} {bound} (got {inp!r}): change the value"
    if t == "finite_number":
        return f"must be a finite number (got {inp!r}): give a finite value"
    if t == "union_tag_invalid":
        tags = [s.strip(" '") for s in str(ctx.get("expected_tags", "")).split(",")]
        hint = suggest(str(ctx.get("tag")), tags).removeprefix("; ")
        return (
            f"unknown {str(ctx.get('discriminator', 'tag')).strip(chr(39))} "
            f"{ctx.get('tag')!r}{f' ({hint})' if hint else ''}: use one of {', '.join(tags)}"
        )
    if t == "union_tag_not_found":
        members = unwrap_annotation(node)
        tags = sorted(
            str(t) for m in (members if isinstance(members, tuple) else ()) for t in _tags(m)
        )
        return f"needs a {str(ctx.get('discriminator', 'tag')).strip(chr(39))} key" + (
            f" (one of {', '.join(tags)})" if tags else ""
        )
    if t == "literal_error":
        expected = [
            s.strip(" '") for s in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        ]
        return f"must be one of {ctx.get('expected')} (got {inp!r}){suggest(str(inp), expected)}"
    if t.startswith(("float_", "int_", "bool_", "string_", "list_", "tuple_", "dict_", "model_")):
        return f"{err['msg'][0].lower()}{err['msg'][1:]} (got {inp!r}): fix the value's type"
    return str(err["msg"])


def field_errors_from_pydantic(
    exc: Any, model: Any, prefix: Sequence[str | int] = ()
) -> list[FieldError]:
    """Field errors (dotted ``loc``, fix-it ``msg``) of a ``pydantic.ValidationError``.

    ``model`` is the model class that was validated; its schema is walked to drop
    discriminator tags from locations and to suggest close names for unknown keys.
    """
    out: list[FieldError] = []
    for err in exc.errors():
        loc = list(err["loc"])
        node, parent, clean = model, model, []
        for part in loc:
            parent = node
            node, shown = child(node, part) if node is not None else (None, True)
            if shown:
                clean.append(part)
        key = loc[-1] if loc else None
        if err["type"] == "spec_fields":
            for rel, msg in err["ctx"]["fields"]:
                out.append({"loc": field_loc([*prefix, *clean, *rel]), "msg": msg})
            continue
        where = parent if err["type"] == "extra_forbidden" else node
        out.append({"loc": field_loc([*prefix, *clean]), "msg": _message(err, where, key)})
    return out


def child_members(node: Any) -> list[Any]:
    """Model classes of a union annotation (empty for anything else)."""
    node = unwrap_annotation(node)
    return [m for m in node if is_model(m)] if isinstance(node, tuple) else []
