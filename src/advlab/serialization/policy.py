"""Allowlist / denylist policy for pickle globals.

Decision rule (issue 7): a global is accepted only when it is on the allowlist of what torch,
numpy and ``collections`` need to rebuild tensors, arrays and containers. Everything else is a
finding; the denylist below only *ranks* the severity of such findings. This inverts the design
of picklescan / modelscan, whose denylists were bypassed repeatedly (``pip.main``,
``pkgutil.resolve_name``, ``numpy.testing._private.utils.runstring``, ``torch.hub`` ...; see the
JFrog and Sonatype picklescan advisories and "The Art of Hide and Seek", arXiv 2508.19774).

The torch entries mirror ``torch._weights_only_unpickler._get_allowed_globals`` (torch 2.x) and
are hard-coded so that the scanner never needs to import torch.

scikit-learn / joblib policy: sklearn estimators are ordinary Python classes, so they are *not*
on the core allowlist. With ``trust_sklearn=True`` (CLI ``--trust-sklearn``) CamelCase classes
from non-test ``sklearn.*`` modules are downgraded to INFO notes; functions, test helpers and
anything outside ``sklearn`` stay findings. See docs/model_files.md.
"""

from __future__ import annotations

import _compat_pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from advlab.serialization.findings import Severity

_STORAGE_KINDS = (
    "BFloat16 Bool Byte Char ComplexDouble ComplexFloat Double Float Half Int Long "
    "QInt32 QInt8 QUInt2x4 QUInt4x2 QUInt8 Short"
).split()
_TENSOR_KINDS = "BFloat16 Bool Byte Char Double Float Half Int Long Short".split()
_DTYPES = (
    (
        "bfloat16 bits16 bits1x8 bits2x4 bits4x2 bits8 bool complex128 complex32 complex64 "
        "float16 float32 float64 float4_e2m1fn_x2 float8_e4m3fn float8_e4m3fnuz float8_e5m2 "
        "float8_e5m2fnuz float8_e8m0fnu qint32 qint8 quint2x4 quint4x2 quint8 half float double "
        "long int short cfloat cdouble"
    ).split()
    + [f"int{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64)]
    + [f"uint{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64)]
)
_REBUILD = (
    "_rebuild_parameter _rebuild_parameter_with_state _rebuild_qtensor _rebuild_tensor "
    "_rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_sparse_tensor _rebuild_meta_tensor_no_storage "
    "_rebuild_nested_tensor _rebuild_wrapper_subclass _rebuild_device_tensor_from_numpy "
    "_rebuild_device_tensor_from_cpu_tensor"
).split()


def _torch_globals() -> set[str]:
    names = {
        "torch.nn.parameter.Parameter",
        "torch.serialization._get_layout",
        "torch.Size",
        "torch.Tensor",
        "torch.device",
        "torch.storage.TypedStorage",
        "torch.storage.UntypedStorage",
        "torch._tensor._rebuild_from_type_v2",
        "torch.per_tensor_affine",
        "torch.per_tensor_symmetric",
        "torch.per_channel_affine",
        "torch.per_channel_symmetric",
        "torch.per_channel_affine_float_qparams",
        "torch.strided",
        "torch.sparse_coo",
        "torch.sparse_csr",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.preserve_format",
    }
    names |= {f"torch._utils.{f}" for f in _REBUILD}
    names |= {f"torch.{d}" for d in _DTYPES}
    for prefix in ("torch", "torch.cuda"):
        names |= {f"{prefix}.{k}Storage" for k in _STORAGE_KINDS}
        names |= {f"{prefix}.{k}Tensor" for k in _TENSOR_KINDS}
    for prefix in ("torch.sparse", "torch.cuda.sparse"):
        names |= {f"{prefix}.{k}Tensor" for k in _TENSOR_KINDS}
    return names


def _numpy_globals() -> set[str]:
    names: set[str] = set()
    for core in ("numpy.core", "numpy._core"):
        names |= {
            f"{core}.multiarray._reconstruct",
            f"{core}.multiarray.scalar",
            f"{core}.numeric._frombuffer",
        }
    names |= {
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.ma.core._mareconstruct",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._generator.Generator",
        # joblib's numpy array container: data-only, the array bytes follow in the stream.
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    }
    names |= {
        f"numpy.dtypes.{k}DType"
        for k in (
            "Bool Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Float16 Float32 Float64 "
            "LongDouble Complex64 Complex128 Bytes Str Void Object DateTime64 TimeDelta64"
        ).split()
    }
    return names


_CONTAINERS = {
    "collections.OrderedDict",
    "collections.Counter",
    "collections.defaultdict",
    "collections.deque",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.slice",
    "builtins.range",
    "builtins.object",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.bytes",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "copyreg._reconstructor",
    "_codecs.encode",
}

CORE_ALLOWLIST: frozenset[str] = frozenset(_torch_globals() | _numpy_globals() | _CONTAINERS)
"""Fully qualified ``module.name`` globals accepted without a finding."""

_SKLEARN_MODULE = re.compile(r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_SKLEARN_CLASS = re.compile(r"^_?[A-Z][A-Za-z0-9_]*$")
_SKLEARN_BANNED = re.compile(r"(^|\.)(tests?|_testing|externals|conftest|_build_utils)(\.|$)")

# --- denylist: ranks severity only --------------------------------------------------------
_CRITICAL_MODULES = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "_posixsubprocess",
    "pty",
    "runpy",
    "code",
    "codeop",
    "commands",
    "popen2",
    "platform",
    "webbrowser",
    "pip",
    "ctypes",
    "_ctypes",
    "marshal",
    "pickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "shelve",
    "importlib",
    "imp",
    "pkgutil",
    "zipimport",
    "multiprocessing",
    "asyncio",
    "socket",
    "shutil",
    "timeit",
    "cProfile",
    "profile",
    "pdb",
    "bdb",
    "trace",
    "distutils",
    "setuptools",
    "torch.hub",
    "torch.jit",
    "torch.serialization",
    "torch._dynamo",
    "torch.package",
    "torch.utils.cpp_extension",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.lib.npyio",
    "tensorflow",
    "keras",
    "sys",
    "types",
    "linecache",
    "tempfile",
    "glob",
    "ftplib",
    "smtplib",
    "telnetlib",
    "http",
    "urllib",
    "requests",
    "httplib",
    "xmlrpc",
    "antigravity",
    "this",
}
_CRITICAL_BUILTINS = {
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "execfile",
    "input",
    "breakpoint",
    "help",
    "exit",
    "quit",
    "apply",
    "file",
    "memoryview",
}
_HIGH_BUILTINS = {"getattr", "setattr", "delattr", "globals", "locals", "vars", "dir", "type"}
_GADGET = {
    "operator.attrgetter",
    "operator.methodcaller",
    "operator.itemgetter",
    "operator.getitem",
    "operator.call",
    "_operator.attrgetter",
    "_operator.methodcaller",
    "_operator.itemgetter",
    "functools.partial",
    "functools.reduce",
    "_functools.reduce",
    "_functools.partial",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "numpy.load",
    "numpy.loadtxt",
    "numpy.fromfile",
    "torch.load",
    "joblib.load",
    "sklearn.utils._testing.TempMemmap",
}
_DANGEROUS_LEAVES = {
    "system",
    "popen",
    "Popen",
    "spawn",
    "spawnl",
    "spawnv",
    "execv",
    "execve",
    "execl",
    "fork_exec",
    "run",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "eval",
    "exec",
    "compile",
    "__import__",
    "import_module",
    "resolve_name",
    "run_path",
    "run_module",
    "interact",
    "runstring",
    "load",
    "loads",
    "open",
    "main",
    "getattr",
    "setattr",
}


def fix_imports(module: str, name: str) -> tuple[str, str]:
    """Apply the Python 2 name mapping that ``pickle`` applies for protocols < 3.

    ``__builtin__.eval`` *is* ``builtins.eval`` at load time; scanners that compare strings
    without this mapping miss it.
    """
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _in_module(module: str, roots: Iterable[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


@dataclass(frozen=True)
class Verdict:
    """How the policy classifies one global reference."""

    allowed: bool
    severity: Severity
    reason: str


@dataclass(frozen=True)
class Policy:
    """Pickle-global policy. ``extra_allow`` adds exact ``module.name`` strings."""

    trust_sklearn: bool = False
    extra_allow: frozenset[str] = field(default_factory=frozenset)

    def is_sklearn_class(self, module: str, name: str) -> bool:
        return bool(
            _SKLEARN_MODULE.match(module)
            and _SKLEARN_CLASS.match(name)
            and not _SKLEARN_BANNED.search(module)
            and f"{module}.{name}" not in _GADGET
        )

    def classify(self, module: str, name: str) -> Verdict:
        """Classify a (module, name) pair as the unpickler would resolve it."""
        module, name = fix_imports(module, name)
        full = f"{module}.{name}"
        dotted = "." in name  # protocol >= 4 getattr walk: never the canonical spelling
        if not dotted and (full in CORE_ALLOWLIST or full in self.extra_allow):
            return Verdict(True, Severity.INFO, "allowlisted")
        if not dotted and self.is_sklearn_class(module, name):
            if self.trust_sklearn:
                return Verdict(True, Severity.INFO, "scikit-learn class (trusted: --trust-sklearn)")
            return Verdict(False, Severity.MEDIUM, "scikit-learn class (not trusted by default)")
        return Verdict(False, rank(module, name), "not on the allowlist")


def rank(module: str, name: str) -> Severity:
    """Severity of a non-allowlisted global, from the denylist. Never decides allow/deny."""
    full = f"{module}.{name}"
    parts = name.split(".")
    if full in _GADGET:
        return Severity.CRITICAL
    if module == "builtins":
        if parts[0] in _CRITICAL_BUILTINS:
            return Severity.CRITICAL
        if parts[0] in _HIGH_BUILTINS or len(parts) > 1:
            return Severity.HIGH
    if _in_module(module, _CRITICAL_MODULES):
        return Severity.CRITICAL
    if len(parts) > 1:
        # protocol >= 4 resolves dotted names with getattr: "torch.serialization" + "os.system"
        if any(p in _CRITICAL_MODULES or p in _DANGEROUS_LEAVES for p in parts):
            return Severity.CRITICAL
        return Severity.HIGH
    if name in _DANGEROUS_LEAVES or name in _CRITICAL_BUILTINS:
        return Severity.HIGH
    return Severity.MEDIUM
