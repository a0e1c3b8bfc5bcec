"""PNG figures of a finished sweep (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from patchwalk_client.models import Kappa2DPoint, KappaPoint


def escape_text(text: str) -> str:
    """User text (a sweep name, an axis value) as matplotlib shows it: ``$`` is not math."""
    return text.replace("$", r"\$")


def _label(params: dict[str, Any]) -> str:
    return escape_text(
        ", ".join(
            f"{k.split('.')[-1]}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
            for k, v in params.items()
        )
        or "κ̄(t)"
    )


def _finite(xs: Sequence[float | None]) -> list[float]:
    return [float("nan") if x is None else float(x) for x in xs]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def plot_kappa(points: Sequence[KappaPoint], *, title: str = "") -> bytes:
    """Log-log κ̄(t) with its ±1σ band per point, κ_A (dashed) and κ_H (dotted) in its colour."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, p in enumerate(points):
        color = f"C{i % 10}"
        t, k, e = _finite(p.t), _finite(p.kappa), _finite(p.kappa_err)
        ax.plot(t, k, color=color, label=_label(p.params))
        lo = [max(a - b, a * 1e-3) if not math.isnan(b) else a for a, b in zip(k, e, strict=True)]
        hi = [a + b if not math.isnan(b) else a for a, b in zip(k, e, strict=True)]
        ax.fill_between(t, lo, hi, color=color, alpha=0.2, linewidth=0)
        for v, style in ((p.kappa_A, "--"), (p.kappa_H, ":")):
            if v is not None and v > 0:
                ax.axhline(v, color=color, linestyle=style, linewidth=0.9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("κ̄(t) = ⟨Δx²⟩ / 2t")
    key = ("band: ±1σ (standard error); dashed: κ_A (arithmetic mean, eq. 3); "
           "dotted: κ_H (harmonic mean, eq. 4)")
    ax.set_title(f"{escape_text(title)}\n{key}" if title else key, fontsize=8)
    if 0 < len(points) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _x_axis(ax: Any, points: Sequence[Kappa2DPoint]) -> list[float]:
    """Positions of the points on the first swept axis: log where the values span decades,
    symlog with 0 marked when 0 is one of them; point index otherwise."""
    axis = next(iter(points[0].params), None) if points else None
    if axis is None or not all(isinstance(p.params.get(axis), (int, float)) for p in points):
        ax.set_xlabel("point")
        return [float(i) for i in range(len(points))]
    xs = [float(p.params[axis]) for p in points]
    ax.set_xlabel(escape_text(axis))
    pos = [x for x in xs if x > 0]
    if pos and max(pos) / min(pos) >= 100 and all(x >= 0 for x in xs):
        if any(x == 0 for x in xs):
            ax.set_xscale("symlog", linthresh=min(pos), linscale=0.5)
            ax.axvspan(0, min(pos), color="0.93", zorder=0, label=f"linear below {min(pos):g}")
        else:
            ax.set_xscale("log")
    return xs


def draw_kappa2d(ax: Any, points: Sequence[Kappa2DPoint], *, title: str = "") -> None:
    """κ̄_2D ± 1σ against the first swept axis on ``ax``: converged points filled, the others
    open and labelled so; κ_A and κ_H of each point's realisations as markers; eqs (10), (11)."""
    xs = _x_axis(ax, points)
    ys = _finite([p.kappa_2d for p in points])
    es = _finite([p.kappa_2d_err for p in points])
    for converged, label, face in ((True, "κ̄_2D ± 1σ, converged", None),
                                   (False, "κ̄_2D ± 1σ, NOT converged (t_max too short)", "none")):
        idx = [i for i, p in enumerate(points) if p.converged is converged]
        if idx:
            ax.errorbar([xs[i] for i in idx], [ys[i] for i in idx], yerr=[es[i] for i in idx],
                        fmt="o", color="C0", mfc=face, capsize=3, label=label)
    if len(points) > 1:
        ax.plot(xs, ys, "-", color="C0", linewidth=0.8)
    for key, style, label in (
        ("kappa_A", "^", "κ_A of the point's realisations (arithmetic mean, eq. 3)"),
        ("kappa_H", "v", "κ_H of the point's realisations (harmonic mean, eq. 4)"),
        ("heuristic_10", "s", "eq. (10): PHM at τ⊥ = l⊥²/κ⊥"),
        ("heuristic_11", "D", "eq. (11): scaling"),
    ):
        vals = _finite([getattr(p, key) for p in points])
        if any(not math.isnan(v) for v in vals):
            ax.plot(xs, vals, style, mfc="none", linestyle="none", label=label)
    finite = [y for y in ys if not math.isnan(y)]
    if finite and all(y > 0 for y in finite):
        ax.set_yscale("log")
    ax.set_ylabel("κ̄_2D (late-time slope of ⟨Δx²⟩/2)")
    ax.set_title(escape_text(title))
    ax.legend(fontsize=6)


def plot_kappa2d(points: Sequence[Kappa2DPoint], *, title: str = "") -> bytes:
    """Converged κ̄_2D ± 1σ against the first swept axis (:func:`draw_kappa2d`) as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_kappa2d(ax, points, title=title)
    fig.tight_layout()
    return _png(fig)
