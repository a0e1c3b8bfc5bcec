"""Beyond the paper (docs/gallery.md): the two ``beyond_*`` gallery figures at full size.

Runs ``patchwalk gallery beyond_contrast beyond_index --out DIR`` (a local service, as a user
would) and prints the tables of docs/gallery.md from the checks it wrote:

* ``beyond_contrast``: Fig. 3 carried to κ_H at κ_high/κ_low = 10⁴ … 10⁶ (reference lattice,
  exact on the same realisations to t = 10³);
* ``beyond_index``: the energy index of κ̄_2D for κ∥ ∝ E², κ⊥ ∝ E⁰ against α (eq. 10, 11).

Usage: ``python benchmarks/gallery_beyond.py [DIR]`` (default ``gallery-beyond``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from patchwalk_service.gallery import run_gallery


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "gallery-beyond")
    t0 = time.monotonic()
    res = run_gallery(["beyond_contrast", "beyond_index"], quick=False, out=out, workers=2)
    print(f"wall {time.monotonic() - t0:.0f} s (with the service start)")
    c = res["beyond_contrast"]
    print("| α | κ_high/κ_low | κ̄(t_max)/κ_H | max |z| exact vs lattice | t(κ̄ = 2κ_H) |")
    print("|---|---|---|---|---|")
    for p in c["points"].values():
        print(f"| {p['alpha']:g} | {p['contrast']:.0e} | {p['last_over_kappa_H']:.4f} ± "
              f"{p['last_err']:.4f} | {p['max_abs_z_exact_vs_reference']:.1f} | "
              f"{p['t_twice_kappa_H']:.3g} |")
    print("collapse:", c["collapse"])
    d = res["beyond_index"]
    print("| α | index 2(1 + s) | 4 − α (eq. 11) | C7, same window |")
    print("|---|---|---|---|")
    for a, r in d["indices"].items():
        print(f"| {a} | {r['index']:.3f} ± {r['err']:.3f} | {r['expected']:.3f} | "
              f"{r['c7_index']:.3f} |")
    print("α where the index is 1/2, 1/3:", d["alpha_at"])


if __name__ == "__main__":
    main()
