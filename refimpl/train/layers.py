"""Float layers with backward passes for training (NumPy, float32 or float64).

Each layer is a pair: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients`` (the CS231n convention).  Tensors
are (N, C, H, W); conv weights [Cout, Cin/groups, kh, kw]; fc weights
[Nout, Nin] with Nin flattened in (C, H, W) order (layout.flatten_chw), the
same layouts the engine and quantize.float_forward use.  Arithmetic runs in
the dtype of the input (float32 for training, float64 for the gradient
checks in tests/test_train_layers.py).

Conv is one GEMM per group through im2col: the columns are built from
``layout.windows`` as (Cin*kh*kw, N*Ho*Wo) with rows in (in_channel, ky, kx)
order, the row order of a flattened weight.  The backward GEMMs give dW and
dcols; col2im scatters dcols back with one strided add per kernel offset.
The ``*_naive`` twins are direct loops, the oracles for the fast paths.
"""
from __future__ import annotations

import numpy as np

from ..layout import pad_hw, windows


# ---------------------------------------------------------------- conv
def _cols(x, kernel, stride, pad):
    """(Cin*k*k, N*Ho*Wo) GEMM columns, rows (in_channel, ky, kx), columns (n, oy, ox)."""
    v = windows(x, kernel, stride, pad)                  # (N, C, Ho, Wo, k, k) view
    n, c, ho, wo = v.shape[:4]
    cols = np.ascontiguousarray(v.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(c * kernel * kernel, n * ho * wo), ho, wo


def conv_forward(x, w, b, stride=1, pad=0, groups=1):
    """x (N, Cin, H, W), w [Cout, Cin/groups, k, k], b [Cout] -> out (N, Cout, Ho, Wo)."""
    n = x.shape[0]
    cout, k = w.shape[0], w.shape[2]
    cols, ho, wo = _cols(x, k, stride, pad)
    kg, mg = cols.shape[0] // groups, cout // groups
    wf = w.reshape(cout, -1)
    out = np.empty((cout, n * ho * wo), dtype=x.dtype)
    for g in range(groups):
        np.matmul(wf[g * mg:(g + 1) * mg], cols[g * kg:(g + 1) * kg], out=out[g * mg:(g + 1) * mg])
    out += b.reshape(-1, 1)
    out = out.reshape(cout, n, ho, wo).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x.shape, cols, w, stride, pad, groups, ho, wo)


def conv_backward(dout, cache):
    """dout (N, Cout, Ho, Wo) -> (dx, dw, db)."""
    x_shape, cols, w, stride, pad, groups, ho, wo = cache
    n, cin, h, wd = x_shape
    cout, k = w.shape[0], w.shape[2]
    kg, mg = cols.shape[0] // groups, cout // groups
    d = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(cout, -1)
    db = d.sum(axis=1)
    wf = w.reshape(cout, -1)
    dw = np.empty_like(wf)
    dcols = np.empty_like(cols)
    for g in range(groups):
        dg = d[g * mg:(g + 1) * mg]
        np.matmul(dg, cols[g * kg:(g + 1) * kg].T, out=dw[g * mg:(g + 1) * mg])
        np.matmul(wf[g * mg:(g + 1) * mg].T, dg, out=dcols[g * kg:(g + 1) * kg])
    dcols = dcols.reshape(cin, k, k, n, ho, wo)
    dxp = np.zeros((n, cin, h + 2 * pad, wd + 2 * pad), dtype=dout.dtype)
    for ky in range(k):
        for kx in range(k):
            dxp[:, :, ky:ky + stride * ho:stride, kx:kx + stride * wo:stride] += dcols[:, ky, kx].transpose(1, 0, 2, 3)
    dx = dxp[:, :, pad:pad + h, pad:pad + wd] if pad else dxp
    return np.ascontiguousarray(dx), dw.reshape(w.shape), db


def conv_forward_naive(x, w, b, stride=1, pad=0, groups=1):
    """Direct loop over (n, out_channel, oy, ox): the oracle for conv_forward."""
    n, cin = x.shape[:2]
    cout, cg, k = w.shape[0], w.shape[1], w.shape[2]
    xp = pad_hw(x, pad)
    ho = (x.shape[2] + 2 * pad - k) // stride + 1
    wo = (x.shape[3] + 2 * pad - k) // stride + 1
    out = np.zeros((n, cout, ho, wo), dtype=x.dtype)
    mg = cout // groups
    for img in range(n):
        for oc in range(cout):
            g = oc // mg
            for oy in range(ho):
                for ox in range(wo):
                    patch = xp[img, g * cg:(g + 1) * cg, oy * stride:oy * stride + k, ox * stride:ox * stride + k]
                    out[img, oc, oy, ox] = np.sum(patch * w[oc]) + b[oc]
    return out


# ---------------------------------------------------------------- fc
def fc_forward(x, w, b):
    """x (N, ...) flattened to (N, Nin), w [Nout, Nin], b [Nout] -> (N, Nout)."""
    xf = x.reshape(x.shape[0], -1)
    return xf @ w.T + b, (x.shape, xf, w)


def fc_backward(dout, cache):
    """dout (N, Nout) -> (dx in x's shape, dw, db)."""
    x_shape, xf, w = cache
    return (dout @ w).reshape(x_shape), dout.T @ xf, dout.sum(axis=0)


# ---------------------------------------------------------------- relu
def relu_forward(x):
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """Gradient 1 where the output is positive, 0 elsewhere (0 at x == 0)."""
    return dout * (cache > 0)


# ---------------------------------------------------------------- max pool
def maxpool_forward(x, kernel, stride, pad=0):
    """x (N, C, H, W) -> (N, C, Ho, Wo); ties go to the first window position
    in (ky, kx) row-major order (a strict '>' scan, as Caffe's)."""
    n, c, h, w = x.shape
    xp = pad_hw(x, pad, -np.inf) if pad else x
    ho = (h + 2 * pad - kernel) // stride + 1
    wo = (w + 2 * pad - kernel) // stride + 1
    out = xp[:, :, 0:stride * ho:stride, 0:stride * wo:stride].copy()
    arg = np.zeros(out.shape, dtype=np.int8)
    for pos in range(1, kernel * kernel):
        ky, kx = divmod(pos, kernel)
        cand = xp[:, :, ky:ky + stride * ho:stride, kx:kx + stride * wo:stride]
        better = cand > out
        np.copyto(out, cand, where=better)
        arg[better] = pos
    return out, (x.shape, arg, kernel, stride, pad)


def maxpool_backward(dout, cache):
    x_shape, arg, kernel, stride, pad = cache
    n, c, h, w = x_shape
    ho, wo = arg.shape[2:]
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dout.dtype)
    for ky in range(kernel):
        for kx in range(kernel):
            dxp[:, :, ky:ky + stride * ho:stride, kx:kx + stride * wo:stride] += dout * (arg == ky * kernel + kx)
    return dxp[:, :, pad:pad + h, pad:pad + w] if pad else dxp


# ---------------------------------------------------------------- LRN
def window_sum(sq, size):
    """Sum over ``size`` channels centred on each channel, zero outside (Caffe
    ACROSS_CHANNELS), by shifted adds: the float twin of layout.lrn_window_sum,
    without the cumulative sum whose differences lose float32 precision."""
    half = size // 2
    c = sq.shape[1]
    padded = np.zeros((sq.shape[0], c + 2 * half) + sq.shape[2:], dtype=sq.dtype)
    padded[:, half:half + c] = sq
    out = padded[:, 0:c].copy()
    for i in range(1, size):
        out += padded[:, i:i + c]
    return out


def lrn_forward(x, size, alpha, beta, k):
    """Caffe ACROSS_CHANNELS LRN: scale = k + alpha/size * sum_{window} x^2,
    y = x * scale**-beta (window of ``size`` channels centred, zero outside)."""
    scale = x.dtype.type(k) + x.dtype.type(alpha / size) * window_sum(x * x, size)
    inv = scale ** x.dtype.type(-beta)
    y = x * inv
    return y, (x, y, scale, inv, size, alpha, beta)


def lrn_backward(dout, cache):
    """Caffe's exact gradient (lrn_layer.cpp CrossChannelBackward):
    dx = dy * scale**-beta - (2*alpha*beta/size) * x * sum_{window}(dy * y / scale).
    The window is symmetric, so the same centred sum is its own adjoint."""
    x, y, scale, inv, size, alpha, beta = cache
    ratio = window_sum(dout * y / scale, size)
    return dout * inv - x.dtype.type(2.0 * alpha * beta / size) * x * ratio


# ---------------------------------------------------------------- dropout
def dropout_forward(x, p, rng, train=True):
    """Inverted dropout: zero each unit with probability p, scale the rest by
    1/(1-p), so inference is the identity.  rng : numpy Generator."""
    if not train or p == 0:
        return x, None
    mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache


# ---------------------------------------------------------------- loss
def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels (N,) under softmax(logits (N, K)),
    and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -logp[np.arange(n), labels].mean()
    d = np.exp(logp)
    d[np.arange(n), labels] -= 1
    return float(loss), d / n
