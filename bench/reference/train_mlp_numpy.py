"""d2l's multilayer perceptron on Fashion-MNIST in NumPy (float32): 784 -> 256 (ReLU) -> 10, W ~ N(0, 0.01),
b = 0, minibatch SGD with batch 256 and lr 0.1 on the mean cross-entropy, reshuffled every epoch; each epoch
ends with the test loss and accuracy. The backward is written out as in d2l's from-scratch chapter (and as
Sharpmax's Models.Mlp runs it). Times the epochs (training and evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_mlp_numpy.py [--data DIR] [--epochs 10] [--seed 0] [--hidden 256]

The generator draws W1 (784x256), then W2 (256x10), then one permutation per epoch, all from
numpy.random.default_rng(seed), as train_numpy.py draws its W and permutations.
"""
import argparse
import os
import time

import numpy as np

import fashion_mnist as fm
from train_numpy import cross_entropy


def arguments(description):
    """fashion_mnist.arguments' options plus --hidden."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR", fm.DEFAULT_DATA),
                        help="folder with the four *-ubyte[.gz] files (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=256, help="hidden units (default: %(default)s)")
    return parser.parse_args()


def main():
    args = arguments(__doc__.splitlines()[0])
    train_x, train_y, test_x, test_y = fm.load(args.data)
    train_x = train_x.astype(np.float32) / 255
    test_x = test_x.astype(np.float32) / 255
    rng = np.random.default_rng(args.seed)
    w1 = rng.normal(0, fm.WEIGHT_STD, (train_x.shape[1], args.hidden)).astype(np.float32)
    b1 = np.zeros(args.hidden, np.float32)
    w2 = rng.normal(0, fm.WEIGHT_STD, (args.hidden, 10)).astype(np.float32)
    b2 = np.zeros(10, np.float32)

    def forward(x):
        h = np.maximum(x @ w1 + b1, 0)
        return h, h @ w2 + b2

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum, correct = 0.0, 0
        order = rng.permutation(len(train_x))
        for first in range(0, len(order), fm.BATCH_SIZE):
            batch = order[first:first + fm.BATCH_SIZE]
            x, y = train_x[batch], train_y[batch]
            h, logits = forward(x)
            loss, grad = cross_entropy(logits, y)
            loss_sum += float(loss.sum())
            correct += int((logits.argmax(axis=1) == y).sum())
            grad[np.arange(len(y)), y] -= 1
            grad /= len(y)
            dz1 = (grad @ w2.T) * (h > 0)           # the ReLU's backward masks by its saved output
            w2 -= fm.LEARNING_RATE * (h.T @ grad)
            b2 -= fm.LEARNING_RATE * grad.sum(axis=0)
            w1 -= fm.LEARNING_RATE * (x.T @ dz1)
            b1 -= fm.LEARNING_RATE * dz1.sum(axis=0)
        _, test_logits = forward(test_x)
        test_loss, _ = cross_entropy(test_logits, test_y)
        test_acc = float((test_logits.argmax(axis=1) == test_y).mean())
        print(f"epoch {epoch}: train loss {loss_sum / len(train_x):.4f}, train acc {correct / len(train_x):.4f}, "
              f"test loss {float(test_loss.mean()):.4f}, test acc {test_acc:.4f}", flush=True)
    seconds = time.perf_counter() - start
    fm.report(seconds, args.epochs, loss_sum / len(train_x), correct / len(train_x), test_acc)


if __name__ == "__main__":
    main()
