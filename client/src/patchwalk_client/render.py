"""Results as the command line prints them: tables, JSON and CSV of κ̄(t), κ̄_2D, escape, theory.

One renderer for ``patchwalk run``, ``show`` and ``results`` so that the three print the same
thing. ``what`` picks the result (:data:`WHATS`); CSV has one row per point and time (κ̄,
theory) or per point and escape distance (escape), or one per point (κ̄_2D), with the sweep
axes as columns in the spec's axis order. Numbers are printed as the spec gave them: a time of
``0.1`` is ``0.1`` (rounded to 15 significant digits), not ``0.09999999999999998``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any, Literal

from .models import EscapePoint, Kappa2DPoint, KappaPoint, Record, TheoryPoint

What = Literal["kappa", "kappa2d", "escape", "theory"]
WHATS: tuple[str, ...] = ("kappa", "kappa2d", "escape", "theory")
Format = Literal["table", "json", "csv"]


def num(x: Any) -> str:
    """A number as short as it reads: 15 significant digits, ``repr`` of that float."""
    if x is None:
        return "nan"
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return repr(float(f"{x:.15g}"))
    return str(x)


def _g(x: float | None) -> str:
    return "nan" if x is None else f"{x:.6g}"


def _cell(x: Any) -> str:
    """A computed value in CSV: full precision (``repr``), empty for null."""
    if x is None:
        return ""
    return repr(x) if isinstance(x, float) else str(x)


def _given(x: Any) -> str:
    """A value the spec gave (time, axis value, distance) in CSV: as written."""
    return "" if x is None else num(x)


def axes_of(points: Sequence[Record]) -> list[str]:
    """The sweep axes in the spec's order (the order of the first point's params)."""
    names: list[str] = []
    for p in points:
        for k in p.params:  # type: ignore[attr-defined]
            if k not in names:
                names.append(k)
    return names


def _params(p: Any) -> str:
    return ", ".join(f"{k}={num(v)}" for k, v in p.params.items()) or "(no sweep axes)"


def to_json(points: Sequence[Record]) -> str:
    """``{"points": [...]}``: the REST body of the result (NaN as null)."""
    return json.dumps({"points": [p.to_dict() for p in points]}, allow_nan=False)


# ---- tables ---------------------------------------------------------------------------------

def _kappa_table(points: Sequence[KappaPoint]) -> list[str]:
    lines: list[str] = []
    for i, pt in enumerate(points):
        lines.append(f"point {i}: {_params(pt)}")
        lines.append(
            f"  kappa_A = {_g(pt.kappa_A)} (ensemble {_g(pt.kappa_A_ensemble)}), "
            f"kappa_H = {_g(pt.kappa_H)} (ensemble {_g(pt.kappa_H_ensemble)}), "
            f"{pt.n_particles} particles in {pt.n_tasks} tasks"
            + (f", kappa_perp = {_g(pt.kappa_perp)}" if pt.kappa_perp is not None else "")
        )
        lines.append(f"  {'t':>12}  {'kappa(t)':>12}  {'stderr':>10}   "
                     f"(error from {pt.kappa_err_source})")
        for t, k, e in zip(pt.t, pt.kappa, pt.kappa_err, strict=True):
            lines.append(f"  {num(t):>12}  {_g(k):>12}  {_g(e):>10}")
    return lines


def _kappa2d_table(points: Sequence[Kappa2DPoint]) -> list[str]:
    lines = ["kappa_2D (converged late-time 2D diffusion coefficient, Section 4):"]
    for i, p in enumerate(points):
        flag = ("converged" if p.converged else
                f"NOT converged (log-slope {_g(p.log_slope)}, needs 1 +- 5 %: run to a later "
                "times.max)")
        lines.append(f"point {i}: {_params(p)}")
        lines.append(f"  kappa_2D = {_g(p.kappa_2d)} +- {_g(p.kappa_2d_err)}  {flag}")
        lines.append(f"  kappa_A = {_g(p.kappa_A)}, kappa_H = {_g(p.kappa_H)}, "
                     f"kappa_perp = {_g(p.kappa_perp)}, eq. (10) {_g(p.heuristic_10)}, "
                     f"eq. (11) {_g(p.heuristic_11)}; {p.n_particles} particles in "
                     f"{p.n_tasks} tasks")
    return lines


def _escape_table(points: Sequence[EscapePoint]) -> list[str]:
    lines = ["escape (first passage past |dx| >= L by times.max; 1/<tau> = 1/mean time; "
             "<1/tau> = mean rate over all particles, eq. 8 / Fig. 4, unescaped counted 0, "
             "'upper' counts them 1/t_max):"]
    for i, p in enumerate(points):
        lines.append(f"point {i}: {_params(p)}")
        if p.fraction is None:
            lines.append("  no escape distances in the spec (escape.distances)")
            continue
        lines.append(f"  {'L':>10}  {'fraction':>9}  {'mean time':>11}  {'+-':>9}  "
                     f"{'1/<tau>':>11}  {'+-':>9}  {'<1/tau>':>11}  {'+-':>9}  "
                     f"{'upper':>11}  {'eq. (8)':>11}")
        n = len(p.distance)
        eq8 = p.rate_eq8 or [None] * n
        mr, mre, mru = (v or [None] * n for v in (p.mean_rate, p.mean_rate_err,
                                                   p.mean_rate_upper))
        rows = zip(p.distance, p.fraction, p.mean_time or [], p.mean_time_err or [],
                   p.rate or [], p.rate_err or [], mr, mre, mru, eq8, strict=False)
        for d, f, mt, mte, r, re_, m, me, mu, e8 in rows:
            note = "" if f is not None and f >= 1.0 else "  (incomplete escape: time biased low)"
            lines.append(f"  {num(d):>10}  {_g(f):>9}  {_g(mt):>11}  {_g(mte):>9}  "
                         f"{_g(r):>11}  {_g(re_):>9}  {_g(m):>11}  {_g(me):>9}  "
                         f"{_g(mu):>11}  {_g(e8):>11}{note}")
    return lines


def _theory_table(points: Sequence[TheoryPoint]) -> list[str]:
    lines = ["theory curves (nan: outside the curve's range of validity, reasons below):"]
    for i, p in enumerate(points):
        names = list(p.curves)
        widths = [max(12, len(n)) for n in names]
        lines.append(f"point {i}: {_params(p)}")
        lines.append("  " + "  ".join(
            [f"{'t':>12}", *(f"{n:>{w}}" for n, w in zip(names, widths, strict=True))]))
        for j, t in enumerate(p.t):
            lines.append("  " + "  ".join(
                [f"{num(t):>12}", *(f"{_g(p.curves[n][j]):>{w}}"
                                    for n, w in zip(names, widths, strict=True))]))
        for n in names:
            r = p.validity.get(n)
            if r is not None and any(v is None for v in p.curves[n]):
                lines.append(f"  {n}: {r.reason}")
    return lines


def table(what: str, points: Sequence[Any]) -> str:
    """The human-readable table of one result."""
    fn = {"kappa": _kappa_table, "kappa2d": _kappa2d_table, "escape": _escape_table,
          "theory": _theory_table}[what]
    return "\n".join(fn(points))  # type: ignore[operator]


# ---- CSV ------------------------------------------------------------------------------------

def csv_text(what: str, points: Sequence[Any]) -> str:
    """CSV of one result: a header, then rows; axes as columns in the spec's axis order."""
    axes = axes_of(points)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def lead(i: int, p: Any) -> list[str]:
        return [str(i), *(_given(p.params.get(a)) for a in axes)]

    if what == "kappa":
        w.writerow(["point", *axes, "t", "kappa", "kappa_err", "kappa_A", "kappa_H"])
        for i, p in enumerate(points):
            for t, k, e in zip(p.t, p.kappa, p.kappa_err, strict=True):
                w.writerow([*lead(i, p), _given(t), _cell(k), _cell(e), _cell(p.kappa_A),
                            _cell(p.kappa_H)])
    elif what == "kappa2d":
        cols = ["kappa_2d", "kappa_2d_err", "converged", "log_slope", "kappa_A", "kappa_H",
                "kappa_perp", "heuristic_10", "heuristic_11", "n_particles", "n_tasks"]
        w.writerow(["point", *axes, *cols])
        for i, p in enumerate(points):
            w.writerow([*lead(i, p), *(_cell(getattr(p, c)) for c in cols)])
    elif what == "escape":
        cols = ["fraction", "mean_time", "mean_time_err", "rate", "rate_err", "mean_rate",
                "mean_rate_err", "mean_rate_upper", "rate_eq8"]
        w.writerow(["point", *axes, "distance", *cols])
        for i, p in enumerate(points):
            for j, d in enumerate(p.distance):
                vals = [getattr(p, c) for c in cols]
                w.writerow([*lead(i, p), _given(d),
                            *(_cell(v[j]) if v is not None else "" for v in vals)])
    else:
        names: list[str] = []
        for p in points:
            names += [n for n in p.curves if n not in names]
        w.writerow(["point", *axes, "t", *names])
        for i, p in enumerate(points):
            for j, t in enumerate(p.t):
                w.writerow([*lead(i, p), _given(t),
                            *(_cell(p.curves[n][j]) if n in p.curves else "" for n in names)])
    return buf.getvalue().rstrip("\n")


def render(what: str, points: Sequence[Any], fmt: str) -> str:
    """One result as a table, JSON or CSV (``fmt`` one of :data:`Format`)."""
    if fmt == "json":
        return to_json(points)
    if fmt == "csv":
        return csv_text(what, points)
    return table(what, points)
