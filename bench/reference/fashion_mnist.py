"""Shared by train_numpy.py and train_torch.py: the d2l recipe's settings and options, the IDX reader, the result line."""
import argparse
import gzip
import json
import os
import struct

import numpy as np

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
BATCH_SIZE = 256
LEARNING_RATE = 0.1
WEIGHT_STD = 0.01


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR", DEFAULT_DATA),
                        help="folder with the four *-ubyte[.gz] files (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, action="append", default=[], metavar="UNITS",
                        help="a hidden layer of UNITS with ReLU, repeatable from the input side, as `sharpmax train "
                             "--hidden`; none: softmax regression (d2l 4.4); --hidden 256: d2l 5.2's MLP")
    return parser.parse_args()


def layer_sizes(inputs, hidden):
    """[(fan_in, fan_out)] of every linear layer: inputs -> hidden... -> 10 classes."""
    sizes = [inputs] + list(hidden) + [10]
    return list(zip(sizes[:-1], sizes[1:]))


def _read(path, magic, header):
    """An IDX file as NAME.gz or raw NAME (as the C# locator accepts)."""
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    fields = struct.unpack(">" + "I" * header, data[: 4 * header])
    if fields[0] != magic:
        raise SystemExit(f"{path}: not an IDX file of the expected kind (magic {fields[0]:#x})")
    return np.frombuffer(data, np.uint8, offset=4 * header), fields


def load(folder):
    """(train images, train labels, test images, test labels): images N×784 uint8, labels int64."""
    sets = []
    for prefix in ("train", "t10k"):
        pixels, fields = _read(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), 0x803, 4)
        labels, _ = _read(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), 0x801, 2)
        sets += [pixels.reshape(fields[1], fields[2] * fields[3]), labels.astype(np.int64)]
    return tuple(sets)


def report(seconds, epochs, train_loss, train_acc, test_acc):
    """The last line the bench harness parses."""
    print("RESULT " + json.dumps({"seconds": seconds, "epochs": epochs, "train_loss": train_loss,
                                  "train_acc": train_acc, "test_acc": test_acc}), flush=True)
