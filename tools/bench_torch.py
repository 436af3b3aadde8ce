#!/usr/bin/python3
"""The PyTorch side of `make bench`'s model comparison: the same architectures, sizes, batch,
optimiser (AdamW) and loss as bench/bench_models.c, on CPU with one thread, timed the same way
(training windows/s over forward + backward + optimiser steps; batch inference windows/s).
Prints one JSON object. Run with Debian's python3-torch: /usr/bin/python3 tools/bench_torch.py"""
import json
import sys
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
C = int(sys.argv[sys.argv.index("--features") + 1]) if "--features" in sys.argv else 91
B = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 64
SECONDS = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 2.0
T, H, A = 20, 32, 16


class Logistic(torch.nn.Module):
    window = 1

    def __init__(self):
        super().__init__()
        self.out = torch.nn.Linear(C, 3)

    def forward(self, x):  # x (B, T, C)
        return self.out(x[:, -1])


class LSTM(torch.nn.Module):
    window = T

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(C, H, batch_first=True)
        self.out = torch.nn.Linear(H, 3)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h[:, -1])


class AttnLSTM(LSTM):
    def __init__(self):
        super().__init__()
        self.att = torch.nn.Linear(H, A)
        self.v = torch.nn.Parameter(torch.randn(A) * 0.1)

    def forward(self, x):
        h, _ = self.lstm(x)
        a = torch.softmax(torch.tanh(self.att(h)) @ self.v, dim=1)  # (B, T)
        return self.out((a.unsqueeze(-1) * h).sum(1))


class Transformer(torch.nn.Module):
    """The same network as obi's transformer: input projection, 2 pre-norm blocks of causal
    self-attention with ALiBi biases (as a float attention mask) and a GELU feed-forward layer,
    final layer norm, output layer on the last position."""
    window = T
    D, NH, F, L = 32, 4, 64, 2

    def __init__(self):
        super().__init__()
        D, NH, F = self.D, self.NH, self.F
        self.inp = torch.nn.Linear(C, D)
        self.blocks = torch.nn.ModuleList()
        for _ in range(self.L):
            self.blocks.append(torch.nn.ModuleDict({
                "ln1": torch.nn.LayerNorm(D), "attn": torch.nn.MultiheadAttention(D, NH, batch_first=True),
                "ln2": torch.nn.LayerNorm(D), "ff1": torch.nn.Linear(D, F), "ff2": torch.nn.Linear(F, D)}))
        self.lnf = torch.nn.LayerNorm(D)
        self.out = torch.nn.Linear(D, 3)
        i = torch.arange(T).unsqueeze(1)
        j = torch.arange(T).unsqueeze(0)
        slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / NH) for h in range(NH)]).view(NH, 1, 1)
        bias = -slopes * (i - j).float()
        bias = bias.masked_fill(j > i, float("-inf"))
        self.register_buffer("mask", bias)  # (NH, T, T)

    def forward(self, x):
        B = x.shape[0]
        mask = self.mask.repeat(B, 1, 1)
        x = self.inp(x)
        for b in self.blocks:
            h = b["ln1"](x)
            x = x + b["attn"](h, h, h, attn_mask=mask, need_weights=False)[0]
            x = x + b["ff2"](torch.nn.functional.gelu(b["ff1"](b["ln2"](x))))
        return self.out(self.lnf(x[:, -1]))


class DeepLOB(torch.nn.Module):
    """DeepLOB as obi builds it (40 book columns, window 50, LSTM 64): three conv blocks (1,2)/2,
    (4,1), (4,1) / (1,2)/2, (4,1), (4,1) / (1,10), (4,1), (4,1) with leaky ReLU, 'same' padding
    in time (TensorFlow's split: more after), the inception module, LSTM, output layer."""
    window = 50
    features = 40

    def __init__(self):
        super().__init__()
        nn = torch.nn

        def conv(cin, cout, k):
            return nn.Conv2d(cin, cout, k, stride=(1, k[1]) if k[0] == 1 else 1)

        self.trunk = nn.ModuleList([conv(1, 32, (1, 2)), conv(32, 32, (4, 1)), conv(32, 32, (4, 1)),
                                    conv(32, 32, (1, 2)), conv(32, 32, (4, 1)), conv(32, 32, (4, 1)),
                                    conv(32, 32, (1, 10)), conv(32, 32, (4, 1)), conv(32, 32, (4, 1))])
        self.a1, self.a2 = conv(32, 64, (1, 1)), conv(64, 64, (3, 1))
        self.b1, self.b2 = conv(32, 64, (1, 1)), conv(64, 64, (5, 1))
        self.c1 = conv(32, 64, (1, 1))
        self.lstm = nn.LSTM(192, 64, batch_first=True)
        self.out = nn.Linear(64, 3)

    @staticmethod
    def same_t(x, k):  # pad time (dim 2) as TensorFlow's 'same': (k-1)//2 before
        before = (k - 1) // 2
        return torch.nn.functional.pad(x, (0, 0, before, k - 1 - before))

    def forward(self, x):  # x (B, T, 40)
        f = torch.nn.functional.leaky_relu
        x = x.unsqueeze(1)  # (B, 1, T, W)
        for layer in self.trunk:
            k = layer.kernel_size[0]
            x = f(layer(self.same_t(x, k) if k > 1 else x), 0.01)
        a = f(self.a2(self.same_t(f(self.a1(x), 0.01), 3)), 0.01)
        b = f(self.b2(self.same_t(f(self.b1(x), 0.01), 5)), 0.01)
        p = torch.nn.functional.max_pool2d(torch.nn.functional.pad(x, (0, 0, 1, 1), value=float("-inf")), (3, 1),
                                           stride=1)
        c = f(self.c1(p), 0.01)
        h = torch.cat([a, b, c], 1).squeeze(3).transpose(1, 2)  # (B, T, 192)
        h, _ = self.lstm(h)
        return self.out(h[:, -1])


X_all = torch.rand(20000, C) * 2 - 1
result = {"features": C, "batch": B, "threads": torch.get_num_threads(), "torch": torch.__version__, "models": {}}
for name, cls in (("logistic", Logistic), ("lstm", LSTM), ("attn_lstm", AttnLSTM), ("transformer", Transformer),
                  ("deeplob", DeepLOB)):
    model = cls()
    X = X_all[:, :getattr(cls, "features", C)]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    w = model.window
    steps, t0 = 0, time.perf_counter()
    while True:
        ends = torch.randint(w - 1, X.shape[0], (B,))
        idx = ends.unsqueeze(1) - torch.arange(w - 1, -1, -1).unsqueeze(0)
        xb, yb = X[idx], torch.randint(0, 3, (B,))
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps += 1
        t = time.perf_counter() - t0
        if t >= SECONDS:
            break
    train_wps = steps * B / t
    ends = torch.arange(256) * 7 + w - 1
    idx = ends.unsqueeze(1) - torch.arange(w - 1, -1, -1).unsqueeze(0)
    xb = X[idx]
    batches, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while True:
            torch.softmax(model(xb), dim=1)
            batches += 1
            t = time.perf_counter() - t0
            if t >= SECONDS / 2:
                break
    result["models"][name] = {"train_windows_per_second": round(train_wps),
                              "batch_inference_windows_per_second": round(batches * 256 / t)}
    print(f"{name:10s} train {train_wps:8.0f} windows/s  batch inference {batches * 256 / t:8.0f} windows/s (PyTorch)",
          file=sys.stderr)
print(json.dumps(result))
