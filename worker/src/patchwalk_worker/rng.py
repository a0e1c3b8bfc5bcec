"""Random numbers usable inside numba nopython code.

The generator is xoshiro256++ (Blackman & Vigna) on a ``uint64[4]`` state array, with

* :func:`uniform` -- a double in [0, 1) from the top 53 bits of one output,
* :func:`normal` -- a standard normal by the ziggurat method (Marsaglia & Tsang 2000) with
  256 layers; the layer tables are built here at import from the standard construction
  (equal-area layers under f(x) = exp(-x²/2), base layer holding the tail), and one 64-bit
  output supplies the layer index, the sign and a 53-bit uniform.

Seed streams (the only place they are defined; table in docs/interfaces.md §6): every random
draw of a sweep comes from ``SeedSequence(seed, spawn_key=(point, task, stream))``:

* stream :data:`MEDIUM_STREAM` (0) -- :func:`medium_rng`, the medium realisation of a task;
  theory curves and the κ̄_2D heuristics use :func:`theory_rng`, the same stream of
  ``(point, task) = (0, 0)`` (drawn with each point's own spec);
* stream :data:`PARTICLE_STREAM` (1) -- :func:`task_state`, the task's xoshiro state; particle
  ``p``'s state is :func:`particle_state` -- every state word hashed with ``p`` by the
  splitmix64 finaliser (a bijection of the word), so each particle has its own 256-bit starting
  point, and results depend only on (seed, point, task), never on threads or order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_U64 = np.uint64
_N_LAYERS = 256
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


def _f(x: float) -> float:
    return math.exp(-0.5 * x * x)


def _finv(y: float) -> float:
    return math.sqrt(-2.0 * math.log(y))


def _close_top(r: float) -> float:
    """Mismatch at the top of the ziggurat built from base ``r`` (zero for the right ``r``)."""
    v = r * _f(r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    x = r
    for _ in range(_N_LAYERS - 2):
        y = _f(x) + v / x
        if y >= 1.0:
            return 1.0  # ran out of room before the top: r too small
        x = _finv(y)
    return _f(x) + v / x - 1.0


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, float]:
    """Layer abscissae ``x[0..256]`` (x[0] = v/f(r), x[1] = r, x[256] = 0) and ``f(x)``.

    Every layer ``i`` is the rectangle [0, x[i]] x [f(x[i]), f(x[i+1])] of area v; layer 0 is
    the base rectangle of width v/f(r) whose part beyond r stands for the tail.
    """
    lo, hi = 2.0, 5.0
    for _ in range(200):  # bisection: _close_top > 0 for r too small, < 0 for r too large
        mid = 0.5 * (lo + hi)
        if _close_top(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    r = 0.5 * (lo + hi)
    v = r * _f(r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    x = np.empty(_N_LAYERS + 1)
    x[0] = v / _f(r)
    x[1] = r
    for i in range(1, _N_LAYERS - 1):
        x[i + 1] = _finv(_f(x[i]) + v / x[i])
    x[_N_LAYERS] = 0.0
    fx = np.exp(-0.5 * x * x)
    return x, fx, r


ZIG_X, ZIG_F, ZIG_R = _ziggurat_tables()


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << _U64(k)) | (x >> _U64(64 - k))


@njit(cache=True, inline="always")
def next_u64(s: np.ndarray) -> np.uint64:
    """Next 64-bit output of xoshiro256++; advances ``s`` (uint64[4]) in place."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(cache=True, inline="always")
def uniform(s: np.ndarray) -> float:
    """Uniform double in [0, 1) (53 random bits)."""
    return float(next_u64(s) >> _U64(11)) * _TWO_M53


@njit(cache=True)
def _normal_slow(s: np.ndarray, i: int, xx: float, neg: bool) -> float:
    """Ziggurat rejection branch: the tail (layer 0) or a wedge (layers 1..255)."""
    zx = ZIG_X
    zf = ZIG_F
    while True:
        if i == 0:
            # Marsaglia's tail sampler for x > r
            r = zx[1]
            while True:
                a = -math.log(1.0 - uniform(s)) / r
                b = -math.log(1.0 - uniform(s))
                if b + b > a * a:
                    return -(r + a) if neg else r + a
        if zf[i] + uniform(s) * (zf[i + 1] - zf[i]) < math.exp(-0.5 * xx * xx):
            return -xx if neg else xx
        # rejected: draw afresh
        u = next_u64(s)
        i = int(u & _U64(0xFF))
        neg = (u >> _U64(8)) & _U64(1) == _U64(1)
        xx = float(u >> _U64(11)) * _TWO_M53 * zx[i]
        if xx < zx[i + 1]:
            return -xx if neg else xx


@njit(cache=True, inline="always")
def normal(s: np.ndarray) -> float:
    """Standard normal deviate (ziggurat, 256 layers; one 64-bit draw on the fast path)."""
    u = next_u64(s)
    i = int(u & _U64(0xFF))
    neg = (u >> _U64(8)) & _U64(1) == _U64(1)
    xx = float(u >> _U64(11)) * _TWO_M53 * ZIG_X[i]
    if xx < ZIG_X[i + 1]:
        return -xx if neg else xx
    return _normal_slow(s, i, xx, neg)


@njit(cache=True, inline="always")
def _mix64(z: np.uint64) -> np.uint64:
    """splitmix64 finaliser (a bijection of uint64)."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


@njit(cache=True)
def particle_state(task: np.ndarray, p: int, out: np.ndarray) -> None:
    """Write particle ``p``'s xoshiro state into ``out`` (uint64[4]), derived from ``task``.

    Word k is ``mix(task[k] ^ mix(4p + k + 1))``; distinct (p, k) give distinct words for the
    same task word, so no two particles of a task share a state.
    """
    for k in range(4):
        out[k] = _mix64(task[k] ^ _mix64(_U64(4 * p + k + 1)))
    if out[0] == 0 and out[1] == 0 and out[2] == 0 and out[3] == 0:  # pragma: no cover
        out[0] = _U64(0x9E3779B97F4A7C15)


#: Stream of a task's medium realisation.
MEDIUM_STREAM = 0
#: Stream of a task's particles.
PARTICLE_STREAM = 1


def seed_sequence(seed: int, point: int, task: int, stream: int) -> np.random.SeedSequence:
    """``SeedSequence(seed, spawn_key=(point, task, stream))``: the root of every random draw."""
    if seed < 0 or point < 0 or task < 0:
        raise ValueError(
            f"seed, point and task must be >= 0 (got {seed}, {point}, {task}); "
            "use the sweep seed and 0-based point/task indices"
        )
    return np.random.SeedSequence(seed, spawn_key=(point, task, stream))


def medium_rng(seed: int, point: int, task: int) -> np.random.Generator:
    """Generator of the medium realisation of task ``(point, task)``."""
    return np.random.default_rng(seed_sequence(seed, point, task, MEDIUM_STREAM))


def theory_rng(seed: int) -> np.random.Generator:
    """Generator of the realisation the theory curves are evaluated on (task 0 of point 0)."""
    return medium_rng(seed, 0, 0)


def task_state(seed: int, point: int, task: int) -> np.ndarray:
    """xoshiro256 state (uint64[4]) of a task, from its :data:`PARTICLE_STREAM`."""
    state = seed_sequence(seed, point, task, PARTICLE_STREAM).generate_state(4, np.uint64)
    if not state.any():  # pragma: no cover - probability 2**-256
        state[0] = np.uint64(0x9E3779B97F4A7C15)
    return state


@njit(cache=True)
def fill_normals(state: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` with standard normals from ``state`` (for tests and benchmarks)."""
    for k in range(out.shape[0]):
        out[k] = normal(state)


@njit(cache=True)
def fill_uniforms(state: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` with uniforms in [0, 1) from ``state`` (for tests and benchmarks)."""
    for k in range(out.shape[0]):
        out[k] = uniform(state)


@njit(cache=True)
def sum_normals(state: np.ndarray, n: int) -> float:
    """Sum of ``n`` normals without storing them (the bare cost of drawing, for benchmarks)."""
    acc = 0.0
    for _ in range(n):
        acc += normal(state)
    return acc
