"""Benchmark: ``python -m labsim.bench [repeat]``.

For each registered lab: median and p95 wall time of one update at default parameters (model +
figure + PNG), the p95 of the same updates in CPU time (the process's own time: it barely moves
when other programs share the machine, so compare it with the wall p95 to tell a slow update from
a busy machine), and the model alone. Then the synchronous model's throughput at 10^5 and 10^6
requests, the token bucket at 10^5 requests, and the synchronous model against an idiomatic SimPy
model of the same loss system (``simpy.Resource``, one process per request), timed in the same
run, median of 5 (SimPy is a test-only dependency: ``tests/requirements.txt``). The ``host``
column says whether a lab's samples fell in a slow phase of the machine (see :func:`host_probe`).

``python -m labsim.bench --against REV [rounds]``: old and new code in one process, calls
interleaved (both see the same load, so a busy or drifting host cancels out): the labsim of git
revision REV (``git archive``, imported as ``labsim_old``) against this one, per lab the median CPU
time of the model and of the update, and the change. Labs with new parameters are marked; their
defaults may ask the model for more work than the old code did.

Targets: every update p95 <= 100 ms; ``simulate_sync`` (no scaling model) at 10^5 requests at
least 150x SimPy with fixed durations and 55x with exponential ones; the bucket at 10^5 requests
<= 10 ms. Then the SQS queue drained by 10 consumers at 10^5 messages (the engine alone, and the
whole ``simulate_queue`` call): <= 10 ms with fixed processing, <= 60 ms with exponential.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import awslambda, kinesis, labs, sqs, tokenbucket, traffic


def _times(fn, repeat):
    """Wall and CPU seconds of ``repeat`` calls of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.array(wall), np.array(cpu)


def simpy_loss(arrivals, durations, c: int) -> np.ndarray:
    """The sync model's loss system written the idiomatic SimPy way: a pool of ``c`` as a
    ``simpy.Resource``, a source process, one process per admitted request. Returns the admission
    mask (the same decisions as ``simulate_sync`` with no scaling model and no rate cap, up to the
    order of events that tie exactly)."""
    import simpy
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=c)
    admitted = np.zeros(len(arrivals), bool)

    def execution(i, d):
        with pool.request() as req:
            yield req
            admitted[i] = True
            yield env.timeout(d)

    def source():
        for i, (t, d) in enumerate(zip(arrivals.tolist(), durations.tolist())):
            yield env.timeout(t - env.now)
            if pool.count < pool.capacity:          # a free unit of concurrency, else 429
                env.process(execution(i, d))

    env.process(source())
    env.run()
    return admitted


def simpy_queue(arrivals, durations, c: int) -> np.ndarray:
    """A queue drained by ``c`` consumers written the idiomatic SimPy way (``simpy.Resource``,
    whose requests wait first come, first served; one process per message). Returns each
    message's start time: the same as :func:`labsim.sqs.drain`."""
    import simpy
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=c)
    start = np.zeros(len(arrivals))

    def message(i, d):
        with pool.request() as req:
            yield req
            start[i] = env.now
            yield env.timeout(d)

    def source():
        for i, (t, d) in enumerate(zip(arrivals.tolist(), durations.tolist())):
            yield env.timeout(t - env.now)
            env.process(message(i, d))

    env.process(source())
    env.run()
    return start


def simpy_queue_ratio(duration_kind: str, repeat: int = 5):
    """(labsim median s, SimPy median s, ratio): ``simulate_queue`` against :func:`simpy_queue`
    at 10^5 messages, 9 per second to 10 consumers of 1 s, timed in turn in the same process."""
    horizon = 10 ** 5 / 9.0
    t = traffic.poisson(9.0, horizon, 1)
    ours, theirs = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sqs.simulate_queue(t, horizon=horizon, consumers=10, duration_kind=duration_kind, mean_duration=1.0,
                           visibility_timeout=43_200)
        ours.append(time.perf_counter() - t0)
        d = traffic.durations(duration_kind, 1.0, len(t), 2)
        t0 = time.perf_counter()
        simpy_queue(t, d, 10)
        theirs.append(time.perf_counter() - t0)
    a, b = float(np.median(ours)), float(np.median(theirs))
    return a, b, b / a


def simpy_ratio(duration_kind: str, repeat: int = 5):
    """(labsim median s, SimPy median s, ratio) at 10^5 requests: 5,000 req/s x 0.2 s, c = 1,000.

    Both are timed in turn in the same process, so a busy machine slows both alike."""
    kw = dict(rate=5_000.0, mean_duration=0.2, duration_kind=duration_kind, concurrency_limit=1_000, horizon=20.0)
    ours, theirs = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = awslambda.simulate_sync(**kw)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        simpy_loss(r.arrival, r.duration, 1_000)
        theirs.append(time.perf_counter() - t0)
    a, b = float(np.median(ours)), float(np.median(theirs))
    return a, b, b / a


def host_probe() -> float:
    """Seconds for a fixed piece of pure-Python work (about 5 ms on the CI machine at full speed).

    The host this runs on has slow phases of a few seconds in which the same code takes up to
    twice as long, in wall and in CPU time alike (a virtual machine does not see the cycles it
    is denied). The probe, run before and after each lab's samples, says whether they fell in
    one: ``host`` is the fastest probe of the run over the slower of the lab's two."""
    t0 = time.perf_counter()
    x = 0
    for i in range(100_000):
        x += i * i
    return time.perf_counter() - t0


def main(repeat: int = 20) -> None:
    import matplotlib
    matplotlib.use("Agg")
    width = max(len(n) for n in labs.LABS) + 2
    rows = []
    for name, factory in labs.LABS.items():
        lab = factory()
        before = host_probe()
        upd, cpu = _times(lab.update, repeat)
        mod, _ = _times(lambda: lab.model(**lab.values()), repeat)   # exactly what the lab runs
        rows.append((name, upd, cpu, mod, before, host_probe()))
    fastest = min(min(r[4], r[5]) for r in rows)
    print(f"{'lab':<{width}}{'update median':>15}{'update p95':>12}{'cpu p95':>10}{'model median':>14}{'host':>7}")
    for name, upd, cpu, mod, before, after in rows:
        speed = fastest / max(before, after)
        print(f"{name:<{width}}{1e3 * np.median(upd):>12.1f} ms{1e3 * np.percentile(upd, 95):>9.1f} ms"
              f"{1e3 * np.percentile(cpu, 95):>7.1f} ms{1e3 * np.median(mod):>11.1f} ms{speed:>7.2f}"
              + ("  (slow phase of the host)" if speed < 0.8 else ""))
    print(f"host: the run's fastest probe ({1e3 * fastest:.1f} ms of fixed work) over the slower of the probes "
          "just before and after the lab's samples; 1.00 is the host at full speed")
    for kind in ("fixed", "exponential"):
        for n in (10 ** 5, 10 ** 6):
            horizon = n / 5_000
            t, _ = _times(lambda: awslambda.simulate_sync(duration_kind=kind, horizon=horizon),
                          5 if n < 10 ** 6 else 3)
            print(f"sync model, {kind:<11} {n:>9,} requests: {1e3 * np.median(t):8.1f} ms, "
                  f"{n / np.median(t) / 1e6:.2f} M simulated requests/s")
    t = traffic.poisson(5_000.0, 20.0, traffic.make_rng(0))
    for rate, burst in ((10_000.0, 5_000), (2_500.0, 1_250), (1_000.0, 100)):
        el, _ = _times(lambda: tokenbucket.admit(t, rate, burst), 7)
        print(f"token bucket, 10^5 requests at 5,000/s, rate {rate:,.0f}/s, burst {burst:,}: "
              f"{1e3 * np.median(el):6.1f} ms")
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
    keys = np.arange(10 ** 5) + 10 ** 9 * (1 + int(time.time()) % 1000)    # keys not hashed before
    t0 = time.perf_counter()
    kinesis.hash_keys(keys)
    first = time.perf_counter() - t0
    cached, _ = _times(lambda: kinesis.hash_keys(keys), 3)
    few = traffic.make_rng(0).integers(0, 1_000, 10 ** 5)
    routed, _ = _times(lambda: kinesis.route(few, kinesis.even_split(4)), 5)
    print(f"Kinesis MD5 routing: 10^5 distinct keys {1e3 * first:6.1f} ms (cached {1e3 * np.median(cached):.1f} ms); "
          f"10^5 records over 1,000 keys {1e3 * np.median(routed):.1f} ms")
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("SimPy is not installed (pip install -r tests/requirements.txt): no SimPy ratio")
        return
    for kind in ("fixed", "exponential"):
        a, b, ratio = simpy_ratio(kind)
        print(f"sync model vs SimPy, {kind:<11} 10^5 requests: labsim {1e3 * a:6.1f} ms, SimPy {1e3 * b:7.0f} ms, "
              f"{ratio:5.0f}x")
    for kind in ("fixed", "exponential"):
        a, b, ratio = simpy_queue_ratio(kind)
        print(f"sqs queue vs SimPy, {kind:<11} 10^5 messages: labsim {1e3 * a:6.1f} ms, SimPy {1e3 * b:7.0f} ms, "
              f"{ratio:5.0f}x")


def against(rev: str, rounds: int = 30) -> None:
    """The interleaved comparison with git revision ``rev`` (see the module docstring)."""
    import subprocess
    import tempfile
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    root = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="labsim-against-"))
    tar = subprocess.run(["git", "-C", str(root), "archive", rev, "labsim"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar, check=True)
    (tmp / "labsim").rename(tmp / "labsim_old")       # relative imports inside: it imports as its own package
    sys.path.insert(0, str(tmp))
    import importlib
    old = importlib.import_module("labsim_old.labs")

    def cpu(fn):
        c = time.process_time()
        fn()
        return time.process_time() - c

    print(f"labsim at {rev} -> this labsim, CPU medians, calls interleaved ({rounds} model rounds per lab)")
    for name, factory in labs.LABS.items():
        if name not in old.LABS:
            print(f"{name:<26} (a new lab)")
            continue
        o, n = old.LABS[name](), factory()
        ov, nv = o.values(), n.values()
        for _ in range(2):
            o.model(**ov), n.model(**nv), o.update(), n.update()
        pairs = {"model": ([], []), "update": ([], [])}
        for what, count in (("model", rounds), ("update", max(6, rounds // 3))):
            fo, fn = (lambda: o.model(**ov), lambda: n.model(**nv)) if what == "model" else (o.update, n.update)
            for r in range(count):                 # alternate which goes first
                a, b = (cpu(fo), cpu(fn)) if r % 2 else (cpu(fn), cpu(fo))[::-1]
                pairs[what][0].append(a)
                pairs[what][1].append(b)
        cells = []
        for what, (a, b) in pairs.items():
            ma, mb = np.median(a), np.median(b)
            cells.append(f"{what} {1e3 * ma:7.2f} -> {1e3 * mb:7.2f} ms ({100 * (mb / ma - 1):+4.0f}%)")
        extra = sorted(set(nv) - set(ov))
        print(f"{name:<26} " + "  ".join(cells) + (f"  [new parameters: {', '.join(extra)}]" if extra else ""))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--against"]:
        against(sys.argv[2], *(int(a) for a in sys.argv[3:4]))
    else:
        main(*(int(a) for a in sys.argv[1:2]))
