"""Extraction benchmarks: every acceptance number of the extraction issue, plus peers.

Usage (from the repository root):

    .venv/bin/python benchmarks/extraction.py                 # all sections
    .venv/bin/python benchmarks/extraction.py exact knockoff  # some sections
    .venv/bin/python benchmarks/extraction.py art fee-only     # only ART's FEE comparison

Sections: exact (equation solving, path-finding, logit SVD), crypto (cryptanalytic),
knockoff (fidelity-vs-queries, in- vs out-of-distribution; Jacobian; active), art (side by
side with ART), prada (detection), defenses (fidelity drop per output defense), transfer.
Prints markdown tables and writes all numbers to benchmarks/results/extraction.json.
Runs on CPU with one torch thread.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)

from advlab.attacks.extraction import (  # noqa: E402
    ActiveExtraction,
    Cryptanalytic,
    EquationSolving,
    JacobianAugmentation,
    KnockoffNets,
    LeafOracle,
    LogitSVD,
    PathFinding,
    TransferEvasion,
)
from advlab.attacks.extraction.base import (  # noqa: E402
    fidelity_of,
    input_dtype,
    oracle_labels,
    uniform_inputs,
)
from advlab.attacks.extraction.logit_svd import aligned_error  # noqa: E402
from advlab.data import load_dataset  # noqa: E402
from advlab.defenses.monitor import PRADA, QueryMonitor  # noqa: E402
from advlab.defenses.output import (  # noqa: E402
    GaussianOutputNoise,
    LabelOnlyOutput,
    PredictionPoisoning,
    ReverseSigmoid,
    Rounding,
    TopK,
)
from advlab.models import MLP, TrainConfig, reference_model, train_model  # noqa: E402
from advlab.targets.base import LabelsOnly  # noqa: E402
from advlab.targets.torch import TorchClassifier  # noqa: E402

OUT = Path(__file__).parent / "results" / "extraction.json"
RESULTS: dict[str, Any] = {}
SMALL_MLP = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128]}


def table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n### {title}\n")
    if not rows:
        return
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")
    RESULTS[title] = rows
    sys.stdout.flush()


def digits_victim() -> tuple[TorchClassifier, Any]:
    ds = load_dataset("digits")
    bundle = reference_model("digits", train=TrainConfig(epochs=30, seed=0))
    return TorchClassifier(bundle.model, input_shape=(1, 8, 8), device="cpu"), ds


# --------------------------------------------------------------------------- exact
def section_exact() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    rows = []
    for name, binary in (("digits", False), ("breast_cancer", True)):
        ds = load_dataset(name)
        x = ds.x_train.reshape(len(ds.x_train), -1)
        xte = ds.x_test.reshape(len(ds.x_test), -1)
        lr = LogisticRegression(max_iter=2000).fit(x, ds.y_train)
        k = 2 if binary else ds.num_classes
        coef = np.vstack([np.zeros(x.shape[1]), lr.coef_[0]]) if binary else lr.coef_
        bias = np.array([0.0, lr.intercept_[0]]) if binary else lr.intercept_
        lin = nn.Linear(x.shape[1], k).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(coef))
            lin.bias.copy_(torch.tensor(bias))
        t = TorchClassifier(
            nn.Sequential(lin, nn.Softmax(1)),
            input_shape=(x.shape[1],),
            num_classes=k,
            output="probs",
            device="cpu",
        )
        r = EquationSolving(verify=False).extract(t, x_eval=xte, y_eval=ds.y_test)
        rows.append(
            {
                "model": f"{'binary' if binary else 'multinomial'} LR on {name} (float64)",
                "d": x.shape[1],
                "queries": r.queries,
                "param_error": r.param_error,
                "fidelity_test": r.fidelity["test"],
                "fidelity_uniform": r.fidelity["uniform"],
                "seconds": round(r.seconds, 3),
            }
        )
    table("Equation solving (Tramer 2016)", rows)

    ds = load_dataset("digits")
    x = ds.x_train.reshape(len(ds.x_train), -1)
    xte = ds.x_test.reshape(len(ds.x_test), -1)
    rows = []
    for depth in (4, 8, 12):
        tree = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(x, ds.y_train)
        for ident in ("leaf", "label"):
            r = PathFinding(identifier=ident, query_budget=1_000_000).extract(
                LeafOracle(tree, input_shape=(64,)), x_eval=xte, y_eval=ds.y_test
            )
            rows.append(
                {
                    "tree depth": depth,
                    "leaves": tree.tree_.n_leaves,
                    "access": ident,
                    "boxes found": r.extra["leaves_found"],
                    "queries": r.queries,
                    "complete": r.extra["complete"],
                    "fidelity_test": r.fidelity["test"],
                    "fidelity_uniform": r.fidelity["uniform"],
                    "seconds": round(r.seconds, 2),
                }
            )
    table("Path-finding on digits trees (Tramer 2016)", rows)

    rows = []
    syn = load_dataset(
        "synthetic", n_classes=100, n_features=40, n_informative=20, n_samples=4000, test_size=0.25
    )
    torch.manual_seed(0)
    model = MLP(40, 100, hidden=(128, 64))
    train_model(model, syn.x_train, syn.y_train, TrainConfig(epochs=20, seed=0), device="cpu")
    for label, mdl in (
        ("trained MLP 40-128-64-100 (float32)", model),
        ("same, float64", MLP(40, 100, hidden=(128, 64))),
    ):
        if "float64" in label:
            mdl.load_state_dict(model.state_dict())
            mdl = mdl.double()
        t = TorchClassifier(mdl, input_shape=(40,), num_classes=100, device="cpu")
        for q in (116, 300):
            r = LogitSVD(query_budget=q).extract(t)
            xq = uniform_inputs(t, q, torch.Generator().manual_seed(0), dtype=input_dtype(t))
            with torch.no_grad():
                alive = (mdl.embed(xq) > 0).any(0)
            live = int(alive.sum())
            w_live = mdl.out.weight.detach().to(torch.float64)[:, alive]
            err = "n/a"
            if r.parameters["hidden_dim"] == live:
                err = aligned_error(r.parameters["final_layer_basis"], w_live)[1]
            rows.append(
                {
                    "model": label,
                    "true h": 64,
                    "queries": r.queries,
                    "live units on the queries": live,
                    "hidden_dim found": r.parameters["hidden_dim"],
                    "final-layer error on live units (rel. Frobenius, after alignment)": err,
                }
            )
    table("Logit SVD (Carlini et al. 2024)", rows)


# --------------------------------------------------------------------------- crypto
def section_crypto() -> None:
    rows = []
    for d, h, k in ((10, 20, 3), (20, 16, 10), (64, 32, 10), (100, 64, 10)):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k)).double()
        t = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, device="cpu")
        r = Cryptanalytic().extract(t, n_uniform=5000)
        n_params = sum(p.numel() for p in net.parameters())
        rows.append(
            {
                "net": f"{d}-{h}-{k}",
                "params": n_params,
                "precision": "float64",
                "queries": r.queries,
                "log2 queries": round(float(np.log2(r.queries)), 2),
                "neurons": f"{r.extra['hidden_found']}/{h}",
                "max rel. param error": r.extra.get("param_error_relative"),
                "max abs. param error": r.param_error,
                "fidelity_uniform": r.fidelity["uniform"],
                "seconds": round(r.seconds, 2),
            }
        )
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 10)).float()
    t = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(20,), num_classes=10, device="cpu")
    r = Cryptanalytic().extract(t, n_uniform=5000)
    rows.append(
        {
            "net": "20-16-10",
            "params": 346,
            "precision": "float32",
            "queries": r.queries,
            "log2 queries": round(float(np.log2(r.queries)), 2),
            "neurons": f"{r.extra['hidden_found']}/16",
            "max rel. param error": r.extra.get("param_error_relative"),
            "max abs. param error": r.param_error,
            "fidelity_uniform": r.fidelity["uniform"],
            "seconds": round(r.seconds, 2),
        }
    )
    table("Cryptanalytic extraction, one hidden layer (Carlini et al. 2020)", rows)
    rows = []
    for d, h1, h2, k in ((10, 12, 8, 3), (20, 16, 8, 10)):
        torch.manual_seed(0)
        net = nn.Sequential(
            nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, k)
        ).double()
        t = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, device="cpu")
        r = Cryptanalytic(hidden_layers=2, lines=300, patience=300).extract(t, n_uniform=5000)
        rows.append(
            {
                "net": f"{d}-{h1}-{h2}-{k}",
                "queries": r.queries,
                "first-layer neurons": f"{r.extra['first_layer_found']}/{h1}",
                "first-layer error (up to sign)": r.extra.get("first_layer_error_up_to_sign"),
                "deeper layers": r.extra.get("deeper_layers"),
                "fidelity_uniform": r.fidelity["uniform"],
                "seconds": round(r.seconds, 2),
            }
        )
    table("Cryptanalytic extraction, two hidden layers (as far as it goes)", rows)


# --------------------------------------------------------------------------- knockoff
def _pools(ds: Any) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    bc = load_dataset("breast_cancer").x_train  # 30 features -> tiled to 64 -> 8x8
    bc64 = np.concatenate([bc, bc, bc[:, :4]], 1).reshape(-1, 1, 8, 8)
    bc64 = np.concatenate([bc64] * 4)[:2000]
    return {
        "digits train (in-distribution)": torch.tensor(ds.x_train),
        "uniform noise (OOD)": torch.rand(4000, 1, 8, 8, generator=g),
        "breast_cancer reshaped (OOD)": torch.tensor(bc64, dtype=torch.float32),
    }


def section_knockoff() -> None:
    victim, ds = digits_victim()
    curve = [100, 250, 500, 1000, 2000]
    rows = []
    for pool_name, pool in _pools(ds).items():
        for labels_only in (True, False):
            t = LabelsOnly(victim) if labels_only else victim
            r = KnockoffNets(
                query_budget=2000, arch=SMALL_MLP, epochs=30, checkpoints=curve
            ).extract(t, pool, x_eval=ds.x_test, y_eval=ds.y_test)
            row: dict[str, Any] = {
                "pool": pool_name,
                "answers": "labels" if labels_only else "scores",
            }
            for p in r.curve:
                row[f"fid@{p['queries']}"] = round(p["fidelity"]["test"], 4)
            row["queries"] = r.queries
            row["fidelity_test"] = r.fidelity["test"]
            row["fidelity_uniform"] = r.fidelity["uniform"]
            row["accuracy_test"] = r.accuracy["test"]
            row["seconds"] = round(r.seconds, 1)
            rows.append(row)
    table("Knockoff (random) on digits SmallCNN victim: fidelity on test inputs vs queries", rows)
    rows = []
    pool = torch.tensor(ds.x_train)
    for name, atk in (
        ("knockoff random", KnockoffNets(query_budget=1000, arch=SMALL_MLP, epochs=30)),
        (
            "knockoff adaptive",
            KnockoffNets(query_budget=1000, arch=SMALL_MLP, epochs=30, strategy="adaptive"),
        ),
        ("active uncertainty", ActiveExtraction(query_budget=1000, arch=SMALL_MLP, epochs=30)),
        (
            "active k-center",
            ActiveExtraction(query_budget=1000, arch=SMALL_MLP, epochs=30, strategy="kcenter"),
        ),
        (
            "jacobian (100 seeds)",
            JacobianAugmentation(query_budget=1000, rounds=5, arch=SMALL_MLP, epochs=30),
        ),
    ):
        data = pool[:100] if name.startswith("jacobian") else pool
        r = atk.extract(LabelsOnly(victim), data, x_eval=ds.x_test, y_eval=ds.y_test)
        rows.append(
            {
                "attack": name,
                "queries": r.queries,
                "fidelity_test": r.fidelity["test"],
                "fidelity_uniform": r.fidelity["uniform"],
                "accuracy_test": r.accuracy["test"],
                "seconds": round(r.seconds, 1),
            }
        )
    table("Surrogate attacks at 1000 label-only queries (digits SmallCNN victim)", rows)


# --------------------------------------------------------------------------- ART
FEE_LIMIT_S = 300


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError(f"did not finish in {FEE_LIMIT_S} s")


def section_art() -> None:
    from art.attacks.extraction import CopycatCNN
    from art.attacks.extraction import KnockoffNets as ArtKnockoff
    from art.estimators.classification import PyTorchClassifier

    victim, ds = digits_victim()
    xtr = ds.x_train.astype(np.float32)
    xte = torch.tensor(ds.x_test)
    budget = 1000

    def art_clf(model: nn.Module) -> PyTorchClassifier:
        return PyTorchClassifier(
            model=model,
            loss=nn.CrossEntropyLoss(),
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
            input_shape=(1, 8, 8),
            nb_classes=10,
            clip_values=(0.0, 1.0),
            device_type="cpu",
        )

    rows = []
    if "fee-only" in sys.argv:
        budget_rows: list[dict[str, Any]] = []
        return _fee(budget_rows)
    for name, make in (
        (
            "ART CopycatCNN",
            lambda v: CopycatCNN(
                v, batch_size_fit=64, batch_size_query=64, nb_epochs=30, nb_stolen=budget
            ),
        ),
        (
            "ART KnockoffNets random",
            lambda v: ArtKnockoff(
                v,
                batch_size_fit=64,
                batch_size_query=64,
                nb_epochs=30,
                nb_stolen=budget,
                verbose=False,
            ),
        ),
        (
            "ART KnockoffNets adaptive",
            lambda v: ArtKnockoff(
                v,
                batch_size_fit=64,
                batch_size_query=64,
                nb_epochs=30,
                nb_stolen=budget,
                sampling_strategy="adaptive",
                verbose=False,
            ),
        ),
    ):
        torch.manual_seed(0)
        v = art_clf(victim.model)
        thief = art_clf(MLP(64, 10, hidden=(128,)))
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {"thieved_classifier": thief}
        if "adaptive" in name:
            kwargs["y"] = ds.y_train
        stolen = make(v).extract(xtr, **kwargs)
        sec = time.perf_counter() - t0
        pred = torch.tensor(stolen.predict(ds.x_test).argmax(1))
        fid = float((pred == oracle_labels(victim, xte)).float().mean())
        rows.append(
            {"tool": name, "queries": budget, "fidelity_test": fid, "seconds": round(sec, 1)}
        )
    for name, strat in (
        ("advlab knockoff random", "random"),
        ("advlab knockoff adaptive", "adaptive"),
    ):
        r = KnockoffNets(query_budget=budget, arch=SMALL_MLP, epochs=30, strategy=strat).extract(
            LabelsOnly(victim), ds.x_train, x_eval=ds.x_test
        )
        rows.append(
            {
                "tool": name,
                "queries": r.queries,
                "fidelity_test": r.fidelity["test"],
                "seconds": round(r.seconds, 1),
            }
        )
    table(
        "Side by side with ART: surrogate extraction, digits SmallCNN victim, 1000 queries, "
        "label answers, same MLP thief",
        rows,
    )

    _fee([])


def _fee(rows: list[dict[str, Any]]) -> None:
    """ART's FunctionallyEquivalentExtraction vs advlab's cryptanalytic attack."""
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork

    for d, h, k in ((10, 20, 3), (20, 16, 10)):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k)).double()
        count = {"n": 0}

        def predict(
            x: np.ndarray, net: nn.Module = net, count: dict[str, int] = count
        ) -> np.ndarray:
            count["n"] += len(x)
            with torch.no_grad():
                return net(torch.as_tensor(x, dtype=torch.float64)).numpy()

        bb = BlackBoxClassifierNeuralNetwork(predict, input_shape=(d,), nb_classes=k)
        from art.attacks.extraction import FunctionallyEquivalentExtraction

        t0 = time.perf_counter()
        status = "ok"
        try:
            fee = FunctionallyEquivalentExtraction(classifier=bb, num_neurons=h)
            xs = np.random.default_rng(0).uniform(-2, 2, size=(200, d))
            signal.signal(signal.SIGALRM, _timeout)
            signal.alarm(FEE_LIMIT_S)
            try:
                ext = fee.extract(xs)
            finally:
                signal.alarm(0)
            xe = np.random.default_rng(1).uniform(-2, 2, size=(5000, d))
            fid = float((ext.predict(xe).argmax(1) == predict(xe).argmax(1)).mean())
            count["n"] -= 5000
            w0 = np.asarray(fee.w_0).T  # (h, d)
        except Exception as exc:  # noqa: BLE001 - report whatever ART raises
            status, fid, w0 = f"failed: {type(exc).__name__}: {str(exc)[:80]}", float("nan"), None
        sec = time.perf_counter() - t0
        err: Any = "n/a"
        if w0 is not None:
            tw = net[0].weight.detach().numpy()
            tw = tw / np.linalg.norm(tw, axis=1, keepdims=True)
            rw = w0 / np.linalg.norm(w0, axis=1, keepdims=True)
            sim = np.abs(rw @ tw.T)
            err = float(1 - sim.max(1).min())
        rows.append(
            {
                "tool": "ART FunctionallyEquivalentExtraction",
                "net": f"{d}-{h}-{k}",
                "queries": count["n"],
                "fidelity_uniform": fid,
                "1 - min |cos| of first-layer rows": err,
                "seconds": round(sec, 1),
                "status": status,
            }
        )
        t = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, device="cpu")
        r = Cryptanalytic().extract(t, n_uniform=5000)
        w = torch.as_tensor(r.parameters["w1"])
        tw_t = net[0].weight.detach() / net[0].weight.detach().norm(dim=1, keepdim=True)
        cos = float(1 - (w @ tw_t.T).abs().max(1).values.min())
        rows.append(
            {
                "tool": "advlab cryptanalytic",
                "net": f"{d}-{h}-{k}",
                "queries": r.queries,
                "fidelity_uniform": r.fidelity["uniform"],
                "1 - min |cos| of first-layer rows": cos,
                "seconds": round(r.seconds, 1),
                "status": "ok",
            }
        )
    table("Side by side with ART: functionally equivalent extraction (float64 victims)", rows)


# --------------------------------------------------------------------------- PRADA
def _stream(attack: Any, data: Any, client: str, mon: Any) -> dict[str, Any]:
    view = mon.for_client(client)
    try:
        attack.extract(view, data, n_uniform=0)
    except Exception:  # noqa: BLE001 - a blocked client ends its stream
        pass
    return mon.report()[client]  # type: ignore[no-any-return]


def section_prada() -> None:
    victim, ds = digits_victim()
    rows = []
    pool = torch.tensor(ds.x_train)
    bc = _pools(ds)["breast_cancer reshaped (OOD)"]
    for thr in (0.90, 0.93, 0.95):
        mon = QueryMonitor(detector=PRADA(threshold=thr, min_queries=100)).apply(victim)
        mon.for_client("benign: digits test (450)").labels(torch.tensor(ds.x_test))
        mon.for_client("benign: digits train (1347)").labels(pool)
        g = torch.Generator().manual_seed(1)
        perm = torch.randperm(len(pool), generator=g)
        mon.for_client("benign: digits train, reshuffled").labels(pool[perm])
        _stream(
            JacobianAugmentation(query_budget=1600, rounds=5, arch=SMALL_MLP, epochs=5),
            pool[:100],
            "attack: jacobian (100 seeds, 5 rounds)",
            mon,
        )
        _stream(
            KnockoffNets(query_budget=1000, arch=SMALL_MLP, epochs=2),
            pool,
            "attack: knockoff random, natural digits pool",
            mon,
        )
        _stream(
            KnockoffNets(query_budget=1000, arch=SMALL_MLP, epochs=2),
            bc,
            "attack: knockoff random, breast_cancer reshaped",
            mon,
        )
        _stream(
            KnockoffNets(query_budget=1000, arch=SMALL_MLP, epochs=2),
            torch.rand(3000, 1, 8, 8, generator=g),
            "attack: knockoff random, uniform noise",
            mon,
        )
        for client, rep in mon.report().items():
            rows.append(
                {
                    "threshold": thr,
                    "stream": client,
                    "queries": rep["queries"],
                    "flagged": rep["flagged"],
                    "first alarm at": rep["first_alarm"],
                    "final W": rep["statistic"],
                }
            )
    table("PRADA detection on digits streams (per-class min distances, Shapiro-Wilk)", rows)


# --------------------------------------------------------------------------- defenses
def section_defenses() -> None:
    victim, ds = digits_victim()
    xte = torch.tensor(ds.x_test)
    clean = oracle_labels(victim, xte)
    rows = []
    defenses = [
        ("none", None),
        ("rounding(1)", Rounding(decimals=1)),
        ("top_k(1)", TopK(k=1)),
        ("label_only", LabelOnlyOutput()),
        ("gaussian_noise(0.1)", GaussianOutputNoise(sigma=0.1, seed=0)),
        ("reverse_sigmoid(0.7, 0.4)", ReverseSigmoid(beta=0.7, gamma=0.4)),
        ("prediction_poisoning(0.8)", PredictionPoisoning(eps=0.8)),
    ]
    for name, dfn in defenses:
        t = victim if dfn is None else dfn.apply(victim)
        agree = float((oracle_labels(t, xte) == clean).float().mean())
        row: dict[str, Any] = {"defense": name, "label agreement with undefended": agree}
        for q in (250, 1000):
            r = KnockoffNets(query_budget=q, arch=SMALL_MLP, epochs=30).extract(t, ds.x_train)
            m = r.model
            assert m is not None
            row[f"fidelity@{q} (to undefended)"] = fidelity_of(m, victim, xte)
        rows.append(row)
    table("Output defenses vs Knockoff (scores when offered) on digits SmallCNN", rows)


# --------------------------------------------------------------------------- transfer
def section_transfer() -> None:
    victim, ds = digits_victim()
    rows = []
    for extractor, params in (
        ("knockoff", {"query_budget": 1000, "arch": SMALL_MLP, "epochs": 30}),
        (
            "jacobian_augmentation",
            {"query_budget": 1000, "rounds": 5, "arch": SMALL_MLP, "epochs": 30},
        ),
    ):
        pool = torch.tensor(ds.x_train)
        if extractor == "jacobian_augmentation":
            pool = torch.cat([pool[:100], pool[-300:]])
        for eps in (0.1, 0.2, 0.3):
            r = TransferEvasion(
                extractor=extractor, extractor_params=params, n_adv=300, eps=eps
            ).extract(LabelsOnly(victim), pool, x_eval=ds.x_test)
            rows.append(
                {
                    "extractor": extractor,
                    "eps (linf)": eps,
                    "queries": r.queries,
                    "surrogate fidelity": r.fidelity.get("test", float("nan")),
                    "fooled surrogate": r.extra["surrogate_success_rate"],
                    "transfer rate": r.extra["transfer_rate"],
                    "noise control": r.extra["noise_control_rate"],
                }
            )
    table("Extraction feeding evasion: PGD on the stolen copy, sent to the victim", rows)


SECTIONS = {
    "exact": section_exact,
    "crypto": section_crypto,
    "knockoff": section_knockoff,
    "art": section_art,
    "prada": section_prada,
    "defenses": section_defenses,
    "transfer": section_transfer,
}


def main(argv: list[str]) -> None:
    names = [a for a in argv if a in SECTIONS] or list(SECTIONS)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if OUT.exists():
        RESULTS.update(json.loads(OUT.read_text()))
    for n in names:
        t0 = time.perf_counter()
        SECTIONS[n]()
        print(f"\n({n}: {time.perf_counter() - t0:.0f}s)")
        OUT.write_text(json.dumps(RESULTS, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
