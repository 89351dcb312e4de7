#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into test/fuzz/corpus/<target>/ (committed; rerun after a
format change). Small valid inputs of every kind each reader accepts, plus a few near misses. Inputs that
held several files join them with the targets' separator (test/fuzz/fuzz_input.hpp). Standard library only.
Crash inputs found by fuzzing are added by hand as regression-*.
"""
import gzip
import json
import pathlib
import shutil
import struct
import zlib

root = pathlib.Path(__file__).resolve().parent
repo = root.parents[1]
corpus = root / "corpus"
SEP = b"\n---8<---\n"


def write(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def npy(descr, shape, payload, fortran=False, version=1):
    shape_text = "(" + "".join(f"{d}, " if len(shape) == 1 else f"{d}, " for d in shape).rstrip(" ")
    shape_text = shape_text.rstrip(",") + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode()
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header)) + header + payload


def main():
    for target in ["fuzz_idx", "fuzz_npy", "fuzz_csv", "fuzz_space_yaml", "fuzz_space_update", "fuzz_model_metadata",
                   "fuzz_checkpoint_archive"]:
        d = corpus / target
        # Keep the regression inputs; regenerate the rest.
        if d.exists():
            for f in d.iterdir():
                if not f.name.startswith("regression-"):
                    f.unlink()

    # IDX: images + labels, several types, gzip, a lone file.
    images = idx(0x08, [3, 2, 2], bytes(range(12)))
    labels = idx(0x08, [3], bytes([2, 0, 1]))
    write("fuzz_idx", "ubyte-images-labels", images + SEP + labels)
    write("fuzz_idx", "gzip-images-labels", gzip.compress(images, mtime=0) + SEP + gzip.compress(labels, mtime=0))
    write("fuzz_idx", "tabular-short", idx(0x0B, [2, 2], struct.pack(">4h", 1, -2, 3, 258)) + SEP
          + idx(0x0C, [2], struct.pack(">2i", 0, 1)))
    write("fuzz_idx", "float-double", idx(0x0D, [2, 1, 1], struct.pack(">2f", 1.5, -2)) + SEP
          + idx(0x09, [2], bytes([1, 0])))
    write("fuzz_idx", "lone-double", idx(0x0E, [2], struct.pack(">2d", 1.0, 2.0)))
    write("fuzz_idx", "zero-samples", idx(0x08, [0, 28, 28], b"") + SEP + idx(0x08, [0], b""))

    # NPY: X + y, each dtype, versions 1-3, a lone file.
    x = npy("<f4", [3, 2], struct.pack("<6f", 0, 1, 2, 3, 4, 5))
    y = npy("<i8", [3], struct.pack("<3q", 1, 0, 1))
    write("fuzz_npy", "float32-int64", x + SEP + y)
    write("fuzz_npy", "uint8-images", npy("|u1", [2, 2, 2], bytes(range(8))) + SEP + npy("<f8", [2, 1], struct.pack("<2d", 3, 7)))
    write("fuzz_npy", "int16-int32-v2", npy("<i2", [2, 3], struct.pack("<6h", *range(6)), version=2) + SEP
          + npy("<i4", [2], struct.pack("<2i", 5, 6), version=3))
    write("fuzz_npy", "chw-int8", npy("|i1", [1, 1, 2, 2], bytes([1, 2, 3, 4])) + SEP + npy("|u1", [1], bytes([0])))
    write("fuzz_npy", "lone-fortran", npy("<f8", [2], struct.pack("<2d", 1, 2), fortran=True))

    # CSV: first byte = flags (1 tsv, 2 unlabelled, 4 target "y").
    write("fuzz_csv", "labels-strings", b"\x00" + b"a,b,label\n1,2.5,cat\n3,NA,dog\n-1e3,+4,cat\n")
    write("fuzz_csv", "quoted-crlf", b"\x04" + b'"x, 1",y,z\r\n"1",2,3\r\n" 4",5,""\r\n')
    write("fuzz_csv", "tsv", b"\x01" + b"f1\tf2\tt\n0.5\tnan\t1\n1\t2\t0\n")
    write("fuzz_csv", "unlabelled", b"\x02" + "\ufeffa,b\n1,2\n,null\n".encode())
    write("fuzz_csv", "multiline", b"\x00" + b'a,"b\nc",t\n1,2,"x\ny"\n')

    # Space files: the shipped presets' and configs' spaces, and a few written for the syntax.
    for path in ["presets/tiny_cs.yaml", "presets/image/medium_cs.yaml", "configs/convnet_optuna.yaml"]:
        write("fuzz_space_yaml", path.replace("/", "-"), (repo / path).read_bytes())
    write("fuzz_space_yaml", "conditions-forbidden", """hyperparameters:
  n: {type: int, range: [1, 4], default: 2, step: 1}
  lr: {type: float, range: [1.0e-4, 0.1], log: true}
  act: [relu, tanh]
  drop: {type: bool, default: false}
  d3: {type: int, range: [16, 64], condition: "n > 2"}
  d4: {type: float, range: [0, 1], condition: ["n >= 4", "act in [relu]"]}
  name: !!str 125
forbidden:
  - {act: tanh, drop: true}
""")
    write("fuzz_space_yaml", "anchors", """hyperparameters:
  network:
    choices:
      a: &sub {units: {type: int, range: [1, 9]}, depth: {type: int, range: [1, 3], condition: "units > 2"}}
      b: *sub
  opt: {choices: [adam, sgd], default: sgd}
""")

    # Space updates: first byte = base (0 tiny_cs, 1 full_cs, 2 image/medium_cs, 3 convnet_optuna).
    write("fuzz_space_update", "readme-tiny", b"\x00" + b"""optimizer:sgd:lr: {range: [1.0e-3, 1.0e-2]}
network:shapedresnet:max_units: {range: [64, 512], default: 256}
network:shapedresnet:num_groups: {range: [1, 3], step: 1}
""")
    write("fuzz_space_update", "full-choices", b"\x01" + b"""optimizer: {choices: [adam, sgd]}
lr_scheduler: {value: cosine_annealing}
""")
    write("fuzz_space_update", "image-default", b"\x02" + b"batch_size: {value: 64}\n")
    write("fuzz_space_update", "convnet-log", b"\x03" + b"lr: {log: false}\n")

    # Model metadata: config, schema, architecture, versions, training.
    default_config = {"lr": 0.05, "network": "mlpnet", "num_layers": 2}
    default_training = {"epochs": 2, "val_accuracy": 0.9, "seconds": 1.5}

    def metadata(schema, config=default_config, training=default_training):
        versions = {"automl": "0.1.0", "libtorch": "1.13.1", "exported_at": "2024-01-01T00:00:00Z"}
        return SEP.join([json.dumps(config, indent=2).encode(), json.dumps(schema, indent=2).encode(),
                         b"Pipeline(\n  (network): Linear(in_features=4, out_features=3)\n)",
                         json.dumps(versions, indent=2).encode(), json.dumps(training, indent=2).encode()])
    write("fuzz_model_metadata", "tabular", metadata({"kind": "tabular", "sample_shape": [4], "class_names": ["a", "b", "c"],
                                                     "feature_names": ["w", "x", "y", "z"]}))
    write("fuzz_model_metadata", "image", metadata({"kind": "image", "sample_shape": [1, 28, 28],
                                                   "class_names": [str(i) for i in range(10)], "feature_names": []}))
    write("fuzz_model_metadata", "null-training", metadata({"kind": "image", "sample_shape": [28, 28],
                                                           "class_names": ["0", "1"], "feature_names": []},
                                                          config={}, training=None))

    # Checkpoint archives (lib/study/checkpoint_archive.hpp): first byte odd = as is, even = the checksum
    # recomputed by the target.
    def archive(files, version=1):
        body = b"AUTOMLCK" + struct.pack("<II", version, len(files))
        for name, data in files:
            body += struct.pack("<I", len(name)) + name + struct.pack("<Q", len(data)) + data
        return body + struct.pack("<I", zlib.crc32(body))
    checkpoint = [(b"optimizer.pt", bytes(range(256)) * 2), (b"pipeline.pt", b"PK\x03\x04" + bytes(60)),
                  (b"state.json", b'{"epochs_done": 3, "seed": 7}\n')]
    write("fuzz_checkpoint_archive", "checkpoint", b"\x01" + archive(checkpoint))
    write("fuzz_checkpoint_archive", "checkpoint-fixup", b"\x00" + archive(checkpoint))
    write("fuzz_checkpoint_archive", "empty", b"\x01" + archive([]))
    write("fuzz_checkpoint_archive", "empty-file", b"\x00" + archive([(b"e", b"")]))
    write("fuzz_checkpoint_archive", "dotdot", b"\x00" + archive([(b"..", b"x")]))
    write("fuzz_checkpoint_archive", "slash", b"\x00" + archive([(b"../state.json", b"x")]))
    write("fuzz_checkpoint_archive", "twice", b"\x00" + archive([(b"a", b"1"), (b"a", b"2")]))
    write("fuzz_checkpoint_archive", "truncated", b"\x01" + archive(checkpoint)[:40])
    write("fuzz_checkpoint_archive", "version-2", b"\x00" + archive(checkpoint, version=2))


if __name__ == "__main__":
    main()
