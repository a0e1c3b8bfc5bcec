"""What the API declares: the OpenAPI document (spec body, every status, problem documents) and
``Allow`` headers that list every method of a path.

FastAPI derives the schema from the routes; this module completes it:

- ``POST /v1/sweeps`` declares its body: the JSON schema of
  :class:`patchwalk_client.model.SweepSpec` for ``application/json``, and spec text for
  ``application/toml`` and ``application/yaml`` (alternative media types);
- every operation lists the statuses it can answer besides success — 401 (with tokens), 404 on
  ``/{sweep_id}`` routes, 409 on result routes, 413/415/429/507 on submission, 503 on event
  streams — each as ``application/problem+json`` (:data:`PROBLEM_SCHEMA`), and 422 as a problem
  document rather than FastAPI's default body; cached result routes also declare 304;
- a 405 answer's ``Allow`` lists the methods of every route on that path, not of the first one.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .problems import PROBLEM_TYPE, ProblemError, problem_response

#: JSON schema of an RFC 9457 problem document as this service writes it.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    304: "not modified: the ETag named in If-None-Match is current",
    400: "a filter or index that matches nothing; the problem names what exists",
    401: "missing or invalid bearer token",
    404: "no such sweep",
    409: "no results yet (no task finished), not a 2D sweep, or no density requested",
    413: "request body over PATCHWALK_MAX_BODY_BYTES",
    415: "unsupported content type",
    422: "invalid request or spec; errors name the fields",
    429: "quota or rate limit reached; see Retry-After",
    503: "not ready, or too many event streams; see Retry-After",
    507: "disk full or the disk cap reached; see Retry-After",
}
_RESULT_ROUTES = ("/kappa", "/kappa2d", "/escape", "/theory", "/density", "/plot.png",
                  "/dataset")
_CACHED = ("/kappa", "/kappa2d", "/escape", "/theory", "/density", "/plot.png")
#: Routes that answer 400 for a filter (``?axis=value``) or an index matching nothing.
_FILTERED = ("/kappa", "/kappa2d", "/escape", "/theory", "/density", "/medium")
_PUBLIC = ("/healthz", "/readyz")


def _statuses(path: str, method: str, protected: bool) -> list[int]:
    codes = [422]
    if protected:
        codes.append(401)
    if "{sweep_id}" in path:
        codes.append(404)
    if path.endswith(_RESULT_ROUTES):
        codes.append(409)
    if path.endswith(_CACHED):
        codes.append(304)
    if path.endswith(_FILTERED):
        codes.append(400)
    if path == "/v1/sweeps" and method == "post":
        codes += [413, 415, 429, 507]
    if path.endswith("/events") or path == "/readyz":
        codes.append(503)
    return codes


#: ``POST /v1/sweeps?dry_run=1``: the cost of a spec on this cluster (nothing is created).
DRY_RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec_hash", "tasks", "estimated_steps", "estimated_cpu_hours", "accepted"],
    "properties": {
        "name": {"type": "string"}, "spec_hash": {"type": "string"},
        "n_points": {"type": "integer"}, "tasks": {"type": "integer"},
        "kernels": {"type": "array", "items": {"type": "string"}},
        "estimated_steps": {"type": "number"}, "estimated_cpu_hours": {"type": "number"},
        "workers": {"type": "integer"}, "estimated_wall_seconds": {"type": "number"},
        "budget_cpu_hours": {"type": "number"}, "accepted": {"type": "boolean"},
    },
    "additionalProperties": True,
}

#: A small sweep that runs in well under a second (the body's example).
EXAMPLE_SPEC: dict[str, Any] = {
    "name": "example",
    "seed": 1,
    "medium": {"patches": [[1.0, 1.0], [0.5, 0.1]]},
    "particles": {"count": 200, "per_task": 100},
    "times": {"min": 0.01, "max": 1.0, "count": 4},
}


def _spec_body() -> dict[str, Any]:
    text = {"schema": {"type": "string", "description": "the spec as TOML or YAML text"}}
    return {
        "required": True,
        "description": "the sweep spec (docs/spec.md); the body is spec text, never a path",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SweepSpec"},
                                 "example": EXAMPLE_SPEC},
            "application/toml": text,
            "application/yaml": text,
        },
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The complete OpenAPI document of ``app`` (see the module docstring)."""
    from patchwalk_client.model import SweepSpec

    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    spec_schema = SweepSpec.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(spec_schema.pop("$defs", {}))
    schemas["SweepSpec"] = spec_schema
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    tokens = bool(app.state.settings.tokens)
    if tokens:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    problem = {"content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            protected = path not in _PUBLIC
            if tokens and protected:
                op["security"] = [{"bearer": []}]
            responses = op.setdefault("responses", {})
            for code in _statuses(path, method, protected):
                entry: dict[str, Any] = {"description": _DESCRIPTIONS[code]}
                if code != 304:
                    entry.update(problem)
                responses[str(code)] = entry
            if path == "/v1/sweeps" and method == "post":
                op["requestBody"] = _spec_body()
                # ?dry_run=1 answers 200 with the cost estimate instead of a sweep status
                ok = responses.get("200", {}).get("content", {}).get("application/json", {})
                if "schema" in ok:
                    dry = {"$ref": "#/components/schemas/DryRun"}
                    ok["schema"] = {"anyOf": [ok["schema"], dry]}
                schemas["DryRun"] = DRY_RUN_SCHEMA
    _link_submissions(schema)
    return schema


def _link_submissions(schema: dict[str, Any]) -> None:
    """OpenAPI links from a submission's answer (its ``id``) to every ``/{sweep_id}`` route."""
    paths = schema.get("paths", {})
    links: dict[str, Any] = {}
    for path, item in paths.items():
        if "{sweep_id}" not in path:
            continue
        for method, op in item.items():
            name = f"{method}_{path.rsplit('/', 1)[-1].replace('{sweep_id}', 'sweep')}"
            links[name.replace(".", "_")] = {
                "operationId": op["operationId"],
                "parameters": {"sweep_id": "$response.body#/id"},
            }
    post = paths.get("/v1/sweeps", {}).get("post")
    if post is not None:
        for code in ("200", "202"):
            if code in post["responses"]:
                post["responses"][code]["links"] = links


def _type_errors(given: Any, read: Any, loc: str, out: list[dict[str, str]]) -> None:
    if isinstance(given, dict) and isinstance(read, dict):
        for key, value in given.items():
            if key in read:
                _type_errors(value, read[key], f"{loc}.{key}" if loc else str(key), out)
    elif isinstance(given, list) and isinstance(read, list):
        for i, (a, b) in enumerate(zip(given, read, strict=False)):
            _type_errors(a, b, f"{loc}[{i}]", out)
    elif isinstance(given, bool) != isinstance(read, bool) or (
        isinstance(given, str) != isinstance(read, str)
    ):
        want = "true or false" if isinstance(read, bool) else (
            "a string" if isinstance(read, str) else "a number")
        out.append({"loc": loc, "msg": f"expected {want} (JSON type), got {given!r}"})


def check_body_types(given: dict[str, Any], read: dict[str, Any]) -> None:
    """422 when a JSON body was accepted only by coercion the schema does not allow.

    The spec models validate in pydantic's lax mode (``0`` reads as ``false``, ``"2"`` as 2);
    the published schema says ``boolean`` and ``number``. Comparing the body with the spec read
    from it finds each such value, so that the service answers exactly what it documents.
    """
    errors: list[dict[str, str]] = []
    _type_errors(given, read, "", errors)
    if errors:
        raise ProblemError(
            422, "; ".join(f"{e['loc']}: {e['msg']}" for e in errors),
            title="Invalid sweep spec", errors=errors,
        )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the API documents on ``path`` (matched against the schema's templates)."""
    methods: set[str] = set()
    for template, item in app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods.update(m.upper() for m in item)
    return sorted(methods)


def install_contract(app: FastAPI) -> None:
    """Use :func:`build_openapi` for the schema and complete ``Allow`` on 405 answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem_response(request, exc.status_code, detail, headers=headers or None)
