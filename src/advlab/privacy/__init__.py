"""Privacy measurement: membership-inference metrics at low false-positive rates."""

from advlab.privacy.metrics import (
    MembershipMetrics,
    auc,
    balanced_accuracy,
    bootstrap_tpr,
    dp_tpr_bound,
    empirical_epsilon,
    epsilon_lower_bound,
    membership_metrics,
    ppv,
    roc_curve,
    roc_points,
    roc_svg,
    tpr_at_fpr,
)

__all__ = [
    "MembershipMetrics",
    "auc",
    "balanced_accuracy",
    "bootstrap_tpr",
    "dp_tpr_bound",
    "empirical_epsilon",
    "epsilon_lower_bound",
    "membership_metrics",
    "ppv",
    "roc_curve",
    "roc_points",
    "roc_svg",
    "tpr_at_fpr",
]
