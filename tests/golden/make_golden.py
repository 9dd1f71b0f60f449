#!/usr/bin/python3
"""Golden cases for Sharpmax's kernel tests, computed in float64.

Run from anywhere:  /usr/bin/python3 tests/golden/make_golden.py
(NumPy is Debian's python3-numpy, installed for /usr/bin/python3 only.)
CI regenerates the files and fails on `git diff --exit-code tests/golden`.

What is float32 and what is float64
  Every input (logits, X, W, b, dY) is a float32 value. Expected outputs are
  float64, computed from those exact float32 values. Floats are written with
  the shortest text that round-trips (float32 text parses back to the same
  float32; float64 text to the same float64); infinities are "Infinity" and
  "-Infinity", the spelling .NET parses.

Byte-identical on every machine
  NumPy's float64 exp/log and its BLAS are dispatched by CPU (AVX-512 here),
  so their last bits can differ between this machine and CI. The expected
  values therefore use only IEEE basic operations, math.fsum (correctly
  rounded sums) and math.exp/math.log; products of two float32 values are
  exact in float64, so every dot product below is correctly rounded. NumPy
  serves for float32 rounding and for the seeded generator.

Seeded inputs (cases too big for CSV: C up to 262144)
  `logits_source = splitmix64` in xent_cases.csv means: element i (0-based,
  row-major, i < N*C) is
      z = SplitMix64 finalizer of (seed + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64)
      k = (z >> 40) - 2^23                 # an integer in [-2^23, 2^23)
      logit = float32(k / 2^23 * scale)    # exact: scale is a power of two
  and then the entries listed for the case in xent_logits.csv overwrite it
  (the extreme values). `inline` means xent_logits.csv lists all N*C entries.
  The C# twin is RandomData.GoldenUniform in tests/Sharpmax.Tests/Reference.

Files
  xent_cases.csv   one line per cross-entropy/softmax case: shape, reduction,
                   label smoothing, ignore index, logits source, and the
                   reduced loss of the fused (exact) and the naive path.
  xent_logits.csv  case,row,col,logit (all entries, or the patches).
  xent_rows.csv    per row: label (input), row max, argmax (lowest index on
                   ties), log-sum-exp, loss, naive loss.
  xent_values.csv  per element: softmax, log-softmax, gradient; every element
                   when N*C <= 2048, else sampled columns of each row
                   (0, 1, C/2, C-1, the label, the argmax, and 8 seeded ones).
  linear_cases.csv / linear_values.csv  Y = X.W + b and its backward products.
  sgd.csv          one SGD step per element: w, g, lr, weight decay, new w.
  relu.csv         ReLU forward and backward per element (written by write_relu).
  linear_relu_cases.csv / linear_relu_values.csv  the fused epilogues
                   (written by write_linear_relu).
  accuracy.csv     per xent case: the number of rows whose argmax is the label.

Definitions (PyTorch's semantics where PyTorch defines them)
  lse_r      = log sum_c exp(x_rc)
  loss_r     = (1 - eps) * (lse_r - x_r,y) + eps * mean_c(lse_r - x_rc)
               (eps = label smoothing; 0 for an ignored row: y == ignore_index)
  naive_r    = (1 - eps) * nl_r,y + eps * mean_c(nl_rc),  nl = -log(max(softmax, 1e-12))
               (d2l's softmax -> log -> gather chain with its clip, smoothed the
               same way: it can never exceed -log(1e-12) = 27.631)
  reduction  mean: sum of loss_r over non-ignored rows / their count;
             sum: the sum; none: the `loss` column holds the sum as well, and
             the gradient is that of the sum (upstream gradient of ones).
  grad_rc    = (softmax_rc - (1 - eps) * [c == y] - eps / C) * scale,
             scale = 1/count for mean, 1 otherwise; 0 on ignored rows.
             It is the gradient of the exact loss; the naive loss's clip is
             not differentiated (the naive path's gradient kernel computes the
             same softmax - onehot).
  A row of all -inf (a fully masked row) has softmax 0, log-softmax -inf and
  lse -inf, as kernels/softmax.cu defines it (not 0/0 = NaN). Not ignored, every
  class is impossible: loss +inf, naive loss 27.631 (p = 0, clipped), and the
  gradient formula with softmax 0, i.e. -target * scale.
  All rows ignored, reduction mean: the loss is 0 and the gradient is 0. A mean
  over zero contributing rows is defined here as 0 (an empty sum, and nothing
  to divide), not 0/0 = NaN as in PyTorch: a batch with nothing to learn from
  must not poison the running loss or the weights. The loss is then a constant
  (0) whatever the logits, so its gradient is exactly 0.

SGD (PyTorch's torch.optim.SGD without momentum)
  w_new = w - lr * (g + weight_decay * w), from float32 w, g, lr, weight_decay.

Linear (shape letters: N rows, K input features, C outputs; row-major)
  Y = X.W + b (N x C), dX = dY.W^T (N x K), dW = X^T.dY (K x C),
  db = sum over rows of dY (C). For `input = u8`, X holds pixel bytes 0..255
  and the layer sees x = byte / 255 (the quotient taken exactly, then one
  rounding per output). Tensors are listed in linear_values.csv as
  case,tensor,row,col,value (b and db use row 0).

ReLU (kernels/relu.cu; PyTorch's values)
  y = max(x, 0) with NaN kept (torch.relu) and -0 written as +0;
  dx = 0 where a <= 0, else dy: a is the saved activation (here a = y), and a
  NaN activation passes dy through (torch's threshold_backward). All exact:
  relu.csv holds float32 text for every column (case,index,x,dy,y,dx).

Fused linear + ReLU (kernels/linear.cu's linear_relu_forward_*,
linear_backward_input_relu_f32_*), in linear_relu_values.csv as above:
  Y  = relu(X.W + b)                      (float64, from the exact sum)
  dX = (dY.W^T) * [A > 0]                 A: an N x K float32 activation given
                                          in the file (relu of seeded values, so
                                          about half of it is 0)
  The exact sums are correctly rounded as for the linear cases; relu and the
  mask are exact. Cases include the MLP's shapes in miniature and u8 input.
Cross-entropy terms (the fused kernels' z-loss, logit softcapping and class
weights; docs/softmax-and-cross-entropy.md), written by write_xent_terms:
  x'_j       = cap * tanh(x_j / cap)                (cap = 0: off, x'_j = x_j)
  lse_r      = log sum_j exp(x'_rj)
  loss_r     = (1 - eps) * w_y * (lse_r - x'_r,y) + (eps / C) * sum_j w_j * (lse_r - x'_rj)
               + z * lse_r^2                       (0 for an ignored row; w = 1 without weights)
  z_loss_r   = z * lse_r^2                         (0 for an ignored row)
  mean       = sum_r loss_r / sum_r w_{y_r} over non-ignored rows (0 when that is 0)
  grad_rj    = (p_rj * ((1 - eps) * w_y + eps * W / C + 2 * z * lse_r)
                - (1 - eps) * w_y * [j == y] - (eps / C) * w_j) * (1 - tanh^2(x_rj / cap)) * scale
               W = sum_j w_j, scale = 1 / divisor for mean, 1 otherwise; a fully
               masked row (all -inf, no cap) has p = 0 and no z-loss gradient.
  This is PyTorch's F.cross_entropy(x', y, weight=w, label_smoothing=eps) plus
  z * logsumexp(x')^2 per row; when torch is importable the script checks every
  case whose capped logits are finite against it (autograd for the gradient),
  and the files do not depend on whether it ran.
  xent_terms_cases.csv   shape, reduction, eps, z, cap, divisor, reduced loss
  xent_terms_weights.csv case,class,weight (weighted cases only)
  xent_terms_rows.csv    per row: label, lse, loss, z_loss
  xent_terms_values.csv  per element: logit (float32 input) and gradient

Confident, correct rows (the label holds the row max; written by write_xent_confident), one row of C
float32 logits per case, no label smoothing, reduction sum (gradient scale 1):
  rest       = sum_{j != y} exp(x_j - x_y)             (math.fsum of math.exp: nothing cancels)
  loss       = log1p(rest),  lse = x_y + log1p(rest)
  grad_j     = exp(x_j - x_y) / (1 + rest)  (j != y),  grad_y = -rest / (1 + rest)
  the cancellation-free forms of lse - x_y and p_y - 1, which lose every digit of a small rest in float32
  (row (30, 0, ..., 0): loss 8.4e-13, lse - x_y in float32 is 0). math.log1p is the one function used here
  beyond the basic operations and math.exp/math.log.
  xent_confident_cases.csv   case, c, label, fill (the logit of every column not listed below), loss, lse,
                             grad_fill (those columns' gradient), description
  xent_confident_logits.csv  case, col, logit, grad: the listed columns (the label's included)
"""

import csv
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORE_INDEX = -100
NAIVE_CLIP = 1e-12
FULL_VALUES_LIMIT = 2048  # up to this many elements, a case is stored whole
SAMPLED_COLUMNS = 8
U64 = np.uint64


# ----------------------------------------------------------------- generator

def splitmix64(seed, count):
    """The SplitMix64 outputs 1..count for `seed`, counter-based so it vectorizes."""
    i = np.arange(1, count + 1, dtype=U64)
    with np.errstate(over="ignore"):
        z = U64(seed) + i * U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


def golden_uniform(seed, count, scale):
    """float32 values uniform on [-scale, scale) with 24 random bits, exact by construction."""
    assert scale > 0 and math.frexp(scale)[0] == 0.5, "scale must be a power of two"
    k = (splitmix64(seed, count) >> U64(40)).astype(np.int64) - (1 << 23)
    return (k.astype(np.float64) * (scale / 2.0**23)).astype(np.float32)


def golden_bytes(seed, count):
    return (splitmix64(seed, count) >> U64(56)).astype(np.uint8)


# ----------------------------------------------------------------- formatting

def fmt32(x):
    """Shortest text that parses back to the same float32."""
    x = np.float32(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0 or 1e-4 <= abs(x) < 1e7:
        return np.format_float_positional(x, unique=True, trim="-")
    return np.format_float_scientific(x, unique=True, trim="-")


def fmt64(x):
    """Shortest text that parses back to the same float64 (Python's repr)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x + 0.0)  # + 0.0 turns -0.0 into 0.0


def write_csv(name, header, rows):
    with open(os.path.join(HERE, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# ----------------------------------------------------------------- cross-entropy

class XentCase:
    def __init__(self, name, n, c, labels, reduction="mean", smoothing=0.0,
                 seed=None, scale=8.0, patches=None, inline=None, description=""):
        self.name, self.n, self.c = name, n, c
        self.labels = list(labels)
        assert len(self.labels) == n
        self.reduction, self.smoothing = reduction, smoothing
        self.description = description
        self.patches = dict(patches or {})
        if inline is not None:
            self.logits = np.asarray(inline, dtype=np.float32).reshape(n, c)
            self.seed = None
        else:
            self.seed, self.scale = seed, scale
            self.logits = golden_uniform(seed, n * c, scale).reshape(n, c)
        for (r, col), v in self.patches.items():
            self.logits[r, col] = np.float32(v)
        self.source = "splitmix64" if (inline is None and n * c > FULL_VALUES_LIMIT) else "inline"


def xent_row(x, label, c, eps):
    """Exact float64 results for one row of float32 logits `x` (Python floats)."""
    m = max(x)
    argmax = x.index(m)  # the first occurrence: lowest index on ties
    if m == -math.inf:  # fully masked row
        if label == IGNORE_INDEX:
            return m, argmax, m, [0.0] * c, [m] * c, 0.0, 0.0
        return m, argmax, m, [0.0] * c, [m] * c, math.inf, -math.log(NAIVE_CLIP)
    # x_c - m is exact for float32 inputs of similar magnitude, so working
    # relative to the row max keeps the full float64 precision at |x| = 1e4.
    exps = [math.exp(v - m) for v in x]
    s = math.fsum(exps)
    log_s = math.log(s)
    lse = m + log_s
    softmax = [e / s for e in exps]
    log_softmax = [(v - m) - log_s for v in x]
    if label == IGNORE_INDEX:
        return m, argmax, lse, softmax, log_softmax, 0.0, 0.0
    assert 0 <= label < c
    loss = (m - x[label]) + log_s
    if eps != 0.0:
        smooth = math.fsum(m - v for v in x) / c + log_s  # mean_c(-log softmax_c)
        loss = (1.0 - eps) * loss + eps * smooth
    naive = -math.log(max(softmax[label], NAIVE_CLIP))
    if eps != 0.0:
        naive_mean = math.fsum(-math.log(max(p, NAIVE_CLIP)) for p in softmax) / c
        naive = (1.0 - eps) * naive + eps * naive_mean
    return m, argmax, lse, softmax, log_softmax, loss, naive


def sampled_columns(case, r, label, argmax):
    c = case.c
    if case.n * c <= FULL_VALUES_LIMIT:
        return range(c)
    cols = {0, min(1, c - 1), c // 2, c - 1, argmax}
    if label != IGNORE_INDEX:
        cols.add(label)
    cols.update(int(v) for v in splitmix64(0x5EED0000 + r, SAMPLED_COLUMNS) % U64(c))
    cols.update(col for (pr, col) in case.patches if pr == r)
    return sorted(cols)


def reduce(values, labels, reduction):
    count = sum(1 for y in labels if y != IGNORE_INDEX)
    total = math.fsum(values)
    if reduction == "mean":
        # Mean over zero contributing rows is defined as 0 (see the module doc).
        return (total / count if count else 0.0), (1.0 / count if count else 0.0), count
    return total, 1.0, count


def xent_cases():
    inf = float("inf")
    c10_7 = dict(n=7, c=10, seed=10, labels=[0, 9, IGNORE_INDEX, 3, 9, 0, 5])
    extreme = dict(n=5, c=10, seed=20, labels=[4, 4, 0, 2, 9], patches={
        (0, 4): 1e4,                                       # label's logit is the max by 1e4
        (1, 4): -1e4, (1, 7): 1e4,                         # label 2e4 below the max
        **{(2, col): (1e4 if col % 2 == 0 else -1e4) for col in range(10)},  # +-1e4 alternating; 5 tie at the max
        (3, 2): -30.0, (3, 5): 8.0,                        # label 38 below the max: naive clips at 27.63
        (4, 9): 1e4, (4, 0): 1e4,                          # two maxima, label is one of them
    })
    neg_inf = dict(n=5, c=10, seed=30, labels=[0, 9, 5, 3, IGNORE_INDEX], patches={
        (0, 1): -inf, (0, 5): -inf, (0, 9): -inf,
        **{(1, col): -inf for col in range(9)},            # only the label is finite: loss 0
        (2, 0): -inf, (2, 2): -inf, (2, 5): 1e4,           # -inf entries next to +1e4 (the label)
        (3, 3): -3.0, (3, 8): -inf,
        (4, 0): -inf,
    })
    ties = [
        [1, 3, 3, 2, 3, 0, -1, 3, 2, 1],                   # ties at 1, 2, 4, 7 -> 1
        [5, 0, 0, 0, 0, 0, 0, 0, 0, 5],                    # first and last -> 0
        [-2, -2, -2, -2, -2, -2, -2, -2, -2, -2],          # all equal -> 0
        [-inf, -inf, -7, -inf, -7, -inf, -inf, -inf, -inf, -inf],  # -> 2
        [0, -0.0, 0, 0, 0, 0, 0, 0, 1e-30, 1e-30],         # 1e-30 > 0 -> 8
    ]
    yield XentCase("c1_n1_mean", 1, 1, [0], seed=1, description="C = 1: softmax is 1, loss and gradient 0")
    yield XentCase("c1_n5_sum", 5, 1, [0, 0, IGNORE_INDEX, 0, 0], "sum", seed=2, description="C = 1, one row ignored")
    yield XentCase("c10_n1_mean", 1, 10, [9], seed=3, description="N = 1, label C-1")
    for reduction in ("mean", "sum", "none"):
        yield XentCase(f"c10_n7_{reduction}", reduction=reduction, **c10_7,
                       description="labels 0, C-1 and the ignore index")
    yield XentCase("c10_n7_smooth_mean", reduction="mean", smoothing=0.1, **c10_7,
                   description="label smoothing 0.1 with an ignored row")
    yield XentCase("c10_n5_smooth_sum", 5, 10, [9, 0, IGNORE_INDEX, 1, 2], "sum", 0.1, seed=4, scale=16.0,
                   description="label smoothing 0.1, sum")
    for reduction in ("mean", "none"):
        yield XentCase(f"extreme_pm1e4_{reduction}", reduction=reduction, **extreme,
                       description="+-1e4 logits; label's logit the max by 1e4; label 38 below the max (naive clips)")
    yield XentCase("extreme_neginf_mean", reduction="mean", **neg_inf,
                   description="-inf entries (never at the label); a row finite only at the label")
    yield XentCase("extreme_neginf_label_none", 3, 10, [2, 0, 7], "none", seed=31,
                   patches={(0, 2): -inf, (1, 1): -inf, (2, 7): -inf, (2, 0): 1e4},
                   description="label's logit is -inf: loss +inf, naive loss clipped to 27.63, gradient finite")
    yield XentCase("all_equal_mean", 3, 10, [0, 9, 4], inline=[0.0] * 10 + [1e4] * 10 + [-1e4] * 10,
                   description="all-equal rows (0, 1e4, -1e4): loss log(10), argmax 0")
    for reduction in ("mean", "sum", "none"):
        yield XentCase(f"all_ignored_{reduction}", 5, 10, [IGNORE_INDEX] * 5, reduction, seed=40,
                       description="every row ignored: loss 0 and gradient 0 (mean is defined as 0, not NaN)")
    yield XentCase("all_ignored_smooth_mean", 3, 10, [IGNORE_INDEX] * 3, "mean", 0.1, seed=41,
                   description="every row ignored, label smoothing 0.1")
    masked = [-inf] * 10
    yield XentCase("masked_rows_none", 5, 10, [IGNORE_INDEX, 3, 6, 5, 0], "none",
                   inline=masked + [float(v) for v in golden_uniform(50, 10, 4.0)] + [-inf] * 6 + [2.5] + [-inf] * 3
                   + masked + [float(v) for v in golden_uniform(51, 10, 4.0)],
                   description="all -inf rows: ignored (loss 0) and not (loss +inf, naive 27.63); a row finite at the label only")
    yield XentCase("ties_none", 5, 10, [1, 9, 0, 2, 8], "none", inline=sum(ties, []),
                   description="argmax ties resolve to the lowest index")
    yield XentCase("c1000_n1_none", 1, 1000, [999], "none", seed=1000, description="C = 1000, label C-1")
    yield XentCase("c1000_n3_mean", 3, 1000, [0, 999, IGNORE_INDEX], seed=1001, description="C = 1000, seeded")
    yield XentCase("c1000_n3_smooth_mean", 3, 1000, [0, 999, 500], "mean", 0.1, seed=1002,
                   description="C = 1000, label smoothing 0.1")
    yield XentCase("c30000_n3_mean", 3, 30000, [0, 29999, 12345], seed=30000, description="C = 30000")
    yield XentCase("c30000_n1_sum", 1, 30000, [17], "sum", seed=30001, patches={(0, 17): 1e4},
                   description="C = 30000, label's logit the max by 1e4")
    yield XentCase("c65537_n3_sum", 3, 65537, [65536, IGNORE_INDEX, 0], "sum", seed=65537,
                   patches={(0, 1): -inf, (0, 100): -inf, (0, 65535): -inf, (1, 3): 1e4, (2, 0): 1e4},
                   description="C = 65537 (> 65536): -inf entries, an ignored row, label 0 the max by 1e4")
    yield XentCase("c65537_n1_smooth_none", 1, 65537, [777], "none", 0.1, seed=65538,
                   description="C = 65537, label smoothing 0.1")
    yield XentCase("c262144_n3_mean", 3, 262144, [0, 262143, 131071], seed=262144, patches={
        (0, 5): -1e4, (0, 7): 1e4,                         # label 0 is 1e4 below the max
        (1, 262143): 1e4,                                  # label C-1 is the max by 1e4
        (2, 1): -inf, (2, 262142): -inf,
    }, description="C = 262144: +-1e4, -inf, label the max by 1e4")
    yield XentCase("c262144_n1_smooth_mean", 1, 262144, [262143], "mean", 0.1, seed=262145,
                   description="C = 262144, label smoothing 0.1")


def write_xent():
    cases, logits_rows, row_rows, value_rows, accuracy_rows = [], [], [], [], []
    for case in xent_cases():
        row_losses, naive_losses = [], []
        per_row = []
        for r in range(case.n):
            x = [float(v) for v in case.logits[r]]
            y = case.labels[r]
            m, argmax, lse, softmax, log_softmax, loss, naive = xent_row(x, y, case.c, case.smoothing)
            row_losses.append(loss)
            naive_losses.append(naive)
            per_row.append((r, y, m, argmax, lse, softmax, log_softmax))
        loss, scale, count = reduce(row_losses, case.labels, case.reduction)
        naive_loss, _, _ = reduce(naive_losses, case.labels, case.reduction)
        eps = case.smoothing
        for (r, y, m, argmax, lse, softmax, log_softmax) in per_row:
            row_rows.append([case.name, r, y, fmt32(m), argmax, fmt64(lse),
                             fmt64(row_losses[r]), fmt64(naive_losses[r])])
            for col in sampled_columns(case, r, y, argmax):
                if y == IGNORE_INDEX:
                    g = 0.0
                else:
                    g = (softmax[col] - (1.0 - eps) * (col == y) - eps / case.c) * scale
                value_rows.append([case.name, r, col, fmt64(softmax[col]), fmt64(log_softmax[col]), fmt64(g)])
        if case.source == "inline":
            for r in range(case.n):
                for col in range(case.c):
                    logits_rows.append([case.name, r, col, fmt32(case.logits[r, col])])
            seed, scale_text = "", ""
        else:
            for (r, col) in sorted(case.patches):
                logits_rows.append([case.name, r, col, fmt32(case.logits[r, col])])
            seed, scale_text = case.seed, fmt32(case.scale)
        accuracy_rows.append([case.name, sum(1 for (r, y, m, argmax, *_) in per_row if argmax == y)])
        cases.append([case.name, case.n, case.c, case.reduction, IGNORE_INDEX, fmt64(case.smoothing),
                      case.source, seed, scale_text, count, fmt64(loss), fmt64(naive_loss), case.description])
    write_csv("xent_cases.csv", ["case", "n", "c", "reduction", "ignore_index", "label_smoothing",
                                 "logits_source", "logits_seed", "logits_scale", "count", "loss",
                                 "naive_loss", "description"], cases)
    write_csv("xent_logits.csv", ["case", "row", "col", "logit"], logits_rows)
    write_csv("xent_rows.csv", ["case", "row", "label", "max", "argmax", "lse", "loss", "naive_loss"], row_rows)
    write_csv("xent_values.csv", ["case", "row", "col", "softmax", "log_softmax", "grad"], value_rows)
    write_csv("accuracy.csv", ["case", "correct"], accuracy_rows)


# ----------------------------------------------------------------- SGD

def write_sgd():
    rows = []
    # name, count, lr, weight decay, seed; lr and decay are float32 values (0.1 is not exact).
    for name, count, lr, decay, seed in (("sgd_plain", 17, 0.1, 0.0, 200), ("sgd_decay", 33, 0.1, 5e-4, 201),
                                         ("sgd_large_lr", 5, 3.0, 0.01, 202)):
        lr32, decay32 = np.float32(lr), np.float32(decay)
        w = golden_uniform(seed, count, 0.0625)
        g = golden_uniform(seed + 1, count, 1.0)
        for i in range(count):
            wi, gi = float(w[i]), float(g[i])
            new = wi - float(lr32) * (gi + float(decay32) * wi)
            rows.append([name, i, fmt32(lr32), fmt32(decay32), fmt32(wi), fmt32(gi), fmt64(new)])
    write_csv("sgd.csv", ["case", "index", "lr", "weight_decay", "w", "g", "w_new"], rows)


# ----------------------------------------------------------------- linear

def linear_cases():
    # name, N, K, C, input kind, seed
    yield "lin_1x1x1", 1, 1, 1, "f32", 100
    yield "lin_3x5x7", 3, 5, 7, "f32", 101
    yield "lin_7x13x10", 7, 13, 10, "f32", 102
    yield "lin_33x17x5", 33, 17, 5, "f32", 103
    yield "lin_65x31x9", 65, 31, 9, "f32", 104
    yield "lin_u8_5x23x10", 5, 23, 10, "u8", 105
    yield "lin_u8_2x784x3", 2, 784, 3, "u8", 106


def write_linear():
    cases, values = [], []
    for name, n, k, c, kind, seed in linear_cases():
        if kind == "u8":
            xb = golden_bytes(seed, n * k).reshape(n, k)
            x = [[float(v) for v in row] for row in xb]        # the bytes; the layer sees byte / 255
            divisor, x_text = 255.0, lambda v: str(int(v))
        else:
            xf = golden_uniform(seed, n * k, 1.0).reshape(n, k)
            x = [[float(v) for v in row] for row in xf]
            divisor, x_text = 1.0, fmt32
        w32 = golden_uniform(seed + 1000, k * c, 0.125).reshape(k, c)
        b32 = golden_uniform(seed + 2000, c, 0.5)
        dy32 = golden_uniform(seed + 3000, n * c, 1.0).reshape(n, c)
        w = [[float(v) for v in row] for row in w32]
        b = [float(v) for v in b32]
        dy = [[float(v) for v in row] for row in dy32]
        # Products of float32 values (and of bytes with float32) are exact in
        # float64, so each fsum is the correctly rounded dot product.
        y = [[math.fsum(x[i][j] * w[j][o] for j in range(k)) / divisor + b[o] for o in range(c)] for i in range(n)]
        dx = [[math.fsum(dy[i][o] * w[j][o] for o in range(c)) for j in range(k)] for i in range(n)]
        dw = [[math.fsum(x[i][j] * dy[i][o] for i in range(n)) / divisor for o in range(c)] for j in range(k)]
        db = [math.fsum(dy[i][o] for i in range(n)) for o in range(c)]

        def emit(tensor, rows, text):
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    values.append([name, tensor, i, j, text(v)])

        emit("X", x, x_text)
        emit("W", w, fmt32)
        emit("b", [b], fmt32)
        emit("dY", dy, fmt32)
        emit("Y", y, fmt64)
        emit("dX", dx, fmt64)
        emit("dW", dw, fmt64)
        emit("db", [db], fmt64)
        cases.append([name, n, k, c, kind])
    write_csv("linear_cases.csv", ["case", "n", "k", "c", "input"], cases)
    write_csv("linear_values.csv", ["case", "tensor", "row", "col", "value"], values)


# ----------------------------------------------------------------- ReLU

def relu32(v):
    """torch.relu on a float32 value: NaN stays NaN, -0 and negatives become +0."""
    v = np.float32(v)
    return v if (v > 0 or np.isnan(v)) else np.float32(0.0)


def relu_mask32(a, dy):
    """torch's threshold_backward(dy, a, 0): 0 where a <= 0 (a NaN a passes dy)."""
    return np.float32(0.0) if np.float32(a) <= 0 else np.float32(dy)


def write_relu():
    rows = []
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    inf = float("inf")
    specials = [0.0, -0.0, tiny, -tiny, 1e-38, -1e-38, 1.0, -1.0, 3.4028234663852886e38, -3.4028234663852886e38,
                inf, -inf, float("nan")]
    special_dy = golden_uniform(300, len(specials), 1.0)
    cases = [("relu_specials", np.asarray(specials, dtype=np.float32), special_dy),
             ("relu_uniform_37", golden_uniform(301, 37, 4.0), golden_uniform(302, 37, 1.0)),
             ("relu_uniform_1000", golden_uniform(303, 1000, 1.0), golden_uniform(304, 1000, 1.0))]
    for name, x, dy in cases:
        for i in range(len(x)):
            y = relu32(x[i])
            rows.append([name, i, fmt32(x[i]), fmt32(dy[i]), fmt32(y), fmt32(relu_mask32(y, dy[i]))])
    write_csv("relu.csv", ["case", "index", "x", "dy", "y", "dx"], rows)


def linear_relu_cases():
    # name, N, K, C, input kind, seed
    yield "linrelu_1x1x1", 1, 1, 1, "f32", 400
    yield "linrelu_5x7x3", 5, 7, 3, "f32", 401
    yield "linrelu_9x33x17", 9, 33, 17, "f32", 402
    yield "linrelu_6x256x10", 6, 256, 10, "f32", 403   # the MLP's output layer in miniature (dX needed)
    yield "linrelu_u8_2x784x3", 2, 784, 3, "u8", 404    # the hidden layer fed by pixels


def write_linear_relu():
    cases, values = [], []
    for name, n, k, c, kind, seed in linear_relu_cases():
        if kind == "u8":
            xb = golden_bytes(seed, n * k).reshape(n, k)
            x = [[float(v) for v in row] for row in xb]
            divisor, x_text = 255.0, lambda v: str(int(v))
        else:
            xf = golden_uniform(seed, n * k, 1.0).reshape(n, k)
            x = [[float(v) for v in row] for row in xf]
            divisor, x_text = 1.0, fmt32
        w32 = golden_uniform(seed + 1000, k * c, 0.125).reshape(k, c)
        b32 = golden_uniform(seed + 2000, c, 0.5)
        dy32 = golden_uniform(seed + 3000, n * c, 1.0).reshape(n, c)
        a32 = np.asarray([relu32(v) for v in golden_uniform(seed + 4000, n * k, 1.0)], dtype=np.float32).reshape(n, k)
        w = [[float(v) for v in row] for row in w32]
        b = [float(v) for v in b32]
        dy = [[float(v) for v in row] for row in dy32]
        a = [[float(v) for v in row] for row in a32]
        y = [[max(math.fsum(x[i][j] * w[j][o] for j in range(k)) / divisor + b[o], 0.0) for o in range(c)]
             for i in range(n)]
        dx = [[(math.fsum(dy[i][o] * w[j][o] for o in range(c)) if a[i][j] > 0 else 0.0) for j in range(k)]
              for i in range(n)]

        def emit(tensor, rows, text):
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    values.append([name, tensor, i, j, text(v)])

        emit("X", x, x_text)
        emit("W", w, fmt32)
        emit("b", [b], fmt32)
        emit("dY", dy, fmt32)
        emit("A", a, fmt32)
        emit("Y", y, fmt64)
        emit("dX", dx, fmt64)
        cases.append([name, n, k, c, kind])
    write_csv("linear_relu_cases.csv", ["case", "n", "k", "c", "input"], cases)
    write_csv("linear_relu_values.csv", ["case", "tensor", "row", "col", "value"], values)


# ----------------------------------------------------------------- cross-entropy terms

def xent_terms_row(x, y, c, eps, z, cap, w, w_total, scale):
    """Exact float64 loss, lse, z-term and gradient of one row with the optional terms."""
    xc = [cap * math.tanh(v / cap) if cap else v for v in x]
    m = max(xc)
    masked = m == -math.inf
    if masked:
        lse, p = m, [0.0] * c
    else:
        exps = [math.exp(v - m) for v in xc]
        s = math.fsum(exps)
        log_s = math.log(s)
        lse = m + log_s
        p = [e / s for e in exps]
    if y == IGNORE_INDEX:
        return lse, 0.0, 0.0, [0.0] * c
    if masked:
        loss = math.inf
    else:
        loss = (1.0 - eps) * w[y] * ((m - xc[y]) + log_s)
        if eps != 0.0:
            loss += eps / c * math.fsum(w[j] * ((m - xc[j]) + log_s) for j in range(c))
    z_term = z * lse * lse if z else 0.0
    loss += z_term
    pscale = (1.0 - eps) * w[y] + eps * w_total / c + (0.0 if masked else 2.0 * z * lse)
    grad = []
    for j in range(c):
        g = p[j] * pscale - ((1.0 - eps) * w[y] if j == y else 0.0) - eps / c * w[j]
        if cap:
            t = math.tanh(x[j] / cap)
            g *= 1.0 - t * t
        grad.append(g * scale)
    return lse, loss, z_term, grad


def class_weights(seed, c):
    """Seeded float32 weights in [0.25, 2)."""
    return [float(np.float32(1.125 + 0.875 * float(v))) for v in golden_uniform(seed, c, 1.0)]


def xent_terms_cases():
    inf = float("inf")
    c10_labels = [0, 9, IGNORE_INDEX, 3, 9, 0, 5]
    extreme = {(0, 4): 1e4, (1, 4): -1e4, (1, 7): 1e4, **{(2, col): (1e4 if col % 2 == 0 else -1e4) for col in range(10)}}
    # name, n, c, labels, reduction, eps, z, cap, weights, logits seed, logits scale, patches, description
    yield ("terms_zloss_c10_n7_mean", 7, 10, c10_labels, "mean", 0.0, 1e-2, 0.0, None, 10, 8.0, {},
           "z-loss 0.01, labels 0, C-1 and an ignored row")
    yield ("terms_zloss_extreme_none", 3, 10, [4, 2, 0], "none", 0.1, 1e-4, 0.0, None, 20, 8.0, extreme,
           "z-loss 1e-4 on +-1e4 logits (lse ~ 1e4: z*lse^2 ~ 1e4), label smoothing 0.1")
    yield ("terms_softcap_c10_n7_sum", 7, 10, c10_labels, "sum", 0.0, 0.0, 5.0, None, 60, 16.0,
           {(0, 3): 1e4, (1, 2): -1e4, (3, 3): -1e4}, "softcap 5 on logits up to +-16 and +-1e4 (the label's among them)")
    yield ("terms_softcap_neginf_none", 4, 10, [2, 0, 7, IGNORE_INDEX], "none", 0.1, 0.0, 3.0, None, 61, 8.0,
           {**{(0, col): -inf for col in range(10)}, (1, 0): -inf, (2, 1): -inf, (3, 3): -inf},
           "softcap 3: an all -inf row is uniform, a label at -inf has a finite loss")
    yield ("terms_weights_c10_n7_mean", 7, 10, c10_labels, "mean", 0.0, 0.0, 0.0, 70, 10, 8.0, {},
           "class weights in [0.25, 2): mean over sum of w_y")
    yield ("terms_weights_smooth_c10_n7_mean", 7, 10, c10_labels, "mean", 0.1, 0.0, 0.0, 71, 10, 8.0, {},
           "class weights with label smoothing 0.1 (PyTorch weights class j's smoothing term by w_j)")
    yield ("terms_weights_smooth_c10_n5_sum", 5, 10, [9, 0, IGNORE_INDEX, 1, 2], "sum", 0.2, 0.0, 0.0, 72, 4, 16.0, {},
           "class weights, label smoothing 0.2, sum")
    yield ("terms_weights_smooth_extreme_none", 3, 10, [4, 2, 0], "none", 0.1, 0.0, 0.0, 73, 20, 8.0, extreme,
           "class weights, label smoothing 0.1, +-1e4 logits")
    yield ("terms_all_c1000_n3_mean", 3, 1000, [0, 999, IGNORE_INDEX], "mean", 0.1, 1e-4, 30.0, 74, 1001, 64.0, {(1, 999): 1e4},
           "every term: z 1e-4, softcap 30, class weights, label smoothing 0.1, C = 1000")
    yield ("terms_c1_n3_mean", 3, 1, [0, 0, IGNORE_INDEX], "mean", 0.0, 0.1, 2.0, 75, 2, 8.0, {},
           "C = 1 with every term: loss z*cap^2*tanh^2(x/cap), gradient through the z-loss only")
    yield ("terms_weights_zero_mean", 3, 4, [1, 1, IGNORE_INDEX], "mean", 0.0, 0.0, 0.0, "zero_at_1", 3, 8.0, {},
           "the used rows' weights sum to 0: the mean is 0 with a zero gradient (PyTorch: NaN)")


def torch_check(name, logits, labels, reduction, eps, z, cap, weights, loss, row_losses, grads):
    """Compares one case with PyTorch's float64 cross-entropy (+ z-loss), autograd for the gradient."""
    import torch
    import torch.nn.functional as F
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    xc = cap * torch.tanh(x / cap) if cap else x
    if not bool(torch.isfinite(xc).all()):
        return False
    y = torch.tensor(labels, dtype=torch.int64)
    w = torch.tensor(weights, dtype=torch.float64) if weights is not None else None
    used = y != IGNORE_INDEX
    rows = F.cross_entropy(xc, y, weight=w, reduction="none", label_smoothing=eps)
    lse = torch.logsumexp(xc, dim=1)
    rows = rows + torch.where(used, z * lse * lse, torch.zeros_like(lse))
    if reduction == "mean":
        divisor = (w[y.clamp(min=0)] if w is not None else torch.ones_like(lse))[used].sum()
        if float(divisor) == 0.0:
            return False
        reduced = rows.sum() / divisor
        # PyTorch's own weighted mean, for the rows' part (z-loss aside): the same divisor.
        torch_mean = F.cross_entropy(xc, y, weight=w, reduction="mean", label_smoothing=eps)
        plain = (rows - torch.where(used, z * lse * lse, torch.zeros_like(lse))).sum() / divisor
        assert math.isclose(float(torch_mean), float(plain), rel_tol=1e-12), (name, "PyTorch's weighted mean")
    else:
        reduced = rows.sum()
    reduced.backward()
    assert math.isclose(float(reduced), loss, rel_tol=1e-12, abs_tol=1e-12), (name, float(reduced), loss)
    for r, v in enumerate(rows.tolist()):
        assert math.isclose(v, row_losses[r], rel_tol=1e-12, abs_tol=1e-12), (name, r, v, row_losses[r])
    for r, row in enumerate(x.grad.tolist()):
        for j, g in enumerate(row):
            assert math.isclose(g, grads[r][j], rel_tol=1e-9, abs_tol=1e-14), (name, r, j, g, grads[r][j])
    return True


def write_xent_terms():
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    cases, weight_rows, row_rows, value_rows, checked = [], [], [], [], []
    for (name, n, c, labels, reduction, eps, z, cap, wseed, seed, scale, patches, description) in xent_terms_cases():
        logits = golden_uniform(seed, n * c, scale).reshape(n, c)
        for (r, col), v in patches.items():
            logits[r, col] = np.float32(v)
        if wseed is None:
            weights = None
        elif wseed == "zero_at_1":
            weights = [1.0, 0.0, 1.0, 1.0]
        else:
            weights = class_weights(wseed, c)
        w = weights if weights is not None else [1.0] * c
        w_total = math.fsum(w)
        divisor = math.fsum(w[y] for y in labels if y != IGNORE_INDEX) if reduction == "mean" else 1.0
        grad_scale = 1.0 / divisor if divisor else 0.0
        row_losses, grads = [], []
        for r in range(n):
            x = [float(v) for v in logits[r]]
            lse, loss, z_term, grad = xent_terms_row(x, labels[r], c, eps, z, cap, w, w_total, grad_scale)
            row_losses.append(loss)
            grads.append(grad)
            row_rows.append([name, r, labels[r], fmt64(lse), fmt64(loss), fmt64(z_term)])
            for col in range(c):
                value_rows.append([name, r, col, fmt32(logits[r, col]), fmt64(grad[col])])
        total = math.fsum(row_losses)
        loss = total * grad_scale if reduction == "mean" else total
        if weights is not None:
            weight_rows.extend([name, j, fmt32(v)] for j, v in enumerate(weights))
        cases.append([name, n, c, reduction, IGNORE_INDEX, fmt64(eps), fmt64(z), fmt64(cap), fmt64(divisor),
                      fmt64(loss), description])
        if have_torch and torch_check(name, [[float(v) for v in row] for row in logits], labels, reduction, eps, z, cap,
                                      weights, loss, row_losses, grads):
            checked.append(name)
    write_csv("xent_terms_cases.csv", ["case", "n", "c", "reduction", "ignore_index", "label_smoothing", "z_loss_scale",
                                       "softcap", "divisor", "loss", "description"], cases)
    write_csv("xent_terms_weights.csv", ["case", "class", "weight"], weight_rows)
    write_csv("xent_terms_rows.csv", ["case", "row", "label", "lse", "loss", "z_loss"], row_rows)
    write_csv("xent_terms_values.csv", ["case", "row", "col", "logit", "grad"], value_rows)
    if have_torch:
        print(f"xent terms: {len(checked)} of {len(cases)} cases match PyTorch {torch.__version__}: {', '.join(checked)}")
    else:
        print("xent terms: torch is not importable; the cases are the formulas above, unchecked against PyTorch")


# ----------------------------------------------------------------- confident, correct rows

def xent_confident_cases():
    """(name, C, label, fill, {col: logit}, description): one row each, the label holding the max."""
    for c in (10, 1000):
        for m in (10, 15, 20, 30, 40):
            yield (f"confident_m{m}_c{c}", c, 0, 0.0, {0: float(m)},
                   f"row ({m}, 0, ..., 0), label 0: loss (C-1)e^-{m}")
        y = c // 2
        yield (f"confident_near_max_c{c}", c, y, 0.0, {y: 20.0, 0: 19.5, 1: 17.0, c - 1: 13.0},
               "label C/2 at 20, competitors at 19.5, 17 and 13, the rest at 0")
        yield (f"confident_far_c{c}", c, y, -3.0, {y: 25.0, 1: 7.0},
               "label C/2 at 25, one competitor at 7, the rest at -3: loss ~1.5e-8")


def write_xent_confident():
    cases, columns = [], []
    for (name, c, y, fill, listed, description) in xent_confident_cases():
        fill32 = float(np.float32(fill))
        x = [fill32] * c
        for col, v in listed.items():
            x[col] = float(np.float32(v))
        m = x[y]
        assert m == max(x) and list(listed)[0] == y, name
        exps = [math.exp(v - m) for v in x]
        rest = math.fsum(e for j, e in enumerate(exps) if j != y)
        s = 1.0 + rest
        grad = [e / s for e in exps]
        grad[y] = -rest / s
        fill_col = next(j for j in range(c) if j not in listed)
        cases.append([name, c, y, fmt32(fill32), fmt64(math.log1p(rest)), fmt64(m + math.log1p(rest)),
                      fmt64(grad[fill_col]), description])
        columns.extend([name, col, fmt32(x[col]), fmt64(grad[col])] for col in sorted(listed))
    write_csv("xent_confident_cases.csv", ["case", "c", "label", "fill", "loss", "lse", "grad_fill", "description"], cases)
    write_csv("xent_confident_logits.csv", ["case", "col", "logit", "grad"], columns)


if __name__ == "__main__":
    write_xent()
    write_linear()
    write_sgd()
    write_relu()
    write_linear_relu()
    write_xent_terms()
    write_xent_confident()
