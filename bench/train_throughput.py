#!/usr/bin/python3
"""PyTorch-from-Python reference for bench/train_throughput: the same two models and optimizer, trained the
way users write it (a DataLoader over a TensorDataset, batch 128, shuffled) and over preloaded tensors
(a shuffled index, index_select per batch). Prints one JSON object per loop.

    train_throughput.py --model mlp|cnn --threads N --samples N --epochs E [--device cpu|cuda] [--data-dir DIR]
"""
import argparse
import ctypes
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn


def blas():
    """The BLAS torch loaded, as automl reports it: "OpenBLAS <kernel>", or "" for another BLAS."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS " + lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return ""


def read_idx(path):
    if not os.path.exists(path):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def mnist(samples, data_dir):
    images = np.frombuffer(read_idx(f"{data_dir}/mnist/train-images-idx3-ubyte"), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(read_idx(f"{data_dir}/mnist/train-labels-idx1-ubyte"), np.uint8, offset=8)
    x = torch.from_numpy(images[:samples].astype(np.float32) / 255.0)
    y = torch.from_numpy(labels[:samples].astype(np.int64))
    return x, y


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(),
                             nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


def step(net, opt, xb, yb):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(xb), yb)
    loss.backward()
    opt.step()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="mlp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--epochs", type=float, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-dir", default="data")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    x, y = mnist(a.samples, a.data_dir)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    epochs = int(a.epochs)
    for loop in ("dataloader", "preloaded"):
        net = model(a.model).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        start = time.perf_counter()
        for _ in range(epochs):
            if loop == "dataloader":
                loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
                for xb, yb in loader:
                    step(net, opt, xb.to(device), yb.to(device))
            else:
                xd, yd = x.to(device), y.to(device)
                order = torch.randperm(len(y), device=device)
                for s in range(0, len(y), 128):
                    idx = order[s:s + 128]
                    step(net, opt, xd.index_select(0, idx), yd.index_select(0, idx))
        sync()
        train_seconds = time.perf_counter() - start
        net.eval()
        start = time.perf_counter()
        xd = x.to(device)
        with torch.no_grad():
            for s in range(0, len(y), 1000):
                net(xd[s:s + 1000])
        sync()
        infer_seconds = time.perf_counter() - start
        print(json.dumps({"impl": "pytorch-" + loop, "model": a.model, "threads": a.threads, "device": a.device,
                          "samples": a.samples,
                          "epochs": epochs, "train_samples_per_s": a.samples * epochs / train_seconds,
                          "infer_samples_per_s": a.samples / infer_seconds,
                          "parameters": sum(t.numel() for t in net.parameters()), "blas": blas()}))


if __name__ == "__main__":
    main()
