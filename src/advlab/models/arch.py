"""Small reference architectures, rebuilt from a JSON spec (never from pickle)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from advlab.errors import ConfigError


class SmallCNN(nn.Module):
    """Two 3x3 conv layers, max-pool, two dense layers; for small images such as 8x8 digits."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 8,
        width: int = 32,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        flat = 2 * width * (image_size // 2) ** 2
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation (used by poisoning defenses)."""
        return self.head[:-1](self.features(x))  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # type: ignore[no-any-return]


class MLP(nn.Module):
    """A ReLU multilayer perceptron for tabular data."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: tuple[int, ...] | list[int] = (128, 128),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_shape = (in_features,)
        layers: list[nn.Module] = [nn.Flatten()]
        prev = in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(prev, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))  # type: ignore[no-any-return]


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class SmallResNet(nn.Module):
    """A ResNet-8 for small colour images (He et al., "Deep Residual Learning for Image
    Recognition", CVPR 2016): a 3x3 stem, three stages of one basic block each (``width``,
    ``2 width``, ``4 width`` channels; the last two halve the resolution), global average
    pooling and a linear head. About 78k parameters at ``width=16``."""

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, width: int = 16
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            _BasicBlock(width, width, 1),
            _BasicBlock(width, 2 * width, 2),
            _BasicBlock(2 * width, 4 * width, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation: the pooled features."""
        return self.features(x)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # type: ignore[no-any-return]


ARCHITECTURES: dict[str, type[nn.Module]] = {"cnn": SmallCNN, "mlp": MLP, "resnet": SmallResNet}


def build(spec: dict[str, Any], *, seed: int | None = None) -> nn.Module:
    """Build a model from ``{"arch": name, **kwargs}``; ``seed`` fixes the initial weights."""
    spec = dict(spec)
    if seed is not None:
        torch.manual_seed(seed)
    name = spec.pop("arch", None)
    if name not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**spec)


def default_spec(
    input_shape: tuple[int, ...], num_classes: int, arch: str | None = None
) -> dict[str, Any]:
    """A sensible architecture for the data: CNN for square images, MLP otherwise; ``arch``
    names one (``cnn``, ``resnet`` for images, ``mlp``)."""
    if arch is None:
        arch = "cnn" if len(input_shape) == 3 and input_shape[1] == input_shape[2] else "mlp"
    if arch in ("cnn", "resnet"):
        if len(input_shape) != 3:
            raise ConfigError(f"{arch} needs (C, H, W) inputs, got {input_shape}")
        return {
            "arch": arch,
            "in_channels": input_shape[0],
            "num_classes": num_classes,
            "image_size": input_shape[1],
        }
    if arch != "mlp":
        raise ConfigError(f"unknown architecture {arch!r}; valid: cnn, resnet, mlp")
    n = 1
    for s in input_shape:
        n *= s
    return {"arch": "mlp", "in_features": n, "num_classes": num_classes, "hidden": [128, 128]}
