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
  * per pair of rings up to RING_DISTANCES apart: F_r(k) * conj(F_{r+d}(k)),
    whose phase is the *relative* phase of the two rings (also invariant:
    a rotation turns every ring's k-th coefficient by the same phase), and
    which keeps the spatial layout that magnitudes alone throw away.  v1
    used neighbours only (d = 1); pairs up to 6 rings (about 80 µm) apart
    carry more of the radial layout;
  * signed square roots tame the heavy tails of spectra.

The projection maximises between-firearm over within-firearm variance:
it learns which features survive from shot to shot of one gun.

Usage: python3 train.py --data DIR [DIR ...] --out models/descriptor [--check NAME=DIR ...]
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
RING_DISTANCES = 6  # cross-spectra of rings 1..RING_DISTANCES apart


def dft_mats(angles, k):
    a = np.arange(angles)[:, None]
    f = np.arange(k)[None, :]
    ang = 2 * np.pi * a * f / angles
    return np.cos(ang).astype(np.float32), (-np.sin(ang)).astype(np.float32)


def features(polar, distances=RING_DISTANCES):
    """Same maths as the ONNX graph below, in numpy (float32)."""
    c, s = dft_mats(polar.shape[2], K_FREQ)
    xr = polar @ c
    xi = polar @ s
    n = polar.shape[0]
    mag = np.sqrt(xr * xr + xi * xi + EPS)
    parts = [np.sqrt(mag).reshape(n, -1)]
    ssqrt = lambda v: np.sign(v) * np.sqrt(np.abs(v) + EPS)
    for d in range(1, distances + 1):
        re = xr[:, :-d] * xr[:, d:] + xi[:, :-d] * xi[:, d:]
        im = xi[:, :-d] * xr[:, d:] - xr[:, :-d] * xi[:, d:]
        parts += [ssqrt(re).reshape(n, -1), ssqrt(im).reshape(n, -1)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def top_components(xc, k, seed=0):
    """Leading k right singular vectors of xc by randomised SVD (Halko,
    Martinsson and Tropp 2011): a full SVD of 10,000 x 9,000 takes minutes
    on 2 cores, this seconds.  Seeded, so the result is reproducible."""
    k = min(k, *xc.shape)
    rng = np.random.default_rng(seed)
    y = xc @ rng.standard_normal((xc.shape[1], k + 20)).astype(xc.dtype)
    for _ in range(3):  # power iterations sharpen a slowly decaying spectrum
        y, _ = np.linalg.qr(y)
        y = xc @ (xc.T @ y)
    q, _ = np.linalg.qr(y)
    _, sv, vt = np.linalg.svd(q.T @ xc, full_matrices=False)
    return sv[:k], vt[:k]


def fit_projection(x, y, dim, pca_dim, shrink):
    mean = x.mean(axis=0)
    xc = x - mean
    # PCA first: the feature count exceeds the sample count.
    sv, vt = top_components(xc, pca_dim)
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


def build_onnx(rings, angles, mean, w, distances=RING_DISTANCES):
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
        n("Reshape", ["mag_c", "flat_shape"], ["f_mag"]),
    ]
    flat = ["f_mag"]
    for d in range(1, distances + 1):
        # rings [0, R-d) against rings [d, R) along axis 1
        init.append(numpy_helper.from_array(np.array([rings - d], np.int64), f"end_{d}"))
        init.append(numpy_helper.from_array(np.array([d], np.int64), f"start_{d}"))
        a, b = f"_a{d}", f"_b{d}"
        nodes += [
            n("Slice", ["xr", "zero", f"end_{d}", "one"], ["xr" + a]),
            n("Slice", ["xr", f"start_{d}", "rings", "one"], ["xr" + b]),
            n("Slice", ["xi", "zero", f"end_{d}", "one"], ["xi" + a]),
            n("Slice", ["xi", f"start_{d}", "rings", "one"], ["xi" + b]),
            n("Mul", ["xr" + a, "xr" + b], [f"rr{d}"]),
            n("Mul", ["xi" + a, "xi" + b], [f"ii{d}"]),
            n("Add", [f"rr{d}", f"ii{d}"], [f"re{d}"]),
            n("Mul", ["xi" + a, "xr" + b], [f"ir{d}"]),
            n("Mul", ["xr" + a, "xi" + b], [f"ri{d}"]),
            n("Sub", [f"ir{d}", f"ri{d}"], [f"im{d}"]),
        ]
        for name in [f"re{d}", f"im{d}"]:
            nodes += [
                n("Sign", [name], [name + "_sign"]),
                n("Abs", [name], [name + "_abs"]),
                n("Add", [name + "_abs", "eps"], [name + "_abs_e"]),
                n("Sqrt", [name + "_abs_e"], [name + "_sqrt"]),
                n("Mul", [name + "_sign", name + "_sqrt"], [name + "_c"]),
                n("Reshape", [name + "_c", "flat_shape"], ["f_" + name]),
            ]
            flat.append("f_" + name)
    nodes += [
        n("Concat", flat, ["feat"], axis=1),
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


def fit_whitening(x, dim):
    """The prototype's descriptor: PCA whitening, no labels (a baseline)."""
    mean = x.mean(axis=0)
    sv, vt = top_components(x - mean, dim)
    w = vt.T / (sv[:dim] / np.sqrt(len(x)))
    return mean.astype(np.float32), w.astype(np.float32)


def load_set(folder):
    polar = np.load(os.path.join(folder, "polar.npy")).astype(np.float32)
    labels = np.array(open(os.path.join(folder, "labels.txt")).read().split())
    grid = json.load(open(os.path.join(folder, "grid.json")))
    assert polar.shape[1:] == (grid["rings"], grid["angles"]), f"{folder}: polar.npy does not match grid.json"
    assert len(labels) == len(polar), f"{folder}: labels.txt and polar.npy differ in length"
    return polar, labels, grid


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", required=True, nargs="+", help="one or more `casetrace polar` folders (firearm ids must not collide)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", nargs="*", default=[], metavar="NAME=DIR", help="extra labelled sets to report recall on (never fitted)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--pca-dim", type=int, default=600)
    ap.add_argument("--shrink", type=float, default=0.05)
    ap.add_argument("--ring-distances", type=int, default=RING_DISTANCES)
    ap.add_argument("--holdout", type=float, default=0.2, help="fraction of firearms held out for the reported recall")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--version", default="polar-fourier-lda-v2")
    args = ap.parse_args()
    started = time.time()

    sets = [load_set(d) for d in args.data]
    grid = sets[0][2]
    assert all(g == grid for _, _, g in sets), "the training folders were unwrapped on different grids"
    polar = np.concatenate([p for p, _, _ in sets])
    labels = np.concatenate([l for _, l, _ in sets])
    checks = {}
    for spec in args.check:
        name, folder = spec.split("=", 1)
        p, l, g = load_set(folder)
        assert g == grid, f"{folder} was unwrapped on another grid"
        checks[name] = (p, l)

    guns = np.unique(labels)
    rng = np.random.default_rng(args.seed)
    held = set(rng.choice(guns, size=max(1, int(len(guns) * args.holdout)), replace=False))
    train = np.array([g not in held for g in labels])
    ks = [1, 10, 50]
    evaluation = {"held_out": (polar[~train], labels[~train]), **checks}

    # The same held-out firearms and check sets for the model and for the
    # two descriptors it must beat: the prototype's Fourier features with a
    # plain whitening, and v1 (neighbouring rings only, with LDA).
    def recalls(featurise, mean, w):
        return {name: recall_at(embed(featurise(p), mean, w), l, ks) for name, (p, l) in evaluation.items()}

    v1 = lambda p: features(p, 1)
    ours = lambda p: features(p, args.ring_distances)
    x_v1 = v1(polar[train])
    mean, w = fit_whitening(x_v1, args.dim)
    baseline_whitening = recalls(v1, mean, w)
    mean, w, _ = fit_projection(x_v1, labels[train], args.dim, args.pca_dim, args.shrink)
    baseline_v1 = recalls(v1, mean, w)
    del x_v1
    x = ours(polar)
    mean, w, _ = fit_projection(x[train], labels[train], args.dim, args.pca_dim, args.shrink)
    model_recall = recalls(ours, mean, w)
    for name, r in [("whitening (prototype)", baseline_whitening), ("v1 (d=1, LDA)", baseline_v1), (args.version, model_recall)]:
        print(f"{name:>24}: " + "  ".join(f"{s} {r[s][1]:.3f}/{r[s][10]:.3f}/{r[s][50]:.3f}" for s in r))

    # Final model: fit on every firearm.
    mean, w, eig = fit_projection(x, labels, args.dim, args.pca_dim, args.shrink)
    model = build_onnx(grid["rings"], grid["angles"], mean, w, args.ring_distances)
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
        model_version=args.version,
        training_sets=[os.path.basename(os.path.normpath(d)) for d in args.data],
        casings=int(len(labels)),
        firearms=int(len(guns)),
        held_out_firearms=len(held),
        held_out_casings=int((~train).sum()),
        recall_at_k={"model": model_recall, "baseline_v1_lda": baseline_v1, "baseline_whitening": baseline_whitening},
        features=int(x.shape[1]),
        ring_distances=args.ring_distances,
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
