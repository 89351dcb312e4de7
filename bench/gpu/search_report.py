#!/usr/bin/env python3
"""Summarises bench/gpu/run_search.sh's searches into bench/results/seed_exercises_gpu.json, in the format of
seed_exercises.json (runs with name, command, budget_s, final_test_accuracy, time_to_98_s, ...), with the GPU's
name, nvidia-smi's utilisation samples and the training throughput of the build phase when its file is there.

    search_report.py OUT RUNS_DIR STARTED_AT BUDGET_S CMD_A CMD_B CMD_D
"""

import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from seed_exercises_report import automl_run  # noqa: E402

NAMES = {
    "a": "a: automl tiny_cs, flattened (GPU)",
    "b": "b: automl convnet_optuna (GPU)",
    "d": "d: automl tiny_cs, images (GPU)",
}


def utilisation(path):
    samples = []
    try:
        with open(path) as f:
            for row in csv.reader(f):
                if len(row) < 3:
                    continue
                try:
                    samples.append([row[0].strip(), float(row[1]), float(row[2])])
                except ValueError:
                    continue
    except FileNotFoundError:
        return None
    if not samples:
        return None
    util = [s[1] for s in samples]
    return {
        "source": "nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used -l 2",
        "samples": len(samples),
        "mean_utilization_percent": round(sum(util) / len(util), 1),
        "max_utilization_percent": max(util),
        "max_memory_used_mib": max(s[2] for s in samples),
        "timeline": [[s[0], s[1], s[2]] for s in samples],
    }


def read_lines(path):
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main():
    out, runs_dir, started, budget = sys.argv[1:5]
    commands = dict(zip("abd", sys.argv[5:8]))
    build_dir = os.path.dirname(os.path.abspath(runs_dir))
    machine = read_lines(os.path.join(build_dir, "machine.txt"))
    throughput = []
    for line in read_lines(os.path.join(build_dir, "throughput.jsonl")):
        try:
            throughput.append(json.loads(line))
        except ValueError:
            pass
    runs = []
    for key in "bda":
        summary = os.path.join(runs_dir, f"{key}.json")
        try:
            run = automl_run(NAMES[key], commands[key], summary, os.path.join(runs_dir, key, "test_trace.csv"))
        except (FileNotFoundError, ValueError, KeyError) as e:
            run = {"name": NAMES[key], "command": commands[key], "budget_s": float(budget), "error": repr(e)}
        runs.append(run)
    result = {
        "started_at": started,
        "budget_s": float(budget),
        "concurrent": "the three searches ran at once on the one GPU",
        "machine": {
            "gpu": machine[0] if machine else None,
            "torch": machine[1] if len(machine) > 1 else None,
            "compiler": machine[2] if len(machine) > 2 else None,
            "cpus": int(machine[3]) if len(machine) > 3 and machine[3].isdigit() else os.cpu_count(),
        },
        "commands": commands,
        "runs": runs,
        "gpu_utilization": utilisation(os.path.join(runs_dir, "smi.csv")),
        "train_throughput": throughput,
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    for run in runs:
        print(f"{run['name']}: test {run.get('final_test_accuracy')}, 98% at {run.get('time_to_98_s')} s, "
              f"wall {run.get('wall_s')} s, trials {run.get('trials')}")
    u = result["gpu_utilization"]
    if u:
        print(f"GPU utilisation: mean {u['mean_utilization_percent']}%, max {u['max_utilization_percent']}%, "
              f"memory up to {u['max_memory_used_mib']} MiB")


if __name__ == "__main__":
    main()
