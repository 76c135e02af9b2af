#!/usr/bin/env python3
"""Small-CNN baseline for casetrace's descriptor, trained on CPU under a wall-clock budget.

Purpose: give the model card an honest, measured comparison between the
Fourier + LDA descriptor (models/descriptor/train.py) and a small CNN
trained for ~10 minutes on this project's 2-core CPU. It is a baseline, not
a shipped model: nothing here is exported to ONNX.

Input: the engine's polar unwraps (DIR/polar.npy [N, rings=32, angles=128],
DIR/labels.txt, DIR/grid.json). Zero marks a missing sample.

Model (jax, no NN library):
  * per casing, standardise the valid (non-zero) samples to mean 0 / std 1,
    keep missing samples at 0, and add a validity mask as a 2nd channel;
  * 3 conv stages (default 16-32-64 channels), 2 conv3x3 + GroupNorm + ReLU
    each; padding is circular along the angle axis (a casing is a circle)
    and zero along rings; 2x2 average pooling between stages;
  * rotation invariance by construction: per ring and channel, mean and max
    over the angle axis of the last feature map (a circular shift of the
    input only moves the feature map along angle, exactly so for shifts
    that are multiples of the total angular stride, 4, approximately for
    the rest; training also shifts at random);
  * batch-norm of those pooled features (running statistics at inference),
    then a linear embedding to 128-d, L2-normalised.
Objective (--loss): batch-hard soft-margin triplet loss on cosine distance
over P guns x K casings batches (default; it measured better), or a cosine
classifier with additive margin (CosFace) over the 480 training firearms.
Adam with decoupled weight decay, cosine learning-rate decay over the
wall-clock budget. Augmentation: a random circular shift
along angle (a free rotation) and small Gaussian noise on valid samples.

Evaluation: recall@K (K = 1, 10, 50) exactly as train.py's recall_at, on
the held-out firearms of the train-a split (same split as train.py: seed 7,
20 % of guns), and on the test-only hard and weller sets.

Usage:
  python3 models/descriptor/baselines/cnn.py \
      --train /tmp/d/train-a-polar --hard /tmp/d/hard-polar --weller /tmp/d/weller-polar \
      [--budget 600] [--loss triplet|cosface] [--channels 16,32,64] [--threads 2]
"""

import argparse
import json
import os
import platform
import sys
import time


def _limit_threads(n):
    """Cap numpy/BLAS and XLA to n CPU threads (must run before importing jax/numpy)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    flags = os.environ.get("XLA_FLAGS", "")
    if n <= 1 and "xla_cpu_multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false"
    os.environ["XLA_FLAGS"] = flags.strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    # XLA sizes its CPU thread pool from the CPUs this process may run on.
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[: max(1, n)])
    except (AttributeError, OSError):
        pass


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 2


_limit_threads(_threads_from_argv())

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

KS = [1, 10, 50]


def _jaxlib_version():
    import jaxlib

    return jaxlib.__version__


# The loader and the metric are train.py's own, so the model card's rows
# are comparable.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from train import load_set, recall_at  # noqa: E402


# ---------------------------------------------------------------- data


def standardise(polar):
    """Per casing: valid samples to mean 0 / std 1, missing stay 0; returns [N, R, A, 2] (value, mask)."""
    mask = (polar != 0).astype(np.float32)
    cnt = np.maximum(mask.sum(axis=(1, 2), keepdims=True), 1.0)
    mean = (polar * mask).sum(axis=(1, 2), keepdims=True) / cnt
    var = (((polar - mean) * mask) ** 2).sum(axis=(1, 2), keepdims=True) / cnt
    x = (polar - mean) * mask / np.sqrt(var + 1e-12)
    return np.stack([x, mask], axis=-1).astype(np.float32)


def split_like_train_py(labels, seed=7, holdout=0.2):
    guns = np.unique(labels)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(guns, size=max(1, int(len(guns) * holdout)), replace=False))
    return np.array([g not in held for g in labels])


# ---------------------------------------------------------------- model


def init_params(key, channels, rings, emb_dim, n_classes, in_ch=2):
    params = {"convs": []}
    cin = in_ch
    for cout in channels:
        for _ in range(2):
            key, k = jax.random.split(key)
            fan_in = 9 * cin
            params["convs"].append(
                {
                    "w": jax.random.normal(k, (3, 3, cin, cout)) * np.sqrt(2.0 / fan_in),
                    "b": jnp.zeros(cout),
                    "g": jnp.ones(cout),
                    "beta": jnp.zeros(cout),
                }
            )
            cin = cout
    r_out = rings // 2 ** (len(channels) - 1)
    feat = r_out * cin * 2
    key, k1, k2 = jax.random.split(key, 3)
    params["emb_w"] = jax.random.normal(k1, (feat, emb_dim)) / np.sqrt(feat)
    params["emb_b"] = jnp.zeros(emb_dim)
    # Cosine-classifier proxies (unused by the triplet loss).
    params["proxies"] = jax.random.normal(k2, (emb_dim, n_classes))
    return params


def conv_circ(x, w, b):
    """3x3 conv, NHWC with H = rings (zero padding) and W = angles (circular padding)."""
    x = jnp.concatenate([x[:, :, -1:], x, x[:, :, :1]], axis=2)
    x = jnp.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)))
    y = lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + b


def group_norm(x, g, beta, groups=4, eps=1e-5):
    n, h, w, c = x.shape
    xg = x.reshape(n, h, w, groups, c // groups)
    mu = xg.mean(axis=(1, 2, 4), keepdims=True)
    var = xg.var(axis=(1, 2, 4), keepdims=True)
    xg = (xg - mu) / jnp.sqrt(var + eps)
    return xg.reshape(n, h, w, c) * g + beta


def pool2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def pooled_features(params, x):
    convs = params["convs"]
    n_stages = len(convs) // 2
    for s in range(n_stages):
        for layer in convs[2 * s : 2 * s + 2]:
            x = jax.nn.relu(group_norm(conv_circ(x, layer["w"], layer["b"]), layer["g"], layer["beta"]))
        if s < n_stages - 1:
            x = pool2(x)
    # Rotation-invariant head: pool over the angle axis, keep the ring layout.
    f = jnp.concatenate([x.mean(axis=2), x.max(axis=2)], axis=-1)  # [N, R', 2C]
    return f.reshape(f.shape[0], -1)


def project(params, f, mean, var):
    # Batch-norm of the pooled features before the linear map. Without it the
    # post-ReLU features share a large common component: at init every pair
    # of casings had cosine ~0.97, and the triplet loss collapsed on it.
    f = (f - mean) / jnp.sqrt(var + 1e-5)
    e = f @ params["emb_w"] + params["emb_b"]
    return e / (jnp.linalg.norm(e, axis=1, keepdims=True) + 1e-8)


def embed(params, bn, x):
    """Inference: batch-norm with the running statistics gathered in training."""
    return project(params, pooled_features(params, x), bn["mean"], bn["var"])


def embed_train(params, x):
    """Training: batch-norm with the batch's statistics; also returns them."""
    f = pooled_features(params, x)
    mean, var = f.mean(axis=0), f.var(axis=0)
    return project(params, f, mean, var), (mean, var)


def cosface_loss(params, x, y, scale, margin):
    e, stats = embed_train(params, x)
    p = params["proxies"]
    p = p / (jnp.linalg.norm(p, axis=0, keepdims=True) + 1e-8)
    cos = e @ p
    onehot = jax.nn.one_hot(y, p.shape[1])
    logits = scale * (cos - margin * onehot)
    return -(jax.nn.log_softmax(logits) * onehot).sum(axis=1).mean(), stats


def triplet_loss(params, x, y, scale, margin):
    """Batch-hard triplet loss on cosine distance.

    margin > 0: hinge max(0, d_pos - d_neg + margin); margin == 0: soft margin
    softplus(scale * (d_pos - d_neg)) (Hermans et al. 2017). The hinge version
    collapsed here (every embedding equal, loss stuck at the margin) within
    the first epoch, so the soft margin is the default.
    """
    e, stats = embed_train(params, x)
    d = 1.0 - e @ e.T  # cosine distance
    same = y[:, None] == y[None, :]
    eye = jnp.eye(len(y), dtype=bool)
    hardest_pos = jnp.where(same & ~eye, d, -jnp.inf).max(axis=1)
    hardest_neg = jnp.where(~same, d, jnp.inf).min(axis=1)
    gap = hardest_pos - hardest_neg
    if margin > 0:
        return jax.nn.relu(gap + margin).mean(), stats
    return jax.nn.softplus(scale * gap).mean(), stats


# ---------------------------------------------------------------- optimiser (Adam, decoupled weight decay)


def adam_init(params):
    z = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"m": z, "v": jax.tree_util.tree_map(jnp.zeros_like, params), "t": jnp.zeros((), jnp.int32)}


def adam_update(params, grads, state, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    t = state["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
    c1 = 1 - b1**t
    c2 = 1 - b2**t

    def step(p, m, v):
        upd = (m / c1) / (jnp.sqrt(v / c2) + eps)
        decay = wd * p if p.ndim > 1 else 0.0  # no decay on biases / norm parameters
        return p - lr * (upd + decay)

    params = jax.tree_util.tree_map(step, params, m, v)
    return params, {"m": m, "v": v, "t": t}


# ---------------------------------------------------------------- training


def pk_batches(rng, y, p, k):
    """Yield index batches of p guns x k casings covering every training gun once (one epoch)."""
    by_gun = {}
    for i, g in enumerate(y):
        by_gun.setdefault(int(g), []).append(i)
    guns = np.array(sorted(by_gun))
    rng.shuffle(guns)
    for s in range(0, len(guns) - p + 1, p):
        idx = []
        for g in guns[s : s + p]:
            members = by_gun[g]
            idx.extend(rng.choice(members, size=k, replace=len(members) < k))
        yield np.array(idx)


def augment(rng, xb, noise):
    n, _, a, _ = xb.shape
    shifts = rng.integers(0, a, size=n)
    cols = (np.arange(a)[None, :] - shifts[:, None]) % a
    xb = xb[np.arange(n)[:, None], :, cols].transpose(0, 2, 1, 3)  # rotate each casing
    if noise > 0:
        mask = xb[..., 1]
        xb = xb.copy()
        xb[..., 0] += noise * rng.standard_normal(mask.shape).astype(np.float32) * mask
    return xb


def embed_all(embed_fn, params, bn, x, batch=256):
    return np.concatenate([np.asarray(embed_fn(params, bn, x[i : i + batch])) for i in range(0, len(x), batch)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="`casetrace polar` folder of the training set (set a of ../rebuild)")
    ap.add_argument("--hard", required=True, help="`casetrace polar` folder of the hard set (test only)")
    ap.add_argument("--weller", required=True, help="`casetrace polar` folder of the Weller scans (test only)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn_report.json"))
    ap.add_argument("--budget", type=float, default=600.0, help="training wall-clock seconds (includes jit compile)")
    ap.add_argument("--loss", choices=["triplet", "cosface"], default="triplet")
    ap.add_argument("--channels", default="16,32,64")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--guns-per-batch", type=int, default=16, help="P in P x K batches")
    ap.add_argument("--casings-per-gun", type=int, default=4, help="K in P x K batches")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--scale", type=float, default=None, help="cosface logit scale (default 30) or soft-margin triplet scale (default 10)")
    ap.add_argument("--margin", type=float, default=None, help="cosface margin (default 0.2); triplet hinge margin (default 0 = soft margin)")
    ap.add_argument("--noise", type=float, default=0.05, help="std of added noise, in units of the casing's std")
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of the budget with linear lr warm-up")
    ap.add_argument("--eval-every", type=float, default=120.0, help="seconds of training between held-out progress prints (not counted in the budget)")
    ap.add_argument("--seed", type=int, default=0, help="seed for init, batches and augmentation")
    ap.add_argument("--split-seed", type=int, default=7, help="train.py's held-out split seed")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for XLA/BLAS (machine is shared)")
    ap.add_argument("--tag", default=None, help="name stored in the report")
    args = ap.parse_args()
    if args.loss == "cosface":
        margin = 0.2 if args.margin is None else args.margin
        scale = 30.0 if args.scale is None else args.scale
    else:
        margin = 0.0 if args.margin is None else args.margin
        scale = 10.0 if args.scale is None else args.scale
    channels = [int(c) for c in args.channels.split(",")]

    polar, labels, _ = load_set(args.train)
    train = split_like_train_py(labels, args.split_seed)
    x_all = standardise(polar)
    x_tr, x_held = x_all[train], x_all[~train]
    guns_tr = np.unique(labels[train])
    y_tr = np.searchsorted(guns_tr, labels[train]).astype(np.int32)
    y_held = labels[~train]
    tests = {"held": (x_held, y_held)}
    for name, path in (("hard", args.hard), ("weller", args.weller)):
        p, l, _ = load_set(path)
        tests[name] = (standardise(p), l)
    print(f"train: {len(guns_tr)} guns / {len(y_tr)} casings; held: {len(np.unique(y_held))} guns / {len(y_held)} casings")

    key = jax.random.PRNGKey(args.seed)
    params = init_params(key, channels, polar.shape[1], args.dim, len(guns_tr))
    if args.loss == "triplet":
        params.pop("proxies")
    n_params = int(sum(np.prod(v.shape) for v in jax.tree_util.tree_leaves(params)))
    n_params_embed = n_params - (int(np.prod(params["proxies"].shape)) if "proxies" in params else 0)
    print(f"parameters: {n_params_embed} in the embedding network (+{n_params - n_params_embed} training-only proxies)")

    loss_fn = cosface_loss if args.loss == "cosface" else triplet_loss

    @jax.jit
    def train_step(params, opt, bn, xb, yb, lr):
        (loss, (mean, var)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, xb, yb, scale, margin)
        params, opt = adam_update(params, grads, opt, lr, args.wd)
        bn = {"mean": 0.9 * bn["mean"] + 0.1 * mean, "var": 0.9 * bn["var"] + 0.1 * var}
        return params, opt, bn, loss

    embed_fn = jax.jit(embed)
    opt = adam_init(params)
    n_feat = params["emb_w"].shape[0]
    bn = {"mean": jnp.zeros(n_feat), "var": jnp.ones(n_feat)}
    rng = np.random.default_rng(args.seed)

    def lr_at(frac):
        if frac < args.warmup:
            return args.lr * frac / args.warmup
        return args.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, (frac - args.warmup) / (1 - args.warmup))))

    trained = 0.0  # training wall-clock seconds (excludes progress evaluation)
    epochs = steps = 0
    next_eval = args.eval_every
    progress = []
    done = False
    while not done:
        losses = []
        for idx in pk_batches(rng, y_tr, args.guns_per_batch, args.casings_per_gun):
            t0 = time.perf_counter()
            xb = augment(rng, x_tr[idx], args.noise)
            params, opt, bn, loss = train_step(params, opt, bn, xb, y_tr[idx], np.float32(lr_at(trained / args.budget)))
            loss = float(loss)  # blocks until the step is done
            trained += time.perf_counter() - t0
            losses.append(loss)
            steps += 1
            if trained >= args.budget:
                done = True
                break
        else:
            epochs += 1
        frac_epoch = epochs + (0 if not done else len(losses) / (len(guns_tr) // args.guns_per_batch))
        msg = f"epoch {epochs:3d}  steps {steps:5d}  {trained:6.1f}s  loss {np.mean(losses):.4f}"
        if trained >= next_eval or done:
            r = recall_at(embed_all(embed_fn, params, bn, x_held), y_held, KS)
            progress.append(dict(epochs=round(frac_epoch, 2), seconds=round(trained, 1), held=r))
            msg += f"  held recall@1/10/50 {r[1]:.3f}/{r[10]:.3f}/{r[50]:.3f}"
            next_eval += args.eval_every
        print(msg, flush=True)
    epochs_done = round(epochs + (len(losses) / (len(guns_tr) // args.guns_per_batch) if done else 0), 2)

    results = {}
    for name, (x, y) in tests.items():
        results[name] = recall_at(embed_all(embed_fn, params, bn, x), y, KS)
        r = results[name]
        print(f"{name:7s} ({len(np.unique(y))} guns / {len(y)} casings): recall@1/10/50 {r[1]:.3f}/{r[10]:.3f}/{r[50]:.3f}")

    # Sanity check on the invariance claim: embeddings of rotated held-out casings.
    e0 = embed_all(embed_fn, params, bn, x_held)
    rot = {}
    for s in (1, 4, 37):
        e1 = embed_all(embed_fn, params, bn, np.roll(x_held, s, axis=2))
        rot[str(s)] = round(float((e0 * e1).sum(axis=1).mean()), 4)
    print(f"mean cosine(embedding, embedding of the casing rotated by s angle bins): {rot}")

    report = dict(
        model="small CNN (jax), circular conv along angle, mean+max pooling over angle, 128-d L2-normalised",
        tag=args.tag or f"{args.loss}-{args.channels}",
        loss=args.loss,
        channels=channels,
        dim=args.dim,
        parameters=n_params_embed,
        training_only_parameters=n_params - n_params_embed,
        recall={k: {str(kk): v for kk, v in r.items()} for k, r in results.items()},
        training_seconds=round(trained, 1),
        budget_seconds=args.budget,
        epochs=epochs_done,
        steps=steps,
        batch=f"{args.guns_per_batch} guns x {args.casings_per_gun} casings",
        train_guns=int(len(guns_tr)),
        train_casings=int(len(y_tr)),
        held_guns=int(len(np.unique(y_held))),
        hyper=dict(lr=args.lr, wd=args.wd, scale=scale, margin=margin, noise=args.noise, warmup=args.warmup),
        rotation_self_cosine=rot,
        held_progress=progress,
        seed=args.seed,
        split_seed=args.split_seed,
        threads=args.threads,
        versions=dict(
            python=platform.python_version(),
            jax=jax.__version__,
            jaxlib=_jaxlib_version(),
            numpy=np.__version__,
        ),
        reference_fourier_lda=dict(held={"1": 0.338, "10": 0.604, "50": 0.835}, hard={"1": 0.122, "10": 0.348, "50": 0.639}, weller={"1": 0.674, "10": 0.842, "50": 1.0}),
        command=" ".join(["python3", os.path.relpath(__file__)] + sys.argv[1:]),
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    json.dump(report, open(args.out, "w"), indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
