#!/usr/bin/python3
"""Summarises the runs of bench/seed_exercises into one JSON file and a Markdown table: final test
accuracy, trials, wall time, and test accuracy over time (time to reach 98% and 99%).

automl runs: `automl search --json` output plus its test_trace.csv (each new incumbent's test accuracy, at the
time it was found); the final point is the exported model's test accuracy at the command's end.
Optuna run: bench/optuna_convnet.py's output, where every epoch of every trial reports its test accuracy (the
chapter's protocol); the curve is the best reported so far.
"""

import csv
import json
import os
import sys

THRESHOLDS = (0.98, 0.99)


def first_time(curve, threshold):
    for t, accuracy in curve:
        if accuracy >= threshold:
            return round(t, 1)
    return None


def automl_run(name, command, summary_path, trace_path):
    with open(summary_path) as f:
        summary = json.load(f)
    curve = []
    try:
        with open(trace_path) as f:
            curve = [(float(r["elapsed_s"]), float(r["test_accuracy"])) for r in csv.DictReader(f)]
    except FileNotFoundError:
        pass
    if summary.get("test_accuracy") is not None:
        curve.append((summary["elapsed_s"], summary["test_accuracy"]))
    return {
        "name": name,
        "command": command,
        "budget_s": summary["budget_s"],
        "wall_s": summary["elapsed_s"],
        "trials": summary["trials"],
        "val_accuracy": summary.get("val_accuracy"),
        "final_test_accuracy": summary.get("test_accuracy"),
        "test_accuracy_over_time": [[round(t, 1), a] for t, a in curve],
        **{f"time_to_{int(th * 100)}_s": first_time(curve, th) for th in THRESHOLDS},
    }


def optuna_run(name, command, path):
    with open(path) as f:
        result = json.load(f)
    curve, best = [], 0.0
    for r in result["reports"]:
        best = max(best, r["test_accuracy"])
        curve.append((r["elapsed_s"], best))
    return {
        "name": name,
        "command": command,
        "budget_s": result["timeout_s"],
        "wall_s": result["elapsed_s"],
        "trials": result["trials"],
        "final_test_accuracy": result["best_test_accuracy"],
        "test_accuracy_over_time": [[round(t, 1), a] for t, a in curve],
        **{f"time_to_{int(th * 100)}_s": first_time(curve, th) for th in THRESHOLDS},
    }


def main():
    out, meta_json, runs_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    meta = json.loads(meta_json)
    # A run whose files are not here (bench/seed_exercises --only ... on a fresh clone, where only the JSON is
    # committed) is kept as the previous JSON has it, with its own command and start time.
    previous = {}
    try:
        with open(out) as f:
            old = json.load(f)
        previous = {run["name"][0]: run for run in old.get("runs", [])}
        for key, command in old.get("commands", {}).items():
            meta["commands"].setdefault(key, command)
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    names = {"a": "a: automl tiny_cs, flattened", "b": "b: automl convnet_optuna",
             "c": "c: Optuna ConvNet (TPE, MedianPruner)", "d": "d: automl tiny_cs, images"}
    runs = []
    for key, name in names.items():
        path = f"{runs_dir}/{key}.json"
        if not os.path.exists(path):
            if key in previous:
                runs.append(previous[key])
            continue
        if key == "c":
            run = optuna_run(name, meta["commands"][key], path)
        else:
            run = automl_run(name, meta["commands"][key], path, f"{runs_dir}/{key}/test_trace.csv")
        try:
            with open(f"{runs_dir}/{key}.started.json") as f:
                run.update(json.load(f))  # started_at, commit, load_at_start of this run
        except FileNotFoundError:
            pass
        runs.append(run)
    with open(out, "w") as f:
        json.dump({**meta, "runs": runs}, f, indent=2)
    print("| run | budget s | wall s | trials | final test accuracy | time to 98% | time to 99% |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        trials = r["trials"]
        count = trials.get("total", sum(trials.values()))
        accuracy = r["final_test_accuracy"]
        print(f"| {r['name']} | {r['budget_s']:g} | {r['wall_s']:.1f} | {count} | "
              f"{'-' if accuracy is None else f'{accuracy:.4f}'} | "
              f"{r['time_to_98_s'] if r['time_to_98_s'] is not None else '-'} | "
              f"{r['time_to_99_s'] if r['time_to_99_s'] is not None else '-'} |")


if __name__ == "__main__":
    main()
