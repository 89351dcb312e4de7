#!/usr/bin/python3
"""Optuna's side of bench/scale_workers: N processes on one study in Optuna's RDB storage (PostgreSQL), each
running trials whose objective sleeps 1 s, for a fixed window; prints one JSON object.

The objective is the search_driver's: Counting Ones on 3 binary categorical and 3 float dimensions (loss = -the
sum), then time.sleep(--trial-s). The sampler is Optuna's default, TPESampler() with its default settings
(--sampler random: RandomSampler), one per process, unseeded as users run it.

All processes first load the study and wait at a barrier; the window starts when the last one is ready. Each then
runs study.optimize(timeout=what is left of the window); Optuna checks the timeout only between trials, so
trials that end after the window are not counted. Counted: COMPLETE trials whose datetime_complete falls in the
window.

  bench/optuna_scale.py --url postgresql+psycopg2://postgres@127.0.0.1:54329/optuna_bench --workers 4 --window 45
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time


def objective_for(trial_s):
    def objective(trial):
        total = 0.0
        for i in range(3):
            total += trial.suggest_categorical(f"c{i}", [0, 1])
        for i in range(3):
            total += trial.suggest_float(f"x{i}", 0.0, 1.0)
        time.sleep(trial_s)
        return -total

    return objective


def make_sampler(optuna, name):
    return optuna.samplers.RandomSampler() if name == "random" else optuna.samplers.TPESampler()


def worker(a):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=a.study, storage=optuna.storages.RDBStorage(a.url),
                              sampler=make_sampler(optuna, a.sampler))
    with open(os.path.join(a.barrier, str(os.getpid())), "w") as f:
        f.write("ready\n")
    go = os.path.join(a.barrier, "go")
    while not os.path.exists(go):
        time.sleep(0.005)
    with open(go) as f:
        end = float(f.read())
    cpu_at_start = time.process_time()
    study.optimize(objective_for(a.trial_s), timeout=max(0.0, end - time.time()))
    with open(os.path.join(a.barrier, f"cpu-{os.getpid()}"), "w") as f:
        f.write(repr(time.process_time() - cpu_at_start))


def orchestrate(a):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(a.url)
    study_name = a.study or f"scale-{a.sampler}-{a.workers}-{int(time.time())}"
    optuna.create_study(study_name=study_name, storage=storage, direction="minimize")
    barrier = tempfile.mkdtemp(prefix="optuna_scale_")
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", "--url", a.url, "--study", study_name,
                               "--barrier", barrier, "--trial-s", str(a.trial_s), "--sampler", a.sampler])
             for _ in range(a.workers)]
    give_up = time.time() + 120
    while len(os.listdir(barrier)) < a.workers:
        if time.time() > give_up or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            raise SystemExit("optuna_scale: the workers did not all get ready")
        time.sleep(0.01)
    start = time.time()
    end = start + a.window
    # A stall watch: the longest this process went without running (a machine that stops processes for a while).
    longest_gap = [0.0]

    def watch():
        last = time.monotonic()
        while time.time() < end:
            time.sleep(0.1)
            now = time.monotonic()
            longest_gap[0] = max(longest_gap[0], now - last - 0.1)
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    with open(os.path.join(barrier, "go.tmp"), "w") as f:
        f.write(repr(end))
    os.rename(os.path.join(barrier, "go.tmp"), os.path.join(barrier, "go"))
    codes = [p.wait() for p in procs]
    cpu_s = 0.0  # the workers' CPU time from the window's start to their end (not the database server's)
    for name in os.listdir(barrier):
        if name.startswith("cpu-"):
            with open(os.path.join(barrier, name)) as f:
                cpu_s += float(f.read())
    watcher.join()
    finished_all = time.time()

    trials = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    in_window = [t for t in complete if start <= t.datetime_complete.timestamp() <= end]
    durations = sorted((t.datetime_complete - t.datetime_start).total_seconds() for t in in_window)
    result = {
        "tool": "optuna",
        "optuna_version": optuna.__version__,
        "sampler": type(make_sampler(optuna, a.sampler)).__name__,
        "mode": "processes",
        "workers": a.workers,
        "window_s": a.window,
        "trial_s": a.trial_s,
        "study": study_name,
        "complete_in_window": len(in_window),
        "trials_total": len(trials),
        "trials_per_hour": len(in_window) / a.window * 3600,
        "median_trial_s": durations[len(durations) // 2] if durations else None,
        "max_trial_s": durations[-1] if durations else None,
        "longest_stall_s": round(longest_gap[0], 3),
        "worker_cpu_s": round(cpu_s, 2),
        "worker_cpu_ms_per_trial": round(1000 * cpu_s / max(1, len(trials)), 1),
        "exit_codes": codes,
        "after_window_s": round(finished_all - end, 2),
    }
    print(json.dumps(result))
    return 0 if all(c == 0 for c in codes) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="SQLAlchemy URL (postgresql+psycopg2://...)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--window", type=float, default=45.0)
    p.add_argument("--trial-s", type=float, default=1.0)
    p.add_argument("--sampler", choices=["tpe", "random"], default="tpe")
    p.add_argument("--study", default="")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--barrier", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a)
        return 0
    return orchestrate(a)


if __name__ == "__main__":
    sys.exit(main())
