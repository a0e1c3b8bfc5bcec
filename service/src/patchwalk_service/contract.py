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

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from .problems import PROBLEM_TYPE, problem_response

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
    401: "missing or invalid bearer token",
    404: "no such sweep",
    409: "the sweep is not done (or not 2D)",
    413: "request body over PATCHWALK_MAX_BODY_BYTES",
    415: "unsupported content type",
    422: "invalid request or spec; errors name the fields",
    429: "quota or rate limit reached; see Retry-After",
    503: "not ready, or too many event streams; see Retry-After",
    507: "disk full or the disk cap reached; see Retry-After",
}
_RESULT_ROUTES = ("/kappa", "/kappa2d", "/escape", "/theory", "/plot.png", "/dataset")
_CACHED = ("/kappa", "/kappa2d", "/escape", "/theory", "/plot.png")
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
    if path == "/v1/sweeps" and method == "post":
        codes += [413, 415, 429, 507]
    if path.endswith("/events") or path == "/readyz":
        codes.append(503)
    return codes


def _spec_body() -> dict[str, Any]:
    text = {"schema": {"type": "string", "description": "the spec as TOML or YAML text"}}
    return {
        "required": True,
        "description": "the sweep spec (docs/spec.md); the body is spec text, never a path",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SweepSpec"}},
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
    return schema


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers on ``path``."""
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods.update(route.methods)
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
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return problem_response(request, exc.status_code, detail, headers=headers or None)
