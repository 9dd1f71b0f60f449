"""d2l's softmax regression and multilayer perceptron on Fashion-MNIST in PyTorch on the CPU (float32): the
same recipe as train_numpy.py (784 -> 10, or with --hidden 256 784 -> 256 ReLU -> 10; W ~ N(0, 0.01), b = 0,
batch 256, lr 0.1, mean cross-entropy), with autograd through torch.relu and torch.nn.functional.cross_entropy
and a plain SGD update: an independent check of the written-out backward. Times the epochs (training and
evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_torch.py [--data DIR] [--epochs 10] [--seed 0] [--hidden UNITS ...]

The generator draws each layer's W from the input side, then one permutation per epoch (torch's generator, so
the numbers differ from NumPy's for the same seed).
"""
import time

import torch
import torch.nn.functional as F

import fashion_mnist as fm


def main():
    args = fm.arguments(__doc__.splitlines()[0])
    train_x, train_y, test_x, test_y = fm.load(args.data)
    train_x = torch.from_numpy(train_x).float() / 255
    test_x = torch.from_numpy(test_x).float() / 255
    train_y, test_y = torch.from_numpy(train_y), torch.from_numpy(test_y)
    generator = torch.Generator().manual_seed(args.seed)
    layers = [((torch.randn(fan_in, fan_out, generator=generator) * fm.WEIGHT_STD).requires_grad_(),
               torch.zeros(fan_out, requires_grad=True))
              for fan_in, fan_out in fm.layer_sizes(train_x.shape[1], args.hidden)]
    params = [p for layer in layers for p in layer]

    def forward(x):
        for w, b in layers[:-1]:
            x = torch.relu(x @ w + b)
        w, b = layers[-1]
        return x @ w + b

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum, correct = 0.0, 0
        order = torch.randperm(len(train_x), generator=generator)
        for first in range(0, len(order), fm.BATCH_SIZE):
            batch = order[first:first + fm.BATCH_SIZE]
            x, y = train_x[batch], train_y[batch]
            logits = forward(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= fm.LEARNING_RATE * p.grad
                    p.grad = None
                loss_sum += float(loss) * len(y)
                correct += int((logits.argmax(dim=1) == y).sum())
        with torch.no_grad():
            test_logits = forward(test_x)
            test_loss = float(F.cross_entropy(test_logits, test_y))
            test_acc = float((test_logits.argmax(dim=1) == test_y).float().mean())
        print(f"epoch {epoch}: train loss {loss_sum / len(train_x):.4f}, train acc {correct / len(train_x):.4f}, "
              f"test loss {test_loss:.4f}, test acc {test_acc:.4f}", flush=True)
    seconds = time.perf_counter() - start
    fm.report(seconds, args.epochs, loss_sum / len(train_x), correct / len(train_x), test_acc)


if __name__ == "__main__":
    main()
