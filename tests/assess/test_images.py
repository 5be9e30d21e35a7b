"""Gallery images are PNGs written with the standard library (no imaging package needed)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import numpy as np
import pytest

from advlab.report.images import encode_png, heatmap_uri, image_uri


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (4, 6, 3)])
def test_png_decodes_to_the_same_pixels(shape: tuple[int, ...]) -> None:
    pil = pytest.importorskip("PIL.Image")  # the dev extra has Pillow: an independent decoder
    px = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    back = np.asarray(pil.open(io.BytesIO(encode_png(px))))
    np.testing.assert_array_equal(back, px.reshape(back.shape))


def test_bad_pixel_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="pixels"):
        encode_png(np.zeros((2, 2, 4), dtype=np.uint8))


def test_image_and_heatmap_uris_are_upscaled_pngs() -> None:
    pil = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(1).random((1, 8, 8)).astype(np.float32)
    for uri in (image_uri(x, size=48), heatmap_uri(x - 0.5, size=48)):
        assert uri.startswith("data:image/png;base64,")
        img = pil.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert img.size == (48, 48)


def test_rendering_images_needs_no_imaging_package() -> None:
    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "import numpy as np\n"
        "from advlab.report.images import image_uri\n"
        "print(image_uri(np.zeros((1, 8, 8)))[:22])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "data:image/png;base64,"
