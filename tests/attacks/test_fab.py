"""FAB / FAB-T: the exact hyperplane-box projection, minimum norms, targeted mode, AutoAttack."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, minimize

from advlab.attacks.evasion import FAB, AutoAttack, DeepFool
from advlab.attacks.evasion.fab import project_hyperplane_box


def _problems(seed: int, n: int = 30, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(n, d, generator=g, dtype=torch.float64)
    w[:, 0] *= (torch.rand(n, generator=g) > 0.3).double()  # some zero gradient entries
    r = torch.randn(n, generator=g, dtype=torch.float64) * 0.4
    return p, w, r


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_is_the_minimum_norm_point_of_the_hyperplane_in_the_box(norm):
    p, w, r = _problems(0)
    n, d = p.shape
    lo, hi = torch.zeros(1, d, dtype=p.dtype), torch.ones(1, d, dtype=p.dtype)
    delta = project_hyperplane_box(p, w, r, lo, hi, norm)
    assert bool(((p + delta) >= -1e-12).all()) and bool(((p + delta) <= 1 + 1e-12).all())
    solved = 0
    for i in range(n):
        pi, wi, ri = p[i].numpy(), w[i].numpy(), float(r[i])
        box = [(-pi[j], 1 - pi[j]) for j in range(d)]
        if norm == "linf":  # min t s.t. |d_j| <= t, w.d = r, box
            a_ub = np.vstack([np.c_[np.eye(d), -np.ones(d)], np.c_[-np.eye(d), -np.ones(d)]])
            res = linprog(
                np.r_[np.zeros(d), 1.0],
                A_ub=a_ub,
                b_ub=np.zeros(2 * d),
                A_eq=np.r_[wi, 0.0][None],
                b_eq=[ri],
                bounds=[*box, (0, None)],
            )
            feasible, best = res.status == 0, res.fun if res.status == 0 else None
            ours = float(delta[i].abs().max())
        else:
            res = minimize(
                lambda z: z @ z,
                np.zeros(d),
                constraints=[{"type": "eq", "fun": lambda z, wi=wi, ri=ri: wi @ z - ri}],
                bounds=box,
                method="SLSQP",
                options={"ftol": 1e-14},
            )
            feasible = bool(res.success) and abs(wi @ res.x - ri) < 1e-9
            best = float(np.sqrt(res.fun)) if feasible else None
            ours = float(delta[i].norm())
        if not feasible:  # the box cannot reach the hyperplane: the best reachable corner
            reach = float((w[i] * delta[i]).sum()) * np.sign(ri)
            assert reach <= abs(ri) + 1e-12
            continue
        solved += 1
        assert abs(float(w[i] @ delta[i]) - ri) < 1e-9
        assert ours <= best + 1e-7
    assert solved >= n // 2


def test_minimal_fab_breaks_every_correct_point_about_as_close_as_deepfool(digits_bundle, digits):
    x, y = digits.x_test[:80].astype(np.float32), digits.y_test[:80]
    fab = FAB(norm="l2", steps=20).run(digits_bundle.target(device="cpu"), x, y)
    df = DeepFool(norm="l2").run(digits_bundle.target(device="cpu"), x, y)
    correct = np.asarray(fab.clean_correct)
    np.testing.assert_array_equal(np.asarray(fab.success), correct)  # all correct points broken
    med_fab = float(np.median(np.asarray(fab.norms)[correct]))
    med_df = float(np.median(np.asarray(df.norms)[np.asarray(df.success)]))
    assert med_fab <= 1.05 * med_df


def test_targeted_fab_reaches_the_target_class(digits_bundle, digits):
    x, y = digits.x_test[:40].astype(np.float32), digits.y_test[:40]
    goal = (y + 1) % 10
    target = digits_bundle.target(device="cpu")
    res = FAB(steps=30).run(target, x, goal, targeted=True)
    ok = np.asarray(res.success)
    assert ok.mean() > 0.3
    np.testing.assert_array_equal(target.predict(res.x_adv)[ok], goal[ok])


def test_fab_t_with_more_targets_never_does_worse(digits_bundle, digits):
    x, y = digits.x_test[:60].astype(np.float32), digits.y_test[:60]
    accs = [
        FAB(eps=0.08, steps=10, n_target_classes=k).run(digits_bundle.target(device="cpu"), x, y)
        for k in (1, 4)
    ]
    assert accs[1].robust_accuracy <= accs[0].robust_accuracy
    # with eps set, points already broken within eps are not attacked by later targets
    assert accs[1].gradient_calls < 4 * accs[0].gradient_calls


def test_autoattack_standard_includes_fab_t_and_fast_does_not():
    names = [a.name for a in AutoAttack().components()]
    assert names == ["apgd", "apgd_t", "fab", "square"]
    assert "fab" not in [a.name for a in AutoAttack(version="fast").components()]
    assert "fab" in [a.name for a in AutoAttack(version="fast", fab=True).components()]
    fab = AutoAttack(steps=7, n_target_classes=3).components()[2]
    assert isinstance(fab, FAB) and fab.steps == 7 and fab.n_target_classes == 3


@pytest.mark.parametrize(
    "bad", [{"steps": 0}, {"n_target_classes": 0}, {"backward_step": 0.0}, {"restarts": 0}]
)
def test_fab_rejects_bad_parameters(bad, digits_target, small_batch):
    from advlab.errors import ConfigError

    with pytest.raises(ConfigError):
        FAB(**bad).run(digits_target, *small_batch)


def test_fab_restarts_are_run_once_by_fab_not_repeated_by_the_base(digits_bundle, digits):
    """``restarts`` is FAB's own loop: k restarts cost about k times one start (not k**2),
    shrink the minimum norms, and the base class validates them like every attack's."""
    x, y = digits.x_test[:30].astype(np.float32), digits.y_test[:30]
    runs = {
        k: FAB(norm="l2", steps=8, restarts=k).run(digits_bundle.target(device="cpu"), x, y)
        for k in (1, 3)
    }
    one, three = runs[1], runs[3]
    ok = np.asarray(one.success) & np.asarray(three.success)
    assert ok.sum() > 0
    assert (np.asarray(three.norms)[ok] <= np.asarray(one.norms)[ok] + 1e-6).all()
    assert 2.5 * one.gradient_calls <= three.gradient_calls <= 3.5 * one.gradient_calls
    assert three.params["restarts"] == 3


def test_fab_deprecated_names_still_work_and_warn(digits_bundle, digits):
    x, y = digits.x_test[:20].astype(np.float32), digits.y_test[:20]
    new = FAB(norm="l2", steps=6, restarts=2, max_bias=0.2, extrapolation=1.1, backward_step=0.8)
    with pytest.warns(DeprecationWarning, match="'n_restarts' is deprecated, use 'restarts'"):
        old = FAB(norm="l2", steps=6, n_restarts=2, alpha_max=0.2, eta=1.1, beta=0.8)
    assert old.get_params() == new.get_params()
    a = old.run(digits_bundle.target(device="cpu"), x, y)
    b = new.run(digits_bundle.target(device="cpu"), x, y)
    np.testing.assert_array_equal(np.asarray(a.norms), np.asarray(b.norms))
