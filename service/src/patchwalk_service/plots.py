"""PNG figures of a finished sweep (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from patchwalk_client.models import Kappa2DPoint, KappaPoint


def _plain(text: str) -> str:
    """User text shown literally: ``$`` escaped, so matplotlib never parses it as mathtext."""
    return text.replace("$", r"\$")


def _label(params: dict[str, Any]) -> str:
    return _plain(
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
    """Log-log κ̄(t) ± error per point with κ_A (dashed) and κ_H (dotted) in its colour."""
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
    title = _plain(title)
    ax.set_title(f"{title}   (dashed: κ_A, dotted: κ_H)" if title else "dashed: κ_A, dotted: κ_H")
    if 0 < len(points) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def plot_kappa2d(points: Sequence[Kappa2DPoint], *, title: str = "") -> bytes:
    """Converged κ̄_2D ± error against the first swept axis; κ_A, κ_H, heuristics (10), (11)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    axis = next(iter(points[0].params), None) if points else None
    numeric = axis is not None and all(
        isinstance(p.params.get(axis), (int, float)) for p in points
    )
    if numeric and axis is not None:
        xs = [float(p.params[axis]) for p in points]
        ax.set_xlabel(_plain(axis))
    else:
        xs = [float(i) for i in range(len(points))]
        ax.set_xlabel("point")
    ys = _finite([p.kappa_2d for p in points])
    es = _finite([p.kappa_2d_err for p in points])
    ax.errorbar(xs, ys, yerr=es, fmt="o-", label="κ̄_2D (converged)")
    for key, style, label in (
        ("kappa_A", "--", "κ_A"),
        ("kappa_H", ":", "κ_H"),
        ("heuristic_10", ":", "heuristic (10), PHM at l⊥²/κ⊥"),
        ("heuristic_11", "-.", "scaling (11)"),
    ):
        vals = [getattr(p, key) for p in points]
        if all(v is not None for v in vals):
            ax.plot(xs, _finite(vals), style, label=label)
    if numeric and all(x > 0 for x in xs):
        ax.set_xscale("log")
    if all(y > 0 for y in ys if not math.isnan(y)):
        ax.set_yscale("log")
    ax.set_ylabel("κ̄_2D")
    ax.set_title(_plain(title))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
