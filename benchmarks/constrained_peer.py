"""The peer side of benchmarks/constrained.py: MoEvA2 of ``constrained-attacks`` (Simonetto et
al.'s own package, 0.1.1) on the same credit points, model and constraints.

``constrained-attacks`` 0.1.1 requires Python 3.8 (and pymoo 0.5), so it runs in its own
virtual environment and exchanges numpy files with advlab; it imports nothing from advlab:

    /root/.pyenv/versions/3.8.18/bin/python -m venv /work/venvs/constrained38
    /work/venvs/constrained38/bin/pip install constrained-attacks
    PYTHONPATH=src .venv/bin/python benchmarks/constrained.py --export-peer /tmp/peer_in.npz
    /work/venvs/constrained38/bin/python benchmarks/constrained_peer.py /tmp/peer_in.npz /tmp/peer_out.npz
    PYTHONPATH=src .venv/bin/python benchmarks/constrained.py --peer-result /tmp/peer_out.npz

The model is the credit MLP as numpy matrices (ReLU layers on the min-max scaled features);
the constraints are written in the package's own relation classes, on raw features:
types (``int`` for integers and binaries), the mutable mask, bounds with ``dynamic`` lower
bounds for increase-only features, the three defined features and the business rules as
relations, and the one-hot groups as sums equal to one (the package has no one-hot type).
Its CPGD needs TensorFlow 2 and ART, which this environment does not install.

With a third argument ``tabularbench`` (``tabularbench`` 0.1.0 needs Python < 3.11; its own
venv with Python 3.10) it runs tabularbench's CPGD instead (L2 only, 50 steps, its
equality fixer after every step), at the L2 radii given after it:

    /work/venvs/tabularbench/bin/python benchmarks/constrained_peer.py /tmp/peer_in.npz \
        /tmp/tb_out.npz tabularbench 0.25 0.5
"""

import importlib
import sys
import time

import numpy as np

PACKAGE = sys.argv[3] if len(sys.argv) > 3 else "constrained_attacks"
_rel = importlib.import_module(f"{PACKAGE}.constraints.relation_constraint")
Constraints = importlib.import_module(f"{PACKAGE}.constraints.constraints").Constraints
Constant, Feature = _rel.Constant, _rel.Feature


class NumpyMLP:
    """``predict_proba`` of the exported MLP on raw features."""

    def __init__(self, data):
        self.lo, self.hi = data["lo"], data["hi"]
        n = int(data["n_layers"])
        self.layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(n)]

    def predict_proba(self, x):
        h = (np.asarray(x, dtype=np.float64) - self.lo) / (self.hi - self.lo)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
        h = h - h.max(1, keepdims=True)
        e = np.exp(h)
        return e / e.sum(1, keepdims=True)


def relations(names):
    f = {n: Feature(names.index(n)) for n in names}
    r = f["rate"] / Constant(1200)
    months = Constant(12) * f["term_12"] + Constant(36) * f["term_36"] + Constant(60) * f["term_60"]
    instalment = f["amount"] * r / (Constant(1) - (Constant(1) + r) ** (Constant(0) - months))
    return [
        f["instalment"] == instalment,
        f["dti"] == Constant(1200) * (f["instalment"] + f["monthly_debt"]) / f["income"],
        f["loan_to_income"] == f["amount"] / f["income"],
        (f["term_60"] == Constant(0)) | (Constant(5000) <= f["amount"]),
        (f["purpose_education"] == Constant(0)) | (f["amount"] <= Constant(20000)),
        f["monthly_debt"] <= f["income"] / Constant(12),
        f["term_12"] + f["term_36"] + f["term_60"] == Constant(1),
        f["purpose_car"] + f["purpose_home"] + f["purpose_education"] + f["purpose_business"]
        == Constant(1),
    ]


def run_tabularbench_cpgd(data, cons, eps_list):
    """tabularbench's CPGD (L2) on the exported MLP; returns ``{key: array}``."""
    import torch
    from tabularbench.attacks.cpgd.cpgd import CPGD
    from tabularbench.models.tab_scaler import TabScaler

    lo = torch.tensor(data["lo"], dtype=torch.float32)
    hi = torch.tensor(data["hi"], dtype=torch.float32)
    layers = []
    for i in range(int(data["n_layers"])):
        w = torch.tensor(data[f"w{i}"], dtype=torch.float32)
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data, lin.bias.data = w, torch.tensor(data[f"b{i}"], dtype=torch.float32)
        layers += [lin, torch.nn.ReLU()]

    class Raw(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(*layers[:-1])

        def forward(self, x):
            return self.net((x - lo) / (hi - lo))

    model = Raw().eval()
    scaler = TabScaler(num_scaler="min_max", one_hot_encode=False)
    scaler.fit(torch.stack([lo, hi]), x_type=np.array(cons.feature_types))
    x = torch.tensor(data["x"], dtype=torch.float32)
    y = torch.tensor(data["y"], dtype=torch.long)
    out = {}
    for eps in eps_list:
        t0 = time.perf_counter()
        attack = CPGD(cons, scaler, model, None, eps=eps, steps=50, random_start=False, seed=0)
        out[f"x_adv_{eps:g}"] = attack(x, y).detach().double().numpy()[:, None, :]
        out[f"seconds_{eps:g}"] = np.array(time.perf_counter() - t0)
        print(f"eps {eps:g} in {time.perf_counter() - t0:.1f}s", flush=True)
    return out


def main(src, dst):
    data = np.load(src, allow_pickle=False)
    names = [str(n) for n in data["names"]]
    lo, hi = data["lo"], data["hi"]
    lower = np.array(
        [("dynamic" if inc else v) for v, inc in zip(lo, data["increase"])], dtype=object
    )
    cons = Constraints(
        feature_types=np.array(["real" if t == "real" else "int" for t in data["types"]]),
        mutable_features=~data["immutable"],
        lower_bounds=lower,
        upper_bounds=hi.astype(object),
        relation_constraints=relations(names),
        feature_names=names,
    )
    if PACKAGE == "tabularbench":
        np.savez(dst, **run_tabularbench_cpgd(data, cons, [float(e) for e in sys.argv[4:]]))
        return
    from constrained_attacks.attacks.moeva.moeva import Moeva2

    model = NumpyMLP(data)
    out = {}
    for eps in data["eps"]:
        t0 = time.perf_counter()
        attack = Moeva2(
            model,
            cons,
            norm=np.inf,
            fun_distance_preprocess=lambda x: (x - lo) / (hi - lo),
            n_gen=int(data["generations"]),
            n_pop=int(data["population"]),
            n_offsprings=int(data["population"]),
            seed=0,
            n_jobs=1,
            verbose=0,
        )
        x_adv = attack.generate(data["x"], data["y"])
        out[f"x_adv_{eps:g}"] = x_adv
        out[f"seconds_{eps:g}"] = np.array(time.perf_counter() - t0)
        print(f"eps {eps:g}: {x_adv.shape} in {time.perf_counter() - t0:.1f}s", flush=True)
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
