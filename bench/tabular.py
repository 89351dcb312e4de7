#!/usr/bin/python3
"""bench/tabular: automl against scikit-learn's classifiers on the small tabular data sets that Debian's
python3-sklearn bundles (iris, wine, breast_cancer). For each data set and seed: a stratified 75/25 split
(train_test_split(stratify=y, test_size=0.25, random_state=seed)), written as CSV; scikit-learn's
LogisticRegression, RandomForestClassifier, SVC and MLPClassifier with their defaults (random_state=seed where
they take one) fitted on the 75% and scored on the 25%, and the same four after a StandardScaler (context: tiny_cs
standardizes its inputs; the target is the defaults' best); then `automl search` on the same 75% (its own
validation split carved from it) for --budget seconds with --test on the 25%. Writes bench/results/tabular.json
and prints a Markdown table of mean test accuracies.

    bench/tabular.py [--budget 120] [--seeds 0,1,2] [--preset tiny_cs] [--datasets iris,wine,breast_cancer] [--refit]
                     [--result bench/results/tabular.json]
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time

import numpy as np
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
import sklearn

LOADERS = {"iris": datasets.load_iris, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer}
MODELS = {
    "LogisticRegression": lambda seed: LogisticRegression(random_state=seed),
    "RandomForest": lambda seed: RandomForestClassifier(random_state=seed),
    "SVC": lambda seed: SVC(random_state=seed),
    "MLPClassifier": lambda seed: MLPClassifier(random_state=seed),
}
# Context, not the target: the same four on standardized features, the preprocessing that tiny_cs fixes (its networks
# never see the raw scales). On iris the defaults' best, LogisticRegression and SVC on the raw features, get one test
# sample more than they do on standardized ones (bench/README.md "tabular").
STANDARDIZED = {f"{name}, standardized": (lambda seed, make=make: make_pipeline(StandardScaler(), make(seed)))
                for name, make in MODELS.items()}


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(x.shape[1])) + ",target\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=int, default=120)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--preset", default="tiny_cs")
    p.add_argument("--datasets", default="iris,wine,breast_cancer")
    p.add_argument("--automl", default="build/apps/automl/automl")
    p.add_argument("--out", default="bench/results/tabular")
    p.add_argument("--result", default="bench/results/tabular.json")
    p.add_argument("--refit", action="store_true", help="pass --refit to automl search")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = []
    for name in a.datasets.split(","):
        x, y = LOADERS[name](return_X_y=True)
        for seed in seeds:
            x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
            run_dir = os.path.join(a.out, f"{name}_seed{seed}")
            # A fresh output directory: a study left by an earlier (interrupted) run would make the search refuse
            # to start (it asks for --resume).
            shutil.rmtree(os.path.join(run_dir, "automl"), ignore_errors=True)
            os.makedirs(run_dir, exist_ok=True)
            train_csv, test_csv = os.path.join(run_dir, "train.csv"), os.path.join(run_dir, "test.csv")
            write_csv(train_csv, x_train, y_train)
            write_csv(test_csv, x_test, y_test)
            for model, make in {**MODELS, **STANDARDIZED}.items():
                start = time.perf_counter()
                clf = make(seed).fit(x_train, y_train)
                rows.append({"dataset": name, "seed": seed, "method": model, "test_accuracy": float(clf.score(x_test, y_test)),
                             "seconds": time.perf_counter() - start, "train_rows": len(y_train), "test_rows": len(y_test)})
            cmd = [a.automl, "search", "--preset", a.preset, "--data", train_csv, "--target", "target", "--test", test_csv,
                   "--budget", str(a.budget), "--seed", str(seed), "--out", os.path.join(run_dir, "automl"), "--json",
                   "--quiet"] + (["--refit"] if a.refit else [])
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            try:
                result = json.loads(proc.stdout)
            except json.JSONDecodeError:
                result = {}
            ensemble = (result.get("best_config") or {}).get("ensemble")  # null for a single model
            row = {"dataset": name, "seed": seed, "method": "automl", "test_accuracy": result.get("test_accuracy"),
                   "val_accuracy": result.get("val_accuracy"), "seconds": seconds, "exit_code": proc.returncode,
                   "trials": result.get("trials"), "ensemble": bool(ensemble),
                   "refit": (result.get("best_config") or {}).get("refit"),
                   "command": " ".join(cmd), "train_rows": len(y_train), "test_rows": len(y_test)}
            if proc.returncode != 0:
                row["stderr_tail"] = proc.stderr[-2000:]
            if ensemble:
                more_right = ensemble["val_accuracy"] > ensemble["best_single"]["val_accuracy"] + 1e-12
                row["ensemble_members"] = len(ensemble["members"])
                rule = "more right" if more_right else "as right, lower log-loss"
                method = ensemble.get("method")
                # The peers are averaged because validation cannot tell them apart, not because they beat one alone.
                row["ensemble_rule"] = {"selection": rule, "seeds": f"seeds, {rule}"}.get(method, method)
            # What the search left (the best models' checkpoints, the study): measured, then the bulky part
            # removed (once 5-11 GB a run, when every checkpoint was kept, twice).
            out_dir = os.path.join(run_dir, "automl")
            row["disk_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out_dir) for f in fs)
            for bulky in ("checkpoints", "study.db", "study.db-wal", "study.db-shm", "best_model.pt"):
                path = os.path.join(out_dir, bulky)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.remove(path)
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("dataset", "seed", "test_accuracy", "seconds", "exit_code", "disk_bytes")}),
                  flush=True)
    methods = ["automl"] + list(MODELS) + list(STANDARDIZED)
    table = []
    for name in a.datasets.split(","):
        entry = {"dataset": name}
        for m in methods:
            accs = [r["test_accuracy"] for r in rows if r["dataset"] == name and r["method"] == m]
            entry[m] = statistics.mean(accs) if accs and None not in accs else None
        best = max(MODELS, key=lambda m: entry[m])
        entry["best_sklearn"] = best
        entry["automl_minus_best"] = None if entry["automl"] is None else entry["automl"] - entry[best]
        entry["best_sklearn_standardized"] = max(STANDARDIZED, key=lambda m: entry[m])
        table.append(entry)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    json.dump({"machine": {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
                           "load_at_end": open("/proc/loadavg").read().split()[:3]},
               "commit": commit, "sklearn": sklearn.__version__, "budget_s": a.budget, "preset": a.preset, "refit": a.refit,
               "seeds": seeds, "split": "stratified 75/25, train_test_split(random_state=seed)",
               "mean_test_accuracy": table, "rows": rows}, open(a.result, "w"), indent=2)
    print("| data set | automl | " + " | ".join(methods[1:]) + " |")
    print("|---|" + "---|" * len(methods))
    for e in table:
        cells = [f"{e[m] * 100:.2f}%" if e[m] is not None else "failed" for m in methods]
        print(f"| {e['dataset']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
