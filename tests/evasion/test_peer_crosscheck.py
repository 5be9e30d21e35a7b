"""Cross-checks against peer libraries on the same model and data (ART, torchattacks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchattacks  # dev extra; a missing peer is a failure, not a skip

from advlab.attacks.evasion import FGSM, PGD, CarliniWagnerL2, DeepFool

N = 120


@pytest.fixture(scope="module")
def setup(digits_bundle, digits):
    from art.estimators.classification import PyTorchClassifier

    model = digits_bundle.model.cpu().eval()
    clf = PyTorchClassifier(
        model=model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    x = digits.x_test[:N].astype(np.float32)
    y = digits.y_test[:N]
    return model, clf, x, y


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(1).numpy() == y).mean())


def test_fgsm_equals_art(setup, digits_bundle):
    from art.attacks.evasion import FastGradientMethod

    model, clf, x, y = setup
    ours = FGSM(eps=0.1).run(digits_bundle.target(device="cpu"), x, y)
    theirs = FastGradientMethod(clf, eps=0.1, norm=np.inf).generate(x, y=np.eye(10)[y])
    # ART returns every perturbed point; ours keeps only the successful ones (others = x)
    succ = ours.success.numpy()
    assert succ.any()
    assert np.allclose(ours.x_adv.numpy()[succ], theirs[succ], atol=1e-5)
    # the same points succeed
    art_succ = (clf.predict(theirs).argmax(1) != y) & (clf.predict(x).argmax(1) == y)
    assert np.array_equal(succ, art_succ)


def test_pgd_matches_art_and_torchattacks(setup, digits_bundle):
    from art.attacks.evasion import ProjectedGradientDescent

    model, clf, x, y = setup
    eps, steps, alpha = 0.1, 20, 0.01
    ours = PGD(eps=eps, steps=steps, step_size=alpha, random_start=False).run(
        digits_bundle.target(device="cpu"), x, y
    )
    art_x = ProjectedGradientDescent(
        clf,
        norm=np.inf,
        eps=eps,
        eps_step=alpha,
        max_iter=steps,
        num_random_init=0,
        batch_size=256,
        verbose=False,
    ).generate(x, y=np.eye(10)[y])
    ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
    ta_x = ta(torch.as_tensor(x), torch.as_tensor(y)).numpy()
    art_acc, ta_acc = _acc(model, art_x, y), _acc(model, ta_x, y)
    assert abs(ours.robust_accuracy - art_acc) <= 0.02
    assert abs(ours.robust_accuracy - ta_acc) <= 0.02
    # best iterate: never weaker than the last-iterate peers beyond the tolerance
    assert ours.robust_accuracy <= min(art_acc, ta_acc) + 0.02


def test_pgd_matches_foolbox(setup, digits_bundle):
    import foolbox

    model, _, x, y = setup
    eps, steps, alpha = 0.1, 20, 0.01
    ours = PGD(eps=eps, steps=steps, step_size=alpha, random_start=False).run(
        digits_bundle.target(device="cpu"), x, y
    )
    attack = foolbox.attacks.LinfPGD(abs_stepsize=alpha, steps=steps, random_start=False)
    _, clipped, _ = attack(
        foolbox.PyTorchModel(model, bounds=(0.0, 1.0)),
        torch.as_tensor(x),
        torch.as_tensor(y),
        epsilons=eps,
    )
    assert abs(ours.robust_accuracy - _acc(model, clipped.numpy(), y)) <= 0.02


def _median_l2(x_adv, x, ok):
    d = (x_adv - x).reshape(len(x), -1)
    return float(np.median(np.linalg.norm(d[ok], axis=1)))


def test_deepfool_and_cw_norms_not_larger_than_art(setup, digits_bundle):
    from art.attacks.evasion import CarliniL2Method
    from art.attacks.evasion import DeepFool as ArtDeepFool

    model, clf, x, y = setup
    x, y = x[:30], y[:30]  # ART's DeepFool and C&W run per-sample numpy loops: keep it small
    target = digits_bundle.target(device="cpu")
    pred = clf.predict(x).argmax(1)

    df = DeepFool(steps=50).run(target, x, y)
    art_df = ArtDeepFool(clf, max_iter=50, epsilon=0.02, nb_grads=10, verbose=False).generate(x)
    art_ok = (clf.predict(art_df).argmax(1) != y) & (pred == y)
    both = df.success.numpy() & art_ok
    assert both.sum() >= 10
    assert _median_l2(df.x_adv.numpy(), x, both) <= _median_l2(art_df, x, both) * 1.05

    x, y, pred = x[:15], y[:15], pred[:15]
    # our defaults (100 steps x 6 searches, still ~10x faster than ART at 20 x 3, whose every
    # iteration runs a line search of several forward passes)
    cw = CarliniWagnerL2().run(target, x, y)
    art_cw = CarliniL2Method(
        clf,
        max_iter=20,
        binary_search_steps=3,
        learning_rate=0.05,
        initial_const=0.1,
        verbose=False,
    ).generate(x, y=np.eye(10)[y])
    art_ok = (clf.predict(art_cw).argmax(1) != y) & (pred == y)
    both = cw.success.numpy() & art_ok
    assert both.sum() >= 6
    assert cw.success.sum() >= art_ok.sum()
    assert _median_l2(cw.x_adv.numpy(), x, both) <= _median_l2(art_cw, x, both) * 1.05


@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_fab_t_matches_torchattacks(setup, digits_bundle, eps):
    from advlab.attacks.evasion import FAB

    model, _, x, y = setup
    ours = FAB(eps=eps, steps=20, n_target_classes=9).run(digits_bundle.target(device="cpu"), x, y)
    theirs = torchattacks.FAB(model, eps=eps, multi_targeted=True, n_classes=10, steps=20)(
        torch.as_tensor(x), torch.as_tensor(y)
    )
    assert ours.robust_accuracy <= _acc(model, theirs.detach().numpy(), y) + 0.02
