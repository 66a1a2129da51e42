"""Benchmark: ``python -m labsim.bench``.

For each lab: median and p95 wall time of one update at default parameters (model + figure +
PNG), and the model alone. Then the synchronous model's throughput at 10^5 and 10^6 requests.
"""

from __future__ import annotations

import time

import numpy as np

from . import awslambda, labs


def _times(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return np.array(out)


def main(repeat: int = 15) -> None:
    import matplotlib
    matplotlib.use("Agg")
    width = max(len(n) for n in labs.LABS) + 2
    print(f"{'lab':<{width}}{'update median':>15}{'update p95':>12}{'model median':>14}")
    for name, factory in labs.LABS.items():
        lab = factory()
        upd = _times(lab.update, repeat)
        mod = _times(lambda: lab.model(**lab.values()), repeat)   # exactly what the lab runs
        print(f"{name:<{width}}{1e3 * np.median(upd):>12.1f} ms{1e3 * np.percentile(upd, 95):>9.1f} ms"
              f"{1e3 * np.median(mod):>11.1f} ms")
    for kind in ("fixed", "exponential"):
        for n in (10 ** 5, 10 ** 6):
            horizon = n / 5_000
            t = _times(lambda: awslambda.simulate_sync(duration_kind=kind, horizon=horizon), 5 if n < 10 ** 6 else 3)
            print(f"sync model, {kind:<11} {n:>9,} requests: {1e3 * np.median(t):8.1f} ms, "
                  f"{n / np.median(t) / 1e6:.2f} M simulated requests/s")


if __name__ == "__main__":
    main()
