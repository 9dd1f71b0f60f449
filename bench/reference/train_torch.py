"""d2l's softmax regression on Fashion-MNIST in PyTorch on the CPU (float32): the same recipe as
train_numpy.py, with autograd through torch.nn.functional.cross_entropy and a plain SGD update.
Times the epochs (training and evaluation), not the data loading.

    /usr/bin/python3 bench/reference/train_torch.py [--data DIR] [--epochs 10] [--seed 0]
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
    w = (torch.randn(train_x.shape[1], 10, generator=generator) * fm.WEIGHT_STD).requires_grad_()
    b = torch.zeros(10, requires_grad=True)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum, correct = 0.0, 0
        order = torch.randperm(len(train_x), generator=generator)
        for first in range(0, len(order), fm.BATCH_SIZE):
            batch = order[first:first + fm.BATCH_SIZE]
            x, y = train_x[batch], train_y[batch]
            logits = x @ w + b
            loss = F.cross_entropy(logits, y)
            loss.backward()
            with torch.no_grad():
                w -= fm.LEARNING_RATE * w.grad
                b -= fm.LEARNING_RATE * b.grad
                w.grad = None
                b.grad = None
                loss_sum += float(loss) * len(y)
                correct += int((logits.argmax(dim=1) == y).sum())
        with torch.no_grad():
            test_logits = test_x @ w + b
            test_loss = float(F.cross_entropy(test_logits, test_y))
            test_acc = float((test_logits.argmax(dim=1) == test_y).float().mean())
        print(f"epoch {epoch}: train loss {loss_sum / len(train_x):.4f}, train acc {correct / len(train_x):.4f}, "
              f"test loss {test_loss:.4f}, test acc {test_acc:.4f}", flush=True)
    seconds = time.perf_counter() - start
    fm.report(seconds, args.epochs, loss_sum / len(train_x), correct / len(train_x), test_acc)


if __name__ == "__main__":
    main()
