"""Building blocks of every spec model: the strict base class, number types, field errors.

Every spec model derives from :class:`SpecModel` (unknown keys are refused). A model
validator that finds several problems reports them at once with :func:`fail_fields`;
:func:`patchwalk_client.schema.field_errors_from_pydantic` turns them back into field errors
with full dotted locations.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

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


