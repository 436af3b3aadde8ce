#!/usr/bin/python3
"""gen_nn_fixtures.py — PyTorch reference fixtures for the layers of include/obi/nn.h.

Writes small .npy files under test/fixtures/nn/<layer>/, read by test/test_nn_torch.c:

  linear/     in (N,C) w (OC,C) b (OC) out (N,OC); dout -> din dw db
  layernorm/  in (N,C) g b (C) out mean rstd (N); dout -> din dg db      (eps 1e-5)
  act/        in (n) dout; relu_out relu_din; gelu_out gelu_din          (GELU exact erf)
  xent/       logits (N,K) targets (N, int32) class_w (K) probs loss (1) dlogits;
              loss_now, dlogits_now: the same without class weights (weight=None)
  lstm/       in (B*T,C) w_ih (4H,C) w_hh (4H,H) b_ih b_hh (4H) h c (B*T,H) gates (B*T,4H);
              dh (B*T,H) -> din dw_ih dw_hh db_ih db_hh
  attention/  in (B*T,H) w (A,H) b v (A) u (B*T,A) a (B,T) ctx (B,H); dctx -> din dw db dv
  mha/        in (B*T,D) w_qkv (3D,D) b_qkv (3D) w_o (D,D) b_o (D) out (B*T,D) qkv (B*T,3D)
              att (B*NH*T,T) y (B*T,D); dout (B*T,D) -> din dw_qkv db_qkv dw_o db_o
              (causal ALiBi self-attention, D = 8, NH = 2)
  conv/<case>/  DeepLOB convolutions, channels-last (see gen_conv_w, gen_conv_t):
              in (B*T,W*C) w (Cout,kh*kw*C) b (Cout) out (B*T,Wo*Cout); dout -> din dw db
              w_k2 (conv_w, K=2), w_kw (conv_w, K=W), t_k4, t_k3, t_k5 (conv_t)
  conv/maxpool/ in (B*T,W*C) out; arg (B*T,W*C, int32: winning time offset -1/0/1); dout -> din
  conv/lrelu/   in (n) dout; out din                                       (slope 0.01)

Tensors with three dimensions (B,T,X) are stored as (B*T,X): the project's .npy reader
takes 1 or 2 dimensions. Every float file is little-endian float32 ("<f4"), targets are
"<i4", and the loss is a 1-element array.

How the numbers are made: every tensor is drawn in float64 from a torch.Generator with a
fixed seed per layer, then rounded to float32 and back, so the saved float32 inputs are
exactly the values the float64 reference saw. Forward and backward run in float64 with
PyTorch's own modules/functionals (nn.Linear, F.layer_norm, F.relu, F.gelu,
nn.CrossEntropyLoss(weight=w), nn.LSTM(batch_first=True) from zero state); additive
attention has no PyTorch module and is written out from its definition in nn.h:
u_t = tanh(W h_t + b), score_t = v . u_t, a = softmax over t, ctx = sum_t a_t h_t.
Multi-head causal self-attention with ALiBi is written out from its definition in nn.h too
(slope m_h = 2^(-8 (h+1) / NH), score_ij = q_i . k_j / sqrt(dh) - m_h (i - j), j <= i) and
checked against nn.MultiheadAttention given the same weights and the biases as a float mask.
The DeepLOB layers run on NCHW tensors (B, C, T, W) and are saved channels-last: activations
(B, T, W, C) as (B*T, W*C), Conv2d weights (Cout, Cin, kh, kw) permuted (0, 2, 3, 1) to
(Cout, kh, kw, Cin) and saved as (Cout, kh*kw*Cin). conv_w is nn.Conv2d with kernel and stride
(1, K); conv_t is nn.Conv2d with kernel (K, 1) after F.pad with TensorFlow's 'same' split
((K-1)//2 zero rows before, the rest after), checked against nn.Conv2d(padding='same') and a
shifted sum written out by hand; the max-pool is F.max_pool2d((3, 1), stride 1) after padding
time with -inf (its return_indices give the winning offsets, and no window holds a tie); the
leaky ReLU is F.leaky_relu(x, 0.01).
The LSTM caches c and gates come from a hand-written step loop that is checked against
nn.LSTM's output before anything is saved. The scalar driving each backward is
sum(out * upstream) with a random upstream gradient (xent: the loss itself).

Deterministic and re-runnable: the layer folders are emptied of .npy files and rewritten.
Run from anywhere, with the Debian python (torch 1.13, numpy):

    /usr/bin/python3 tools/gen_nn_fixtures.py
"""
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

torch.use_deterministic_algorithms(True)
D = torch.float64
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "nn")

# Shapes (small on purpose: the whole set stays a few tens of KB).
B, T, C, H, A, N, K = 2, 5, 4, 3, 3, 6, 3
OC = 3


def f32(x):
    """Rounds a float64 tensor to float32 precision, keeping it float64."""
    return x.detach().to(torch.float32).to(D)


def randn(g, *shape, scale=1.0):
    return f32(torch.randn(*shape, generator=g, dtype=D) * scale)


def uniform(g, lo, hi, *shape):
    return f32(lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=D))


class Writer:
    def __init__(self, layer):
        self.dir = os.path.join(ROOT, layer)
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(self.dir):
            if name.endswith(".npy"):
                os.remove(os.path.join(self.dir, name))

    def save(self, name, x, dtype="<f4"):
        a = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
        if a.ndim == 3:  # (B, T, X) -> (B*T, X)
            a = a.reshape(a.shape[0] * a.shape[1], a.shape[2])
        if a.ndim == 0:
            a = a.reshape(1)
        assert a.ndim in (1, 2), (name, a.shape)
        a = np.ascontiguousarray(a.astype(dtype))
        assert np.all(np.isfinite(a)) if a.dtype.kind == "f" else True, name
        np.save(os.path.join(self.dir, name + ".npy"), a, allow_pickle=False)


def gen_linear():
    g = torch.Generator().manual_seed(1001)
    w_ = Writer("linear")
    x = randn(g, N, C).requires_grad_()
    lin = torch.nn.Linear(C, OC).to(D)
    with torch.no_grad():
        lin.weight.copy_(randn(g, OC, C, scale=0.7))
        lin.bias.copy_(randn(g, OC, scale=0.5))
    out = lin(x)
    dout = randn(g, N, OC)
    (out * dout).sum().backward()
    for k, v in dict(in_=x, w=lin.weight, b=lin.bias, out=out, dout=dout, din=x.grad, dw=lin.weight.grad,
                     db=lin.bias.grad).items():
        w_.save(k.rstrip("_"), v)


def gen_layernorm():
    g = torch.Generator().manual_seed(1002)
    w_ = Writer("layernorm")
    LC = 5  # a width different from the others
    x = (randn(g, N, LC, scale=1.5) + randn(g, N, 1)).requires_grad_()  # rows with an offset
    gam = f32(1.0 + randn(g, LC, scale=0.3)).requires_grad_()
    bet = randn(g, LC, scale=0.3).requires_grad_()
    out = F.layer_norm(x, (LC,), gam, bet, eps=1e-5)
    with torch.no_grad():
        mean = x.mean(dim=1)
        rstd = 1.0 / torch.sqrt(x.var(dim=1, unbiased=False) + 1e-5)
    dout = randn(g, N, LC)
    (out * dout).sum().backward()
    for k, v in dict(in_=x, g=gam, b=bet, out=out, mean=mean, rstd=rstd, dout=dout, din=x.grad, dg=gam.grad,
                     db=bet.grad).items():
        w_.save(k.rstrip("_"), v)


def gen_act():
    g = torch.Generator().manual_seed(1003)
    w_ = Writer("act")
    special = torch.tensor([0.0, -6.0, 6.0, -3.5, 3.5, 1e-3, -1e-3, 0.5], dtype=D)
    x = f32(torch.cat([special, randn(g, 24, scale=2.0)]))
    dout = randn(g, x.numel())
    w_.save("in", x)
    w_.save("dout", dout)
    for name, fn in (("relu", F.relu), ("gelu", lambda t: F.gelu(t, approximate="none"))):
        xi = x.clone().requires_grad_()
        out = fn(xi)
        (out * dout).sum().backward()
        w_.save(name + "_out", out)
        w_.save(name + "_din", xi.grad)


def gen_xent():
    g = torch.Generator().manual_seed(1004)
    w_ = Writer("xent")
    logits = randn(g, N, K, scale=2.0)
    targets = torch.tensor([0, 2, 1, 2, 0, 2], dtype=torch.int64)  # every class, uneven counts
    assert targets.numel() == N
    class_w = f32(torch.tensor([0.4, 2.5, 1.2], dtype=D) * uniform(g, 0.9, 1.1, K))  # far from uniform
    w_.save("logits", logits)
    w_.save("targets", targets.numpy().astype(np.int32), dtype="<i4")
    w_.save("class_w", class_w)
    w_.save("probs", torch.softmax(logits, dim=1))
    for suffix, weight in (("", class_w), ("_now", None)):
        lg = logits.clone().requires_grad_()
        loss = torch.nn.CrossEntropyLoss(weight=weight, reduction="mean")(lg, targets)
        loss.backward()
        w_.save("loss" + suffix, loss.reshape(1))
        w_.save("dlogits" + suffix, lg.grad)


def lstm_by_hand(x, w_ih, w_hh, b_ih, b_hh):
    """Returns h, c (B,T,H) and gates (B,T,4H) after their activations, in the order i, f, g, o."""
    Bn, Tn, _ = x.shape
    Hn = w_hh.shape[1]
    h = torch.zeros(Bn, Hn, dtype=D)
    c = torch.zeros(Bn, Hn, dtype=D)
    hs, cs, gs = [], [], []
    for t in range(Tn):
        z = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = z.split(Hn, dim=1)
        i, f, gg, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(gg), torch.sigmoid(o)
        c = f * c + i * gg
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
        gs.append(torch.cat([i, f, gg, o], dim=1))
    return torch.stack(hs, 1), torch.stack(cs, 1), torch.stack(gs, 1)


def gen_lstm():
    g = torch.Generator().manual_seed(1005)
    w_ = Writer("lstm")
    lstm = torch.nn.LSTM(C, H, num_layers=1, batch_first=True).to(D)
    k = 0.8  # wider than PyTorch's 1/sqrt(H) so the gates leave their linear range
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(uniform(g, -k, k, 4 * H, C))
        lstm.weight_hh_l0.copy_(uniform(g, -k, k, 4 * H, H))
        lstm.bias_ih_l0.copy_(uniform(g, -k, k, 4 * H))
        lstm.bias_hh_l0.copy_(uniform(g, -k, k, 4 * H))
    x = randn(g, B, T, C).requires_grad_()
    h, (hn, cn) = lstm(x)  # zero initial state
    dh = randn(g, B, T, H)
    (h * dh).sum().backward()
    with torch.no_grad():
        h2, c2, gates = lstm_by_hand(x, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
        assert torch.allclose(h2, h, rtol=0, atol=1e-12)
        assert torch.allclose(c2[:, -1], cn[0], rtol=0, atol=1e-12)
        assert torch.allclose(h2[:, -1], hn[0], rtol=0, atol=1e-12)
    for k_, v in dict(in_=x, w_ih=lstm.weight_ih_l0, w_hh=lstm.weight_hh_l0, b_ih=lstm.bias_ih_l0,
                      b_hh=lstm.bias_hh_l0, h=h, c=c2, gates=gates, dh=dh, din=x.grad,
                      dw_ih=lstm.weight_ih_l0.grad, dw_hh=lstm.weight_hh_l0.grad, db_ih=lstm.bias_ih_l0.grad,
                      db_hh=lstm.bias_hh_l0.grad).items():
        w_.save(k_.rstrip("_"), v)


def gen_attention():
    g = torch.Generator().manual_seed(1006)
    w_ = Writer("attention")
    x = randn(g, B, T, H).requires_grad_()
    w = randn(g, A, H, scale=0.8).requires_grad_()
    b = randn(g, A, scale=0.5).requires_grad_()
    v = randn(g, A, scale=1.5).requires_grad_()
    u = torch.tanh(x @ w.T + b)  # (B, T, A)
    score = u @ v  # (B, T)
    a = torch.softmax(score, dim=1)
    ctx = (a.unsqueeze(-1) * x).sum(dim=1)  # (B, H)
    dctx = randn(g, B, H)
    (ctx * dctx).sum().backward()
    for k, t in dict(in_=x, w=w, b=b, v=v, u=u, a=a, ctx=ctx, dctx=dctx, din=x.grad, dw=w.grad, db=b.grad,
                     dv=v.grad).items():
        w_.save(k.rstrip("_"), t)


def mha_by_hand(x, w_qkv, b_qkv, w_o, b_o, NH):
    """Causal ALiBi self-attention as nn.h defines it. x (B,T,D) -> out, qkv (B,T,3D),
    att (B,NH,T,T) (zeros above the diagonal), y (B,T,D) (heads concatenated, before w_o)."""
    Bn, Tn, Dn = x.shape
    dh = Dn // NH
    qkv = x @ w_qkv.T + b_qkv  # (B, T, 3D): q, k, v
    q, k, v = qkv.split(Dn, dim=2)
    q = q.reshape(Bn, Tn, NH, dh).transpose(1, 2)  # (B, NH, T, dh), head h = columns h*dh..
    k = k.reshape(Bn, Tn, NH, dh).transpose(1, 2)
    v = v.reshape(Bn, Tn, NH, dh).transpose(1, 2)
    slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / NH) for h in range(NH)], dtype=D)
    pos = torch.arange(Tn, dtype=D)
    dist = pos.view(Tn, 1) - pos.view(1, Tn)  # i - j
    causal = dist >= 0
    score = (q @ k.transpose(-1, -2)) / (dh ** 0.5) - slopes.view(1, NH, 1, 1) * dist
    score = score.masked_fill(~causal, float("-inf"))
    att = torch.softmax(score, dim=-1)  # exp(-inf) = 0 above the diagonal
    y = (att @ v).transpose(1, 2).reshape(Bn, Tn, Dn)
    out = y @ w_o.T + b_o
    return out, qkv, att, y, slopes, dist, causal


def gen_mha():
    g = torch.Generator().manual_seed(1007)
    w_ = Writer("mha")
    MB, MT, MD, NH = 2, 5, 8, 2
    x = randn(g, MB, MT, MD).requires_grad_()
    w_qkv = randn(g, 3 * MD, MD, scale=0.6).requires_grad_()  # wide enough for peaked softmaxes
    b_qkv = randn(g, 3 * MD, scale=0.3).requires_grad_()
    w_o = randn(g, MD, MD, scale=0.5).requires_grad_()
    b_o = randn(g, MD, scale=0.3).requires_grad_()
    out, qkv, att, y, slopes, dist, causal = mha_by_hand(x, w_qkv, b_qkv, w_o, b_o, NH)
    dout = randn(g, MB, MT, MD)
    (out * dout).sum().backward()
    with torch.no_grad():
        assert torch.all(att.masked_select(~causal) == 0)
        assert torch.allclose(att.sum(-1), torch.ones(MB, NH, MT, dtype=D), rtol=0, atol=1e-12)
        # The same layer through nn.MultiheadAttention: identical in_proj layout (q, k, v;
        # head h at h*dh), q scaled by 1/sqrt(dh), a float attn_mask (B*NH, T, T) is added.
        ref = torch.nn.MultiheadAttention(MD, NH, bias=True, batch_first=True).to(D)
        ref.in_proj_weight.copy_(w_qkv)
        ref.in_proj_bias.copy_(b_qkv)
        ref.out_proj.weight.copy_(w_o)
        ref.out_proj.bias.copy_(b_o)
        mask = (-slopes.view(NH, 1, 1) * dist).masked_fill(~causal, float("-inf"))
        mask = mask.unsqueeze(0).expand(MB, NH, MT, MT).reshape(MB * NH, MT, MT)
        out2, att2 = ref(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
        assert torch.allclose(out2, out, rtol=0, atol=1e-12)
        assert torch.allclose(att2, att, rtol=0, atol=1e-12)
        # Each head's ALiBi bias must move att far beyond the C test's tolerance (1e-4).
        q, k = (t.reshape(MB, MT, NH, -1).transpose(1, 2) for t in qkv[..., :2 * MD].split(MD, dim=2))
        plain = torch.softmax((q @ k.transpose(-1, -2) / (MD // NH) ** 0.5).masked_fill(~causal, float("-inf")), -1)
        moved = (plain - att).abs().amax(dim=(0, 2, 3))
        assert torch.all(moved > 1e-3), moved
    for k_, v in dict(in_=x, w_qkv=w_qkv, b_qkv=b_qkv, w_o=w_o, b_o=b_o, out=out, qkv=qkv,
                      att=att.reshape(MB * NH * MT, MT), y=y, dout=dout, din=x.grad, dw_qkv=w_qkv.grad,
                      db_qkv=b_qkv.grad, dw_o=w_o.grad, db_o=b_o.grad).items():
        w_.save(k_.rstrip("_"), v)


def to_cl(x):
    """NCHW activations (B, C, T, W) -> channels-last (B, T, W, C) stored as (B*T, W*C)."""
    Bn, Cn, Tn, Wn = x.shape
    return x.permute(0, 2, 3, 1).reshape(Bn * Tn, Wn * Cn)


def w_to_cl(w):
    """Conv2d weight (Cout, Cin, kh, kw) -> channels-last (Cout, kh, kw, Cin) stored as (Cout, kh*kw*Cin)."""
    return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv_case(g, name, Bn, Tn, Wn, Cn, Cout, kernel, stride, pad_t):
    """One Conv2d on x (B, C, T, W) padded along time by pad_t = (before, after) zero rows.
    Saves the channels-last fixtures under conv/<name>/ and returns the tensors for checks."""
    w_ = Writer(os.path.join("conv", name))
    x = randn(g, Bn, Cn, Tn, Wn).requires_grad_()
    conv = torch.nn.Conv2d(Cn, Cout, kernel, stride=stride, padding=0, bias=True).to(D)
    with torch.no_grad():
        conv.weight.copy_(randn(g, Cout, Cn, *kernel, scale=0.6))
        conv.bias.copy_(randn(g, Cout, scale=0.4))
    out = conv(F.pad(x, (0, 0, pad_t[0], pad_t[1])))  # (left, right) on W, (top, bottom) on T
    dout = randn(g, *out.shape)
    (out * dout).sum().backward()
    for k, v in dict(in_=to_cl(x), w=w_to_cl(conv.weight), b=conv.bias, out=to_cl(out), dout=to_cl(dout),
                     din=to_cl(x.grad), dw=w_to_cl(conv.weight.grad), db=conv.bias.grad).items():
        w_.save(k.rstrip("_"), v)
    return x, conv, out


def gen_conv_w():
    """conv_w: kernel (1, K), stride (1, K) along the width (DeepLOB's first convolution of each block)."""
    g = torch.Generator().manual_seed(1008)
    for name, (Bn, Tn, Wn, Cn, Kn, Cout) in (("w_k2", (2, 3, 8, 3, 2, 4)), ("w_kw", (2, 3, 4, 2, 4, 5))):
        x, conv, out = conv_case(g, name, Bn, Tn, Wn, Cn, Cout, (1, Kn), (1, Kn), (0, 0))
        with torch.no_grad():
            # channels-last: the K columns under one output are a contiguous row of K*C values
            lin = to_cl(x).reshape(-1, Kn * Cn) @ w_to_cl(conv.weight).T + conv.bias
            assert torch.allclose(lin.reshape(Bn * Tn, -1), to_cl(out), rtol=0, atol=1e-12)


def gen_conv_t():
    """conv_t: kernel (K, 1) along time, TensorFlow 'same' padding ((K-1)//2 before, the rest after)."""
    g = torch.Generator().manual_seed(1009)
    for name, (Bn, Tn, Wn, Cn, Kn, Cout) in (("t_k4", (2, 6, 3, 3, 4, 4)), ("t_k3", (2, 5, 2, 2, 3, 3)),
                                             ("t_k5", (2, 4, 2, 3, 5, 2))):
        pad = ((Kn - 1) // 2, Kn - 1 - (Kn - 1) // 2)
        x, conv, out = conv_case(g, name, Bn, Tn, Wn, Cn, Cout, (Kn, 1), (1, 1), pad)
        with torch.no_grad():
            assert out.shape == (Bn, Cout, Tn, Wn)
            same = torch.nn.Conv2d(Cn, Cout, (Kn, 1), padding="same", bias=True).to(D)
            same.weight.copy_(conv.weight)
            same.bias.copy_(conv.bias)
            with warnings.catch_warnings():  # even K: "may require a zero-padded copy of the input"
                warnings.simplefilter("ignore", UserWarning)
                assert torch.allclose(same(x), out, rtol=0, atol=1e-12)
            # by hand: out[t] = b + sum_j W_j x[t + j - pad_before], zero outside 0..T-1
            hand = conv.bias.view(1, Cout, 1, 1).expand(Bn, Cout, Tn, Wn).clone()
            for j in range(Kn):
                s = j - pad[0]
                for t in range(Tn):
                    if 0 <= t + s < Tn:
                        hand[:, :, t] += torch.einsum("oc,bcw->bow", conv.weight[:, :, j, 0], x[:, :, t + s])
            assert torch.allclose(hand, out, rtol=0, atol=1e-12)


def gen_maxpool():
    """Max-pool (3, 1) along time, stride 1, 'same' (-inf padding): B=2, T=5, W=2, C=3."""
    g = torch.Generator().manual_seed(1010)
    w_ = Writer(os.path.join("conv", "maxpool"))
    Bn, Cn, Tn, Wn = 2, 3, 5, 2
    x = randn(g, Bn, Cn, Tn, Wn).requires_grad_()
    out, idx = F.max_pool2d(F.pad(x, (0, 0, 1, 1), value=float("-inf")), (3, 1), stride=1, return_indices=True)
    dout = randn(g, *out.shape)
    (out * dout).sum().backward()
    with torch.no_grad():
        assert out.shape == x.shape
        # idx is flat in the padded (T+2, W) plane; output t's window centre is padded row t+1
        t = torch.arange(Tn).view(1, 1, Tn, 1)
        arg = torch.div(idx, Wn, rounding_mode="floor") - t - 1
        assert torch.all((arg >= -1) & (arg <= 1)) and set(arg.unique().tolist()) == {-1, 0, 1}
        xp = F.pad(x, (0, 0, 1, 1), value=float("-inf"))
        win = torch.stack([xp[:, :, k:k + Tn] for k in range(3)])  # (3, B, C, T, W): offsets -1, 0, 1
        assert torch.equal(win.amax(0), out)
        assert torch.equal(torch.gather(win, 0, (arg + 1).unsqueeze(0))[0], out)
        # no ties: the winner is strictly above the two other values of its window
        assert torch.all((win == out.unsqueeze(0)).sum(0) == 1)
    w_.save("in", to_cl(x))
    w_.save("out", to_cl(out))
    w_.save("arg", to_cl(arg).numpy().astype(np.int32), dtype="<i4")
    w_.save("dout", to_cl(dout))
    w_.save("din", to_cl(x.grad))


def gen_lrelu():
    """Leaky ReLU, slope 0.01 (Keras / DeepLOB), on 20 values."""
    g = torch.Generator().manual_seed(1011)
    w_ = Writer(os.path.join("conv", "lrelu"))
    special = torch.tensor([0.0, -3.0, 3.0, 1e-3, -1e-3], dtype=D)
    x = f32(torch.cat([special, randn(g, 15, scale=2.0)])).requires_grad_()
    out = F.leaky_relu(x, negative_slope=0.01)
    dout = randn(g, x.numel())
    (out * dout).sum().backward()
    for k, v in dict(in_=x, out=out, dout=dout, din=x.grad).items():
        w_.save(k.rstrip("_"), v)


def main():
    gen_linear()
    gen_layernorm()
    gen_act()
    gen_xent()
    gen_lstm()
    gen_attention()
    gen_mha()  # with its own seed: the files above stay byte-identical
    # The DeepLOB layers come last, each with its own seed: the files above stay byte-identical.
    gen_conv_w()
    gen_conv_t()
    gen_maxpool()
    gen_lrelu()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    n = sum(len(fs) for _, _, fs in os.walk(ROOT))
    print(f"wrote {n} files, {total} bytes, under {os.path.normpath(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
