"""Benchmark: ``python -m labsim.bench [repeat]``.

For each registered lab: median and p95 wall time of one update at default parameters (model +
figure + PNG), the p95 of the same updates in CPU time (the process's own time: it barely moves
when other programs share the machine, so compare it with the wall p95 to tell a slow update from
a busy machine), and the model alone. Then the synchronous model's throughput at 10^5 and 10^6
requests. Target: every update p95 <= 100 ms; the model at 10^5 requests <= 30 ms.
Then the SQS queue drained by 10 consumers at 10^5 messages (the engine alone, and the whole
``simulate_queue`` call). Target: <= 10 ms with fixed processing, <= 60 ms with exponential.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import awslambda, labs, sqs, traffic


def _times(fn, repeat):
    """Wall and CPU seconds of ``repeat`` calls of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.array(wall), np.array(cpu)


def main(repeat: int = 20) -> None:
    import matplotlib
    matplotlib.use("Agg")
    width = max(len(n) for n in labs.LABS) + 2
    print(f"{'lab':<{width}}{'update median':>15}{'update p95':>12}{'cpu p95':>10}{'model median':>14}")
    for name, factory in labs.LABS.items():
        lab = factory()
        upd, cpu = _times(lab.update, repeat)
        mod, _ = _times(lambda: lab.model(**lab.values()), repeat)   # exactly what the lab runs
        print(f"{name:<{width}}{1e3 * np.median(upd):>12.1f} ms{1e3 * np.percentile(upd, 95):>9.1f} ms"
              f"{1e3 * np.percentile(cpu, 95):>7.1f} ms{1e3 * np.median(mod):>11.1f} ms")
    for kind in ("fixed", "exponential"):
        for n in (10 ** 5, 10 ** 6):
            horizon = n / 5_000
            t, _ = _times(lambda: awslambda.simulate_sync(duration_kind=kind, horizon=horizon),
                          5 if n < 10 ** 6 else 3)
            print(f"sync model, {kind:<11} {n:>9,} requests: {1e3 * np.median(t):8.1f} ms, "
                  f"{n / np.median(t) / 1e6:.2f} M simulated requests/s")

    for kind in ("fixed", "exponential"):
        n = 10 ** 5
        horizon = n / 9.0                              # 9 messages/s to 10 consumers of 1 s: load 0.9
        t = traffic.poisson(9.0, horizon, 1)
        d = traffic.durations(kind, 1.0, len(t), 2)
        eng, _ = _times(lambda: sqs.drain(t, d, 10), 7)
        full, _ = _times(lambda: sqs.simulate_queue(t, horizon=horizon, consumers=10, duration_kind=kind,
                                                    mean_duration=1.0, visibility_timeout=43_200), 7)
        print(f"sqs queue, 10 consumers, {kind:<11} {len(t):>9,} messages: engine {1e3 * np.median(eng):6.1f} ms, "
              f"simulate_queue {1e3 * np.median(full):6.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
