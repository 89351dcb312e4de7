#!/usr/bin/python3
"""The Optuna chapter's ConvNet study on MNIST, for bench/seed_exercises (c): a TPE sampler, a MedianPruner,
2 epochs per trial with the test accuracy reported after each epoch (the chapter's objective), stopped by
`timeout`. The space is configs/convnet_optuna.yaml's: 1-4 unpadded 3x3 conv layers of 16-64 channels with
ReLU, one 2x2 max-pool, dropout 0.1-0.4, 1-2 fully connected layers of 16-64 units with their own dropout, then
the output layer; Adam, Adadelta, RMSprop or SGD with one learning rate in 1e-5..1e-1 (log).

Writes one JSON object: every reported (elapsed seconds, trial, epoch, test accuracy), the trials, the best.
Needs python3-torch and python3-optuna (Debian); reads the raw IDX files of the MNIST directory.
"""

import argparse
import json
import os
import struct
import time

import numpy as np
import optuna
import torch
import torch.nn as nn
import torch.nn.functional as F

# The chapter's batch sizes.
TRAIN_BATCH = 64
TEST_BATCH = 1000
EPOCHS = 2


def load_idx(directory, prefix, limit):
    with open(os.path.join(directory, f"{prefix}-images-idx3-ubyte"), "rb") as f:
        _, n, h, w = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, 1, h, w)
    with open(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"), "rb") as f:
        struct.unpack(">II", f.read(8))
        y = np.frombuffer(f.read(), dtype=np.uint8)
    if limit:
        x, y = x[:limit], y[:limit]
    x = (torch.tensor(x, dtype=torch.float32) / 255.0 - 0.1307) / 0.3081
    return x, torch.tensor(y, dtype=torch.int64)


class ConvNet(nn.Module):
    def __init__(self, trial):
        super().__init__()
        num_conv = trial.suggest_int("num_conv_layers", 1, 4)
        num_fc = trial.suggest_int("num_fc_layers", 1, 2)
        self.convs = nn.ModuleList()
        channels, size = 1, 28
        for i in range(num_conv):
            depth = trial.suggest_int(f"conv_depth_{i}", 16, 64)
            self.convs.append(nn.Conv2d(channels, depth, kernel_size=3))
            channels, size = depth, size - 2
        self.conv_dropout = nn.Dropout(trial.suggest_float("conv_dropout", 0.1, 0.4))
        features = channels * (size // 2) * (size // 2)
        self.fcs = nn.ModuleList()
        self.fc_dropouts = nn.ModuleList()
        for i in range(num_fc):
            out = trial.suggest_int(f"fc_output_feat_{i}", 16, 64)
            self.fcs.append(nn.Linear(features, out))
            self.fc_dropouts.append(nn.Dropout(trial.suggest_float(f"fc_dropout_{i}", 0.1, 0.4)))
            features = out
        self.out = nn.Linear(features, 10)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        x = self.conv_dropout(F.max_pool2d(x, 2)).flatten(1)
        for fc, dropout in zip(self.fcs, self.fc_dropouts):
            x = dropout(F.relu(fc(x)))
        return self.out(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--timeout", type=float, required=True, help="seconds, as study.optimize(timeout=...)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--train-limit", type=int, default=0, help="use the first N training images (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    start = time.monotonic()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load_idx(args.data_dir, "train", args.train_limit)
    test_x, test_y = load_idx(args.data_dir, "t10k", 0)
    reports = []

    def test_accuracy(model):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_y), TEST_BATCH):
                correct += (model(test_x[i:i + TEST_BATCH]).argmax(1) == test_y[i:i + TEST_BATCH]).sum().item()
        return correct / len(test_y)

    def objective(trial):
        model = ConvNet(trial)
        name = trial.suggest_categorical("optimizer", ["Adam", "Adadelta", "RMSprop", "SGD"])
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        optimizer = getattr(torch.optim, name)(model.parameters(), lr=lr)
        accuracy = 0.0
        for epoch in range(EPOCHS):
            model.train()
            order = torch.randperm(len(train_y))
            for i in range(0, len(order), TRAIN_BATCH):
                batch = order[i:i + TRAIN_BATCH]
                optimizer.zero_grad()
                F.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
                optimizer.step()
            accuracy = test_accuracy(model)
            reports.append({"elapsed_s": time.monotonic() - start, "trial": trial.number, "epoch": epoch + 1,
                            "test_accuracy": accuracy})
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed),
                                pruner=optuna.pruners.MedianPruner())
    study.optimize(objective, timeout=args.timeout)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    result = {
        "timeout_s": args.timeout,
        "elapsed_s": time.monotonic() - start,
        "threads": torch.get_num_threads(),
        "train_samples": len(train_y),
        "trials": {state: sum(t.state.name == state for t in study.trials) for state in ("COMPLETE", "PRUNED", "FAIL")},
        "best_test_accuracy": study.best_value if complete else None,
        "best_params": study.best_params if complete else None,
        "reports": reports,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
