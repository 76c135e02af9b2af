#!/usr/bin/env python3
"""Train and export casetrace's descriptor model.

Input: the polar unwraps that the engine itself computes
(`casetrace polar LABELS.csv --out DIR` writes DIR/polar.npy, DIR/labels.txt
and DIR/grid.json), so training and inference share one preprocessing.

Model: rotation-invariant Fourier features of the polar image, then a
learned linear projection (PCA followed by regularised LDA) to `--dim`
dimensions, then L2 normalisation.

  * per ring r and angular frequency k: |F_r(k)| (rotation only changes
    phases, so magnitudes are invariant);
  * per pair of neighbouring rings: F_r(k) * conj(F_{r+1}(k)), whose phase
    is the *relative* phase of the two rings (also invariant, and it keeps
    the spatial layout that magnitudes alone throw away);
  * signed square roots tame the heavy tails of spectra.

The projection maximises between-firearm over within-firearm variance:
it learns which features survive from shot to shot of one gun.

Usage: python3 train.py --data DIR --out models/descriptor [--dim 128]
"""

import argparse
import json
import os
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy.linalg import eigh

K_FREQ = 24  # angular frequencies 0..K-1 kept per ring
EPS = 1e-6


def dft_mats(angles, k):
    a = np.arange(angles)[:, None]
    f = np.arange(k)[None, :]
    ang = 2 * np.pi * a * f / angles
    return np.cos(ang).astype(np.float32), (-np.sin(ang)).astype(np.float32)


def features(polar):
    """Same maths as the ONNX graph below, in numpy (float32)."""
    c, s = dft_mats(polar.shape[2], K_FREQ)
    xr = polar @ c
    xi = polar @ s
    mag = np.sqrt(xr * xr + xi * xi + EPS)
    re = xr[:, :-1] * xr[:, 1:] + xi[:, :-1] * xi[:, 1:]
    im = xi[:, :-1] * xr[:, 1:] - xr[:, :-1] * xi[:, 1:]
    ssqrt = lambda v: np.sign(v) * np.sqrt(np.abs(v) + EPS)
    n = polar.shape[0]
    return np.concatenate(
        [np.sqrt(mag).reshape(n, -1), ssqrt(re).reshape(n, -1), ssqrt(im).reshape(n, -1)], axis=1
    ).astype(np.float32)


def fit_projection(x, y, dim, pca_dim, shrink):
    mean = x.mean(axis=0)
    xc = x - mean
    # PCA first: the feature count exceeds the sample count.
    u, sv, vt = np.linalg.svd(xc, full_matrices=False)
    classes = np.unique(y)
    # Between-class scatter has rank classes-1 and PCA keeps at most the
    # sample count: directions beyond either carry no discriminant.
    pca_dim = min(pca_dim, len(sv))
    dim = min(dim, pca_dim, len(classes) - 1)
    p = vt[:pca_dim].T  # F x pca_dim
    z = xc @ p
    mu = np.stack([z[y == c].mean(axis=0) for c in classes])
    within = np.concatenate([z[y == c] - mu[i] for i, c in enumerate(classes)])
    sw = within.T @ within / len(z)
    sb = (mu - z.mean(axis=0)).T @ (mu - z.mean(axis=0)) / len(classes)
    sw += shrink * np.trace(sw) / sw.shape[0] * np.eye(sw.shape[0])
    vals, vecs = eigh(sb, sw)
    order = np.argsort(vals)[::-1][:dim]
    w = p @ vecs[:, order]
    return mean.astype(np.float32), w.astype(np.float32), vals[order]


def embed(x, mean, w):
    e = (x - mean) @ w
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def recall_at(emb, y, ks):
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1)
    hits = {k: 0 for k in ks}
    for i in range(len(y)):
        same = y[order[i]] == y[i]
        for k in ks:
            hits[k] += bool(same[:k].any())
    return {k: hits[k] / len(y) for k in ks}


def build_onnx(rings, angles, mean, w):
    c, s = dft_mats(angles, K_FREQ)
    dim = w.shape[1]
    init = [
        numpy_helper.from_array(c, "dft_cos"),
        numpy_helper.from_array(s, "dft_sin"),
        numpy_helper.from_array(np.array(EPS, np.float32), "eps"),
        numpy_helper.from_array(mean, "feature_mean"),
        numpy_helper.from_array(w, "projection"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
        numpy_helper.from_array(np.array([rings], np.int64), "rings"),
        numpy_helper.from_array(np.array([0, -1], np.int64), "flat_shape"),
    ]
    n = helper.make_node
    nodes = [
        n("MatMul", ["polar", "dft_cos"], ["xr"]),
        n("MatMul", ["polar", "dft_sin"], ["xi"]),
        n("Mul", ["xr", "xr"], ["xr2"]),
        n("Mul", ["xi", "xi"], ["xi2"]),
        n("Add", ["xr2", "xi2"], ["pow0"]),
        n("Add", ["pow0", "eps"], ["pow"]),
        n("Sqrt", ["pow"], ["mag"]),
        n("Sqrt", ["mag"], ["mag_c"]),
        # neighbouring rings: [:, :-1] and [:, 1:] along axis 1
        n("Slice", ["xr", "zero", "minus_one", "one"], ["xr_a"]),
        n("Slice", ["xr", "one", "rings", "one"], ["xr_b"]),
        n("Slice", ["xi", "zero", "minus_one", "one"], ["xi_a"]),
        n("Slice", ["xi", "one", "rings", "one"], ["xi_b"]),
        n("Mul", ["xr_a", "xr_b"], ["rr"]),
        n("Mul", ["xi_a", "xi_b"], ["ii"]),
        n("Add", ["rr", "ii"], ["re"]),
        n("Mul", ["xi_a", "xr_b"], ["ir"]),
        n("Mul", ["xr_a", "xi_b"], ["ri"]),
        n("Sub", ["ir", "ri"], ["im"]),
    ]
    for name in ["re", "im"]:
        nodes += [
            n("Sign", [name], [name + "_sign"]),
            n("Abs", [name], [name + "_abs"]),
            n("Add", [name + "_abs", "eps"], [name + "_abs_e"]),
            n("Sqrt", [name + "_abs_e"], [name + "_sqrt"]),
            n("Mul", [name + "_sign", name + "_sqrt"], [name + "_c"]),
        ]
    nodes += [
        n("Reshape", ["mag_c", "flat_shape"], ["f_mag"]),
        n("Reshape", ["re_c", "flat_shape"], ["f_re"]),
        n("Reshape", ["im_c", "flat_shape"], ["f_im"]),
        n("Concat", ["f_mag", "f_re", "f_im"], ["feat"], axis=1),
        n("Sub", ["feat", "feature_mean"], ["feat_c"]),
        n("MatMul", ["feat_c", "projection"], ["emb"]),
        n("ReduceL2", ["emb"], ["emb_norm"], axes=[1], keepdims=1),
        n("Div", ["emb", "emb_norm"], ["descriptor"]),
    ]
    graph = helper.make_graph(
        nodes,
        "casetrace_descriptor",
        [helper.make_tensor_value_info("polar", TensorProto.FLOAT, ["batch", rings, angles])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["batch", dim])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="casetrace-train")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--pca-dim", type=int, default=400)
    ap.add_argument("--shrink", type=float, default=0.05)
    ap.add_argument("--holdout", type=float, default=0.2, help="fraction of firearms held out for the reported recall")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--version", default="polar-fourier-lda-v1")
    args = ap.parse_args()
    started = time.time()

    polar = np.load(os.path.join(args.data, "polar.npy")).astype(np.float32)
    labels = np.array(open(os.path.join(args.data, "labels.txt")).read().split())
    grid = json.load(open(os.path.join(args.data, "grid.json")))
    assert polar.shape[1:] == (grid["rings"], grid["angles"]), "polar.npy does not match grid.json"
    x = features(polar)

    guns = np.unique(labels)
    rng = np.random.default_rng(args.seed)
    held = set(rng.choice(guns, size=max(1, int(len(guns) * args.holdout)), replace=False))
    train = np.array([g not in held for g in labels])
    mean, w, eig = fit_projection(x[train], labels[train], args.dim, args.pca_dim, args.shrink)
    held_recall = recall_at(embed(x[~train], mean, w), labels[~train], [1, 10, 50])
    print(f"held-out firearms: {len(held)} ({(~train).sum()} casings) recall@k {held_recall}")

    # Final model: fit on every firearm.
    mean, w, eig = fit_projection(x, labels, args.dim, args.pca_dim, args.shrink)
    model = build_onnx(grid["rings"], grid["angles"], mean, w)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "descriptor.onnx")
    onnx.save(model, onnx_path)

    # The exported graph must compute exactly what was evaluated here.
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(["descriptor"], {"polar": polar[:16]})[0]
    want = embed(x[:16], mean, w)
    err = float(np.abs(got - want).max())
    assert err < 1e-3, f"ONNX and numpy disagree by {err}"

    spec = dict(grid)
    spec.update(
        model_version=args.version,
        input_name="polar",
        output_name="descriptor",
        dim=int(w.shape[1]),
    )
    json.dump(spec, open(os.path.join(args.out, "descriptor.json"), "w"), indent=2)
    report = dict(
        casings=int(len(labels)),
        firearms=int(len(guns)),
        held_out_firearms=len(held),
        held_out_recall=held_recall,
        features=int(x.shape[1]),
        dim=int(w.shape[1]),
        pca_dim=args.pca_dim,
        shrink=args.shrink,
        seed=args.seed,
        onnx_max_abs_error=err,
        seconds=round(time.time() - started, 1),
    )
    json.dump(report, open(os.path.join(args.out, "training_report.json"), "w"), indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
