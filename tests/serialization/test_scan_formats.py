"""Format detection, containers, limits and the structured-format checks."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from advlab.serialization.containers import Limits
from advlab.serialization.corpus import P2, _patch_zip_flags, _stored_zip, call, g, u
from advlab.serialization.findings import ExitCode
from advlab.serialization.formats import Kind, sniff
from advlab.serialization.scan import ScanOptions, scan_bytes, scan_file, scan_paths
from advlab.serialization.structured import check_keras_config, check_safetensors

EVIL = P2 + call(g("os", "system"), u("id")) + b"."


def rules_of(report_findings: list) -> set[str]:  # type: ignore[type-arg]
    return {f.rule for f in report_findings if not f.is_note}


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04rest", Kind.ZIP),
        (b"\x1f\x8b\x08\x00", Kind.GZIP),
        (b"BZh91AY", Kind.BZIP2),
        (b"\xfd7zXZ\x00\x00", Kind.XZ),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", Kind.SEVENZIP),
        (b"\x93NUMPY\x01\x00", Kind.NPY),
        (b"\x89HDF\r\n\x1a\n", Kind.HDF5),
        (b"\x80\x02}q\x00.", Kind.PICKLE),
        (b"x\x9c" + b"\x03\x00\x00\x00\x00\x01", Kind.ZLIB),
        (b"", Kind.UNKNOWN),
    ],
)
def test_sniff_by_content(head: bytes, kind: Kind) -> None:
    assert sniff(head, max(len(head), 1)) is kind


def test_sniff_safetensors_and_tar() -> None:
    header = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    st = struct.pack("<Q", len(header)) + header + b"\0" * 4
    assert sniff(st, len(st)) is Kind.SAFETENSORS
    buf = io.BytesIO()
    import tarfile

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("x")
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"x"))
    assert sniff(buf.getvalue(), len(buf.getvalue())) is Kind.TAR


def _st(entries: dict[str, object], data_len: int, raw_header: bytes | None = None) -> bytes:
    raw = raw_header if raw_header is not None else json.dumps(entries).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * data_len


def test_safetensors_valid_file_from_the_library() -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save

    data = save(
        {"a": torch.ones(3), "b": torch.zeros(2, 2, dtype=torch.int64)}, metadata={"k": "v"}
    )
    assert check_safetensors(data, "t") == []


@pytest.mark.parametrize(
    ("entries", "data_len", "rule"),
    [
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            12,
            "overlap",
        ),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8, "bounds"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8, "size"),
        ({"a": {"dtype": "EVIL", "shape": [2], "data_offsets": [0, 8]}}, 8, "dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, 8, "shape"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, 8, "hole"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, 8, "trailing"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}, 8, "bounds"),
        (
            {"__metadata__": {"k": 1}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
            1,
            "metadata",
        ),
    ],
)
def test_safetensors_header_validation(
    entries: dict[str, object], data_len: int, rule: str
) -> None:
    found = {f.rule for f in check_safetensors(_st(entries, data_len), "t")}
    assert f"safetensors.{rule}" in found


def test_safetensors_duplicate_keys_rejected() -> None:
    raw = (
        b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        b'"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    )
    assert [f.rule for f in check_safetensors(_st({}, 1, raw), "t")] == ["safetensors.header"]


def test_npy_object_array_payload_and_plain_arrays() -> None:
    buf = io.BytesIO()
    np.save(buf, np.arange(5))
    assert scan_bytes(buf.getvalue()).real_findings == []

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return os.system, ("id",)

    buf = io.BytesIO()
    np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)
    got = rules_of(scan_bytes(buf.getvalue()).findings)
    assert {"npy.object-array", "pickle.call"} <= got


def test_keras_config_checks() -> None:
    assert check_keras_config({"module": "keras.layers", "class_name": "Dense"}, "t") == []
    lam = {
        "class_name": "Lambda",
        "config": {"function": ["YmFk", None, None], "function_type": "lambda"},
    }
    assert {f.rule for f in check_keras_config(lam, "t")} == {"keras.lambda"}
    gadget = {"module": "subprocess", "class_name": "Popen"}
    assert [f.rule for f in check_keras_config(gadget, "t")] == ["keras.module"]


def test_zip_crc_and_flag_tricks_are_reported_and_content_still_scanned() -> None:
    z = _stored_zip({"archive/data.pkl": EVIL, "archive/version": b"3\n"})
    for kw, rule in (({"crc": True}, "zip.crc-mismatch"), ({"encrypt": True}, "zip.flag-trick")):
        rep = scan_bytes(_patch_zip_flags(z, **kw))
        got = rules_of(rep.findings)
        assert {rule, "pickle.call"} <= got, got
        # Python's zipfile refuses these members; we did not
        with pytest.raises((zipfile.BadZipFile, RuntimeError)):
            zipfile.ZipFile(io.BytesIO(_patch_zip_flags(z, **kw))).read("archive/data.pkl")


def test_zip_without_central_directory_falls_back_to_local_headers() -> None:
    z = _stored_zip({"data.pkl": EVIL})
    truncated = z[: z.find(b"PK\x01\x02")]
    rep = scan_bytes(truncated)
    assert {"zip.no-central-directory", "pickle.call"} <= rules_of(rep.findings)


def test_torch_storages_are_not_parsed_as_pickles() -> None:
    torch = pytest.importorskip("torch")
    # storage bytes that happen to look like a malicious pickle
    t = torch.frombuffer(bytearray(EVIL + b"\0" * (8 - len(EVIL) % 8)), dtype=torch.uint8)
    buf = io.BytesIO()
    torch.save({"t": t.clone()}, buf)
    assert scan_bytes(buf.getvalue()).real_findings == []


def test_deep_nesting_limit() -> None:
    data = EVIL
    for _ in range(5):
        data = gzip.compress(data)
    opts = ScanOptions(limits=Limits(max_depth=3))
    rep = scan_bytes(data, options=opts)
    assert "container.depth" in rules_of(rep.findings)
    assert "pickle.call" in rules_of(scan_bytes(data).findings)


def test_decompression_bomb_limits() -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))
    rep = scan_bytes(bomb, options=ScanOptions(limits=Limits(max_member_bytes=1 << 20)))
    assert rules_of(rep.findings) == {"container.limit"}  # too large, not a bomb
    rep = scan_bytes(bomb, options=ScanOptions(limits=Limits(max_ratio=10, ratio_floor_bytes=0)))
    assert "container.decompression-bomb" in rules_of(rep.findings)


def test_nested_7z_in_tar_gz(tmp_path: Path) -> None:
    from advlab.serialization.corpus import _make_7z, _tar

    data = _tar({"m.7z": _make_7z({"inner/model.bin": EVIL})}, "w:gz")
    rep = scan_bytes(data)
    assert "pickle.call" in rules_of(rep.findings)
    assert any("!m.7z!inner/model.bin" in f.location for f in rep.findings)


def test_unknown_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# hello\n")
    rep = scan_paths([tmp_path / "notes.md"])
    assert rep.exit_code() == ExitCode.NOTHING_SCANNED
    (tmp_path / "empty.pt").write_bytes(b"")
    assert scan_paths([tmp_path / "empty.pt"]).exit_code() == ExitCode.ERROR


def test_corrupt_gzip_is_an_error_not_clean(tmp_path: Path) -> None:
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(EVIL)[:-12])
    rep = scan_file(p)
    assert rep.errors or rep.real_findings


def test_polyglot_pickle_and_zip() -> None:
    data = EVIL + _stored_zip({"x.pkl": EVIL})
    rep = scan_bytes(data)
    got = rules_of(rep.findings)
    assert "polyglot.pickle-zip" in got
    assert any(f.location.endswith("!x.pkl") for f in rep.findings)


def test_python_sources_in_a_model_folder_are_not_pickles(tmp_path: Path) -> None:
    """A Hugging Face-style folder: its .py files are source (an INFO note), not malformed
    pickles; a pickle that merely carries a .py name is still scanned as a pickle."""
    from safetensors.numpy import save_file

    folder = tmp_path / "model"
    folder.mkdir()
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(folder / "model.safetensors"))
    (folder / "configuration_tiny.py").write_text("class TinyConfig:\n    model_type = 't'\n")
    (folder / "modeling_tiny.py").write_text(
        "import torch\n\nclass Tiny(torch.nn.Module):\n    pass\n"
    )
    (folder / "make.py").write_text(
        'import os\nos.system("echo built")\n'
    )  # also a protocol-0 pickle
    report = scan_paths([folder])
    assert report.exit_code() == ExitCode.CLEAN
    sources = [f for f in report.files if f.path.endswith(".py")]
    assert len(sources) == 3
    for fr in sources:
        assert fr.formats == ["python-source"] and not fr.real_findings
        assert [(f.rule, f.is_note) for f in fr.findings] == [("source.python", True)]
    (folder / "evil.py").write_bytes(P2 + call(g("os", "system"), u("echo pwned")) + b".")
    evil = scan_file(folder / "evil.py")
    assert "python-source" not in evil.formats and evil.real_findings
