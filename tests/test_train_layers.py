"""Training layers: fast paths against direct loops, every backward against
central finite differences in float64, and a 64-image fit."""
import numpy as np
import pytest

from refimpl.networks import get
from refimpl.train import layers as L
from refimpl.train import model, optim


def num_grad(f, x, h=1e-5):
    """Central differences of the scalar f() with respect to every element of x (in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def rel_err(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def check(forward, backward, inputs, rng, tol=1e-6):
    """Compare backward's gradients of sum(out * R) with finite differences, for every input."""
    out, cache = forward()
    r = rng.standard_normal(out.shape)
    grads = backward(r, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for x, g in zip(inputs, grads):
        ng = num_grad(lambda: float(np.sum(forward()[0] * r)), x)
        assert g.shape == x.shape
        assert rel_err(g, ng) < tol, rel_err(g, ng)


@pytest.mark.parametrize("stride,pad,groups", [(1, 0, 1), (1, 2, 1), (2, 1, 2), (1, 1, 2)])
def test_conv_matches_loop_and_gradient(stride, pad, groups):
    rng = np.random.default_rng(stride * 10 + pad + groups)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, 3, 3))
    b = rng.standard_normal(6)
    out, _ = L.conv_forward(x, w, b, stride, pad, groups)
    ref = L.conv_forward_naive(x, w, b, stride, pad, groups)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    check(lambda: L.conv_forward(x, w, b, stride, pad, groups), L.conv_backward, (x, w, b), rng)


def test_fc_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 2, 2))
    w = rng.standard_normal((5, 8))
    b = rng.standard_normal(5)
    out, _ = L.fc_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(3, -1) @ w.T + b, rtol=1e-12)
    check(lambda: L.fc_forward(x, w, b), L.fc_backward, (x, w, b), rng)


def test_relu_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 4))
    x[np.abs(x) < 1e-3] = 0.5          # keep finite differences away from the kink
    check(lambda: L.relu_forward(x), L.relu_backward, (x,), rng)


@pytest.mark.parametrize("kernel,stride,pad", [(3, 2, 0), (2, 2, 0), (3, 2, 1)])
def test_maxpool_matches_loop_and_gradient(kernel, stride, pad):
    rng = np.random.default_rng(kernel + stride + pad)
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0   # distinct values: no ties
    out, _ = L.maxpool_forward(x, kernel, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    ho = (7 + 2 * pad - kernel) // stride + 1
    ref = np.empty((2, 3, ho, ho))
    for oy in range(ho):
        for ox in range(ho):
            ref[:, :, oy, ox] = xp[:, :, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel].max(axis=(2, 3))
    np.testing.assert_array_equal(out, ref)
    check(lambda: L.maxpool_forward(x, kernel, stride, pad), L.maxpool_backward, (x,), rng)


def test_maxpool_tie_goes_to_first_position():
    x = np.zeros((1, 1, 3, 3))
    out, cache = L.maxpool_forward(x, 3, 2)
    dx = L.maxpool_backward(np.ones_like(out), cache)
    assert dx[0, 0, 0, 0] == 1 and dx.sum() == 1


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 1.0), (3, 0.5, 0.75, 2.0), (5, 2.0, 0.6, 1.0)])
def test_lrn_matches_formula_and_gradient(size, alpha, beta, k):
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 7, 3, 3)) * 3
    out, _ = L.lrn_forward(x, size, alpha, beta, k)
    ref = np.empty_like(x)
    for c in range(7):                  # Caffe: scale = k + alpha/n * sum over [c - n//2, c + n//2]
        lo, hi = max(0, c - size // 2), min(7, c + size // 2 + 1)
        ref[:, c] = x[:, c] / (k + alpha / size * np.sum(x[:, lo:hi] ** 2, axis=1)) ** beta
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    check(lambda: L.lrn_forward(x, size, alpha, beta, k), L.lrn_backward, (x,), rng)


def test_dropout_mask_and_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 40))
    out, mask = L.dropout_forward(x, 0.5, np.random.default_rng(7))
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert 0.4 < np.mean(mask == 0) < 0.6
    np.testing.assert_array_equal(out, x * mask)
    check(lambda: L.dropout_forward(x, 0.5, np.random.default_rng(7)), L.dropout_backward, (x,), rng)
    same, _ = L.dropout_forward(x, 0.5, None, train=False)
    assert same is x


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((4, 5))
    y = np.array([0, 3, 4, 1])
    loss, d = L.softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert abs(loss - np.mean(-np.log(p[np.arange(4), y]))) < 1e-12
    ng = num_grad(lambda: L.softmax_cross_entropy(z, y)[0], z)
    assert rel_err(d, ng) < 1e-6


def test_whole_model_gradient_small():
    """Backward through the full alexnet-cifar layer stack on 2 images, checked on sampled weights."""
    spec = get("alexnet-cifar")
    rng = np.random.default_rng(5)
    params = model.init_params(spec, rng, dtype=np.float64)
    for k in params:
        if k.endswith(".bias"):
            params[k] += rng.standard_normal(params[k].shape) * 0.1
    x = rng.standard_normal((2, 3, 32, 32))
    y = np.array([3, 7])
    loss = lambda: L.softmax_cross_entropy(model.forward(spec, params, x)[0], y)[0]
    logits, caches = model.forward(spec, params, x)
    grads = model.backward(L.softmax_cross_entropy(logits, y)[1], caches)
    for key in ("conv1.weight", "conv2.weight", "conv4.bias", "fc6.weight", "fc8.bias"):
        p = params[key].reshape(-1)
        for i in rng.choice(p.size, 4, replace=False):
            old = p[i]
            p[i] = old + 1e-5
            lp = loss()
            p[i] = old - 1e-5
            lm = loss()
            p[i] = old
            ng = (lp - lm) / 2e-5
            g = grads[key].reshape(-1)[i]
            assert abs(g - ng) <= 1e-5 * max(1.0, abs(ng)), (key, i, g, ng)


def test_export_folds_input_scale_exactly():
    spec = get("alexnet-cifar")
    params = model.init_params(spec, np.random.default_rng(6))
    out = model.export(spec, params)
    np.testing.assert_array_equal(out["conv1.weight"], params["conv1.weight"] / 64)
    np.testing.assert_array_equal(out["fc6.weight"], params["fc6.weight"])


def test_sgd_matches_hand_update():
    w = {"a.weight": np.array([1.0, -2.0]), "a.bias": np.array([0.5])}
    v = optim.sgd_init(w)
    g = {"a.weight": np.array([0.1, 0.2]), "a.bias": np.array([1.0])}
    optim.sgd_step(w, g, v, lr=0.1, momentum=0.9, weight_decay=0.01)
    optim.sgd_step(w, g, v, lr=0.1, momentum=0.9, weight_decay=0.01)
    # by hand: step 1 v = g + wd*w0; w1 = w0 - lr*v; step 2 v = 0.9 v + g + wd*w1
    w0 = np.array([1.0, -2.0]); v1 = np.array([0.1, 0.2]) + 0.01 * w0; w1 = w0 - 0.1 * v1
    v2 = 0.9 * v1 + np.array([0.1, 0.2]) + 0.01 * w1; w2 = w1 - 0.1 * v2
    np.testing.assert_allclose(w["a.weight"], w2, rtol=1e-15)
    assert abs(w["a.bias"][0] - (0.5 - 0.1 * 1.0 - 0.1 * 1.9)) < 1e-15


def test_one_cycle_endpoints():
    assert optim.one_cycle_lr(0, 100, 0.1) == pytest.approx(0.01)
    assert optim.one_cycle_lr(15, 100, 0.1) == pytest.approx(0.1)
    assert optim.one_cycle_lr(99, 100, 0.1) == pytest.approx(0.001)


def test_fits_64_images():
    """64 CIFAR test images (the shipped subset, spread over the classes), no
    augmentation: full-batch SGD must fit them (100 % training accuracy, loss
    near 0) in 50 steps, which a wrong gradient anywhere in the stack prevents."""
    from pathlib import Path
    spec = get("alexnet-cifar")
    with np.load(Path(__file__).parent / "data" / "cifar10" / "test-300.npz") as f:
        idx = np.arange(64) * 300 // 64
        x = model.pixels_to_input(f["pixels"][idx], spec)
        y = f["labels"][idx].astype(np.int64)
    rng = np.random.default_rng(8)
    params = model.init_params(spec, rng)
    vel = optim.sgd_init(params)
    losses = []
    for step in range(50):
        logits, caches = model.forward(spec, params, x, train=True, rng=rng)
        loss, d = L.softmax_cross_entropy(logits, y)
        losses.append(loss)
        optim.sgd_step(params, model.backward(d, caches), vel, lr=0.003 * min(1, (step + 1) / 10),
                       momentum=0.9, weight_decay=0)
    logits, _ = model.forward(spec, params, x)
    assert np.mean(logits.argmax(axis=1) == y) == 1.0
    assert losses[0] > 2.0 and L.softmax_cross_entropy(logits, y)[0] < 0.05
