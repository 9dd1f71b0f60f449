"""d2l's softmax regression (d2l 4.4) and multilayer perceptron (d2l 5.2) on Fashion-MNIST in NumPy (float32):
784 -> 10, or with --hidden 256 784 -> 256 (ReLU) -> 10; every W ~ N(0, 0.01), b = 0, minibatch SGD with batch
256 and lr 0.1 on the mean cross-entropy, reshuffled every epoch; each epoch ends with the test loss and
accuracy. The backward is written out as in d2l's from-scratch chapters (and as Sharpmax's Models.Mlp runs it).
Times the epochs (training and evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_numpy.py [--data DIR] [--epochs 10] [--seed 0] [--hidden UNITS ...]

The generator (numpy.random.default_rng(seed)) draws each layer's W from the input side, then one permutation
per epoch.
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


def forward(layers, x):
    """The logits and every layer's input (x, then each ReLU output), which the backward needs."""
    inputs = [x]
    for w, b in layers[:-1]:
        inputs.append(np.maximum(inputs[-1] @ w + b, 0))
    w, b = layers[-1]
    return inputs[-1] @ w + b, inputs


def main():
    args = fm.arguments(__doc__.splitlines()[0])
    train_x, train_y, test_x, test_y = fm.load(args.data)
    train_x = train_x.astype(np.float32) / 255
    test_x = test_x.astype(np.float32) / 255
    rng = np.random.default_rng(args.seed)
    layers = [(rng.normal(0, fm.WEIGHT_STD, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32))
              for fan_in, fan_out in fm.layer_sizes(train_x.shape[1], args.hidden)]

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum, correct = 0.0, 0
        order = rng.permutation(len(train_x))
        for first in range(0, len(order), fm.BATCH_SIZE):
            batch = order[first:first + fm.BATCH_SIZE]
            x, y = train_x[batch], train_y[batch]
            logits, inputs = forward(layers, x)
            loss, grad = cross_entropy(logits, y)
            loss_sum += float(loss.sum())
            correct += int((logits.argmax(axis=1) == y).sum())
            grad[np.arange(len(y)), y] -= 1
            grad /= len(y)
            for i in reversed(range(len(layers))):
                w, b = layers[i]
                # The gradient for the layer below, masked by its ReLU's saved output, before w changes.
                below = (grad @ w.T) * (inputs[i] > 0) if i > 0 else None
                w -= fm.LEARNING_RATE * (inputs[i].T @ grad)
                b -= fm.LEARNING_RATE * grad.sum(axis=0)
                grad = below
        test_logits, _ = forward(layers, test_x)
        test_loss, _ = cross_entropy(test_logits, test_y)
        test_acc = float((test_logits.argmax(axis=1) == test_y).mean())
        print(f"epoch {epoch}: train loss {loss_sum / len(train_x):.4f}, train acc {correct / len(train_x):.4f}, "
              f"test loss {float(test_loss.mean()):.4f}, test acc {test_acc:.4f}", flush=True)
    seconds = time.perf_counter() - start
    fm.report(seconds, args.epochs, loss_sum / len(train_x), correct / len(train_x), test_acc)


if __name__ == "__main__":
    main()
