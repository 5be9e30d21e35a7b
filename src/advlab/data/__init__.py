"""Datasets: embedded (no download) and loaders for user data.

Embedded: ``digits`` (8x8 images), ``breast_cancer`` and ``wine`` (tabular), ``synthetic``
(seeded, many classes). Loaders: ``.npz`` (x, y), CSV with a label column, image folders.
All inputs are scaled to [0, 1] and splits are seeded and stratified.
"""

from advlab.data.datasets import Dataset
from advlab.data.loaders import load_csv, load_dataset, load_image_folder, load_npz

__all__ = ["Dataset", "load_csv", "load_dataset", "load_image_folder", "load_npz"]
