"""d2l's softmax regression on Fashion-MNIST in NumPy (float32): 784 -> 10, W ~ N(0, 0.01), b = 0,
minibatch SGD with batch 256 and lr 0.1 on the mean cross-entropy, reshuffled every epoch; each epoch ends
with the test loss and accuracy. Times the epochs (training and evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_numpy.py [--data DIR] [--epochs 10] [--seed 0]
"""
import time

import numpy as np

import fashion_mnist as fm


def cross_entropy(logits, labels):
    """Per-row loss by the log-sum-exp, and the softmax probabilities."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    return np.log(total[:, 0]) - shifted[rows, labels], exp / total


def main():
    args = fm.arguments(__doc__.splitlines()[0])
    train_x, train_y, test_x, test_y = fm.load(args.data)
    train_x = train_x.astype(np.float32) / 255
    test_x = test_x.astype(np.float32) / 255
    rng = np.random.default_rng(args.seed)
    w = rng.normal(0, fm.WEIGHT_STD, (train_x.shape[1], 10)).astype(np.float32)
    b = np.zeros(10, np.float32)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum, correct = 0.0, 0
        order = rng.permutation(len(train_x))
        for first in range(0, len(order), fm.BATCH_SIZE):
            batch = order[first:first + fm.BATCH_SIZE]
            x, y = train_x[batch], train_y[batch]
            logits = x @ w + b
            loss, grad = cross_entropy(logits, y)
            loss_sum += float(loss.sum())
            correct += int((logits.argmax(axis=1) == y).sum())
            grad[np.arange(len(y)), y] -= 1
            grad /= len(y)
            w -= fm.LEARNING_RATE * (x.T @ grad)
            b -= fm.LEARNING_RATE * grad.sum(axis=0)
        test_logits = test_x @ w + b
        test_loss, _ = cross_entropy(test_logits, test_y)
        test_acc = float((test_logits.argmax(axis=1) == test_y).mean())
        print(f"epoch {epoch}: train loss {loss_sum / len(train_x):.4f}, train acc {correct / len(train_x):.4f}, "
              f"test loss {float(test_loss.mean()):.4f}, test acc {test_acc:.4f}", flush=True)
    seconds = time.perf_counter() - start
    fm.report(seconds, args.epochs, loss_sum / len(train_x), correct / len(train_x), test_acc)


if __name__ == "__main__":
    main()
