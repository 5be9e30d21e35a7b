"""Poisoning defenses on a BadNets-poisoned digits model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from advlab.attacks.poisoning import apply_trigger
from advlab.defenses.poison import (
    ActivationClustering,
    NeuralCleanse,
    SpectralSignatures,
    Strip,
    mad_anomaly_index,
    score_detection,
)
from advlab.errors import ConfigError, InputError
from advlab.registry import DEFENSES
from advlab.results import Result


def test_spectral_signatures_ranks_poisons(
    badnets_set: Any, poisoned_model: torch.nn.Module
) -> None:
    # per class, told the poisoned fraction of the target class (a third): high recall, at the
    # price of removing that fraction of every class (the paper's rule; see docs)
    d = SpectralSignatures(expected_fraction=0.34, scope="per_class").detect(
        badnets_set.x, badnets_set.y, model=poisoned_model, poison_indices=badnets_set.indices
    )
    assert d.recall >= 0.9, d.summary()
    cls0 = np.flatnonzero(badnets_set.y == 0)
    top = cls0[np.argsort(-d.scores[cls0])[: badnets_set.n_poison]]
    assert badnets_set.poison_mask[top].mean() >= 0.8  # poisons have the top scores
    back = Result.from_json(d.to_json())
    assert back.recall == d.recall and np.array_equal(back.flagged, d.flagged)


def test_activation_clustering_recall(badnets_set: Any, poisoned_model: torch.nn.Module) -> None:
    d = ActivationClustering().detect(
        badnets_set.x, badnets_set.y, model=poisoned_model, poison_indices=badnets_set.indices
    )
    assert d.recall >= 0.9, d.summary()
    assert d.clean_removed <= 0.05, d.summary()


def test_detectors_find_nothing_special_on_clean_data(
    digits: Any, clean_model: torch.nn.Module
) -> None:
    d = ActivationClustering().detect(digits.x_train, digits.y_train, model=clean_model)
    assert np.isnan(d.recall)  # no ground truth given
    assert len(d.flagged) <= 0.1 * len(digits.x_train)


def test_neural_cleanse_flags_attacked_label(digits: Any, poisoned_model: torch.nn.Module) -> None:
    res = NeuralCleanse(steps=100, batch_size=64, seed=0).analyse(
        poisoned_model, digits.x_test[:128]
    )
    assert 0 in res.flagged, res.summary()
    assert res.norms[0] == min(res.norms)


def test_strip_flags_triggered_inputs(
    badnets_set: Any, digits: Any, poisoned_model: torch.nn.Module
) -> None:
    strip = Strip(n_overlay=10, frr=0.05, seed=0).fit(poisoned_model, digits.x_test[:150])
    x_other = digits.x_test[150:250][digits.y_test[150:250] != 0]
    clean = strip.detect_inputs(x_other).flagged.mean()
    trig = strip.detect_inputs(apply_trigger(x_other, badnets_set.trigger)).flagged.mean()
    assert trig > clean + 0.3, (trig, clean)


def test_score_detection_and_mad() -> None:
    p, r, c = score_detection(np.array([0, 1, 5]), 10, np.array([0, 1, 2]))
    assert (p, r) == (2 / 3, 2 / 3) and c == pytest.approx(1 / 7)
    ai = mad_anomaly_index(np.array([10.0, 11, 9, 10.5, 9.5, 2.0]))
    assert ai.argmax() == 5 and ai[5] > 2 and ai[:5].max() < 2


def test_detector_needs_model(badnets_set: Any) -> None:
    with pytest.raises(InputError, match="needs the model"):
        SpectralSignatures().detect(badnets_set.x, badnets_set.y)


def test_defenses_registered() -> None:
    import advlab.defenses.poison  # noqa: F401

    for name in (
        "spectral_signatures",
        "activation_clustering",
        "strip",
        "neural_cleanse",
        "data_augmentation",
    ):
        cls = DEFENSES[name]
        assert cls.threat == "poisoning" and cls.role in ("data", "detector", "training")
        assert cls.paper and cls.summary


def test_neural_cleanse_labels_reversed_together_do_not_interact(
    digits: Any, poisoned_model: torch.nn.Module
) -> None:
    # label 0's trajectory is the same whichever label shares its batched pass: same
    # initialisation slice, same clean batches, its own lambda schedule and Adam state
    x = torch.as_tensor(digits.x_test[:128])
    runs = []
    for other in (3, 7):
        det = NeuralCleanse(steps=60, batch_size=32)
        gen = torch.Generator().manual_seed(0)
        runs.append(det._reverse(poisoned_model.eval(), x, [0, other], 0.0, 1.0, gen))
    (n_a, m_a, p_a), (n_b, m_b, p_b) = runs
    assert abs(n_a[0] - n_b[0]) < 1e-3 * max(1.0, n_a[0])
    np.testing.assert_allclose(m_a[0], m_b[0], atol=1e-4)
    np.testing.assert_allclose(p_a[0], p_b[0], atol=1e-4)
    assert not np.allclose(m_a[1], m_b[1], atol=1e-3)  # the companions themselves differ


@pytest.mark.parametrize("label_batch", [1, 4])
def test_neural_cleanse_flags_attacked_label_at_any_label_batch(
    digits: Any, poisoned_model: torch.nn.Module, label_batch: int
) -> None:
    det = NeuralCleanse(steps=100, batch_size=64, label_batch=label_batch, seed=1)
    res = det.analyse(poisoned_model, digits.x_test[:128])
    assert 0 in res.flagged and int(np.argmin(res.norms)) == 0, res.summary()
    assert len(res.norms) == 10 and res.masks.shape[0] == 10


def test_neural_cleanse_rejects_bad_label_batch(digits: Any, poisoned_model: Any) -> None:
    with pytest.raises(ConfigError, match="label_batch"):
        NeuralCleanse(steps=2, label_batch=0).analyse(poisoned_model, digits.x_test[:8])
