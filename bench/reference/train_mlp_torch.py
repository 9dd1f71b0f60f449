"""d2l's multilayer perceptron on Fashion-MNIST in PyTorch on the CPU (float32): the same recipe as
train_mlp_numpy.py (784 -> 256 ReLU -> 10, W ~ N(0, 0.01), b = 0, batch 256, lr 0.1, mean cross-entropy),
with autograd through torch.relu and torch.nn.functional.cross_entropy and a plain SGD update: an independent
check of the written-out backward. Times the epochs (training and evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_mlp_torch.py [--data DIR] [--epochs 10] [--seed 0] [--hidden 256]

The generator draws W1, then W2, then one permutation per epoch (torch's generator, so the numbers differ
from NumPy's for the same seed).
"""
import time

import torch
import torch.nn.functional as F

import fashion_mnist as fm
from train_mlp_numpy import arguments


def main():
    args = arguments(__doc__.splitlines()[0])
    train_x, train_y, test_x, test_y = fm.load(args.data)
    train_x = torch.from_numpy(train_x).float() / 255
    test_x = torch.from_numpy(test_x).float() / 255
    train_y, test_y = torch.from_numpy(train_y), torch.from_numpy(test_y)
    generator = torch.Generator().manual_seed(args.seed)
    w1 = (torch.randn(train_x.shape[1], args.hidden, generator=generator) * fm.WEIGHT_STD).requires_grad_()
    b1 = torch.zeros(args.hidden, requires_grad=True)
    w2 = (torch.randn(args.hidden, 10, generator=generator) * fm.WEIGHT_STD).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)
    params = (w1, b1, w2, b2)

    def forward(x):
        return torch.relu(x @ w1 + b1) @ w2 + b2

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
