"""A synthetic credit-scoring table with real domain constraints, generated in-process.

Loan applications in the shape of the LendingClub data used by Simonetto et al. 2022
(arXiv:2112.01156), with the constraints such data obey:

* the monthly **instalment** follows the amortisation formula from the amount, the annual
  rate and the term: ``amount * r / (1 - (1 + r) ** -n)`` with ``r = rate / 1200`` and ``n``
  months;
* **ratio features**: debt-to-income ``dti = 1200 * (instalment + monthly_debt) / income``
  (percent) and ``loan_to_income = amount / income``;
* **categorical** term (12 / 36 / 60 months) and purpose (car, home, education, business),
  one-hot;
* **integer** counts, a **binary** flag, **immutable** facts (age, rate, delinquencies,
  home ownership) and **increase-only** records (monthly debt, open accounts);
* business rules: a 60-month term needs at least 5,000; education loans are at most
  20,000; other monthly debt is at most a twelfth of the annual income.

Label 1 = the loan defaults (a seeded logistic model of the raw features). Inputs are the
features min-max scaled from their declared bounds to [0, 1]; :func:`credit_constraints`
gives the :class:`~advlab.constraints.ConstraintSet` (``scaled=True``), also in the
dataset's ``meta["constraints"]``.
"""

from __future__ import annotations

import numpy as np

from advlab.constraints import ConstraintSet, Feature, OneHot
from advlab.data.datasets import Dataset, split
from advlab.registry import register_dataset

TERMS = (12, 36, 60)
PURPOSES = ("car", "home", "education", "business")


def credit_constraints() -> ConstraintSet:
    """The constraint set of the ``credit`` dataset (raw units, ``scaled=True``)."""
    feats = [
        Feature("age", "integer", 18, 80, "immutable"),
        Feature("income", "real", 12_000, 250_000),
        Feature("rate", "real", 3, 30, "immutable"),
        Feature("amount", "real", 1_000, 40_000),
        *(Feature(f"term_{t}", "binary", 0, 1) for t in TERMS),
        Feature("instalment", "real", 0, 4_000),
        Feature("monthly_debt", "real", 0, 20_000, "increase"),
        Feature("dti", "real", 0, 1_000),
        Feature("loan_to_income", "real", 0, 4),
        Feature("open_accounts", "integer", 0, 40, "increase"),
        Feature("delinquencies", "integer", 0, 10, "immutable"),
        *(Feature(f"purpose_{p}", "binary", 0, 1) for p in PURPOSES),
        Feature("homeowner", "binary", 0, 1, "immutable"),
    ]
    cs = ConstraintSet(
        feats,
        groups=[
            OneHot("term", tuple(f"term_{t}" for t in TERMS)),
            OneHot("purpose", tuple(f"purpose_{p}" for p in PURPOSES)),
        ],
        scaled=True,
    )
    months = " + ".join(f"{t} * term_{t}" for t in TERMS)
    cs.relate(
        f"instalment == amount * (rate / 1200) / (1 - (1 + rate / 1200) ** (-({months})))",
        name="amortisation",
    )
    cs.relate("dti == 1200 * (instalment + monthly_debt) / income", name="dti")
    cs.relate(cs["loan_to_income"] == cs["amount"] / cs["income"], name="loan_to_income")
    cs.relate("term_60 == 0 or amount >= 5000", name="long_term_minimum")
    cs.relate("purpose_education == 0 or amount <= 20000", name="education_cap")
    cs.relate(cs["monthly_debt"] <= cs["income"] / 12, name="debt_cap")
    return cs


def credit_raw(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` raw applications (columns in :func:`credit_constraints` order) and labels."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 71, n).astype(float)
    income = np.clip(rng.lognormal(np.log(55_000), 0.5, n), 12_000, 250_000)
    delinq = np.minimum(rng.poisson(0.4, n), 10).astype(float)
    homeowner = (rng.random(n) < 0.45).astype(float)
    grade = rng.normal(0, 1, n) + 0.5 * delinq
    rate = np.clip(11 + 4 * grade, 3, 30)
    purpose = rng.choice(len(PURPOSES), n, p=[0.35, 0.3, 0.15, 0.2])
    amount = np.clip(income * rng.uniform(0.05, 0.6, n), 1_000, 40_000)
    amount = np.where(purpose == PURPOSES.index("education"), np.minimum(amount, 20_000), amount)
    term = rng.choice(len(TERMS), n, p=[0.25, 0.5, 0.25])
    term = np.where((term == 2) & (amount < 5_000), 1, term)
    months = np.asarray(TERMS, dtype=float)[term]
    r = rate / 1200
    instalment = amount * r / (1 - (1 + r) ** -months)
    monthly_debt = np.minimum(rng.gamma(2.0, 300.0, n), income / 12)
    dti = 1200 * (instalment + monthly_debt) / income
    lti = amount / income
    accounts = np.minimum(rng.poisson(6, n), 40).astype(float)
    x = np.column_stack(
        [
            age,
            income,
            rate,
            amount,
            *(term == k for k in range(len(TERMS))),
            instalment,
            monthly_debt,
            dti,
            lti,
            accounts,
            delinq,
            *(purpose == k for k in range(len(PURPOSES))),
            homeowner,
        ]
    ).astype(np.float64)
    logit = (
        -1.0
        + 0.05 * (dti - 20)
        + 0.5 * delinq
        + 0.12 * (rate - 11)
        - 0.03 * (age - 45)
        + 0.6 * (purpose == PURPOSES.index("business"))
        - 0.4 * homeowner
        + 1.0 * lti
        - 0.05 * accounts
        + rng.logistic(0, 0.5, n)
    )
    return x, (logit > 0).astype(np.int64)


@register_dataset("credit")
def credit(*, seed: int = 0, test_size: float = 0.25, n_samples: int = 3000) -> Dataset:
    """Synthetic loan applications with domain constraints (see the module docstring);
    18 features scaled to [0, 1], 2 classes (repaid, default)."""
    cs = credit_constraints()
    raw, y = credit_raw(n_samples, seed)
    lo = np.array([f.lower for f in cs.features])
    hi = np.array([f.upper for f in cs.features])
    x = ((raw - lo) / (hi - lo)).astype(np.float32)
    return split(
        "credit",
        x,
        y,
        seed=seed,
        test_size=test_size,
        class_names=["repaid", "default"],
        feature_names=cs.names,
        meta={"constraints": cs},
    )
