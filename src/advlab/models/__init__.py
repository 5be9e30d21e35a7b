"""Reference architectures, the training loop (standard / adversarial) and safe model files."""

from advlab.models.arch import MLP, SmallCNN, build, default_spec
from advlab.models.io import ModelBundle, load_bundle, save_model
from advlab.models.train import TrainConfig, accuracy, train_model
from advlab.models.zoo import REFERENCE_TRAIN, reference_model, reference_path, reference_train

__all__ = [
    "MLP",
    "ModelBundle",
    "SmallCNN",
    "TrainConfig",
    "accuracy",
    "build",
    "default_spec",
    "load_bundle",
    "reference_model",
    "reference_path",
    "reference_train",
    "REFERENCE_TRAIN",
    "save_model",
    "train_model",
]
