"""Our outputs read by the REAL official `medmnist` package, not a transcription of it.

The package is never vendored: its source comes from $MEDMNIST_SRC (a folder holding medmnist/,
e.g. a clone of github.com/MedMNIST/MedMNIST) or, failing that, from a fetched mirror of that
repository (a bare git dir under /work/.mirror/, extracted with `git archive HEAD medmnist`). Without
either the tests skip and say so.

medmnist/dataset.py imports torch.utils.data.Dataset as the base class of MedMNIST. Debian's
python3-torch provides it; where torch is not installed, a stand-in module providing only that base
class (an empty class, which is all MedMNIST uses of it) is put in sys.modules, and the test says so.
medmnist/__init__.py is not run (it also imports the evaluator, i.e. scikit-learn and pandas); the
package's own medmnist/info.py and medmnist/dataset.py are imported unchanged.

* DemoOutputs: every dataset of tools/demo.sh, built from the same fixture generators with the same
  arguments, read at every size through the official classes with INFO's n_samples patched to the
  fixture's counts (the only thing a fixture cannot match): len() (which asserts the count),
  __getitem__ (PIL / float 3D paths), as_rgb, and the label array.
* RealCounts: a dataset generated at its source's real class sizes (tiny pictures) and built with the
  default recipe passes the official classes WITHOUT patching: INFO's counts are met exactly.
"""
import glob
import importlib
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import types
import unittest

import numpy as np

from mmbtest import SOURCE_DIR, load_npz, run, sidecar

SPLITS = ("train", "val", "test")
MIRROR_GLOB = "/work/.mirror/MedMNIST+MedMNIST/repo"


def find_medmnist_source(into):
    """A folder with medmnist/ in it, or None. $MEDMNIST_SRC first, then the fetched mirror."""
    env = os.environ.get("MEDMNIST_SRC")
    if env:
        return pathlib.Path(env) if (pathlib.Path(env) / "medmnist" / "dataset.py").is_file() else None
    for git_dir in sorted(glob.glob(MIRROR_GLOB)):
        archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "HEAD", "medmnist"], capture_output=True)
        if archive.returncode != 0:
            continue
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
        if (pathlib.Path(into) / "medmnist" / "dataset.py").is_file():
            return pathlib.Path(into)
    return None


TORCH_NOTE = ""


def import_official(source):
    """Imports medmnist.dataset from `source`; stands in torch.utils.data.Dataset only if torch is absent."""
    global TORCH_NOTE
    try:
        import torch.utils.data  # noqa: F401
        TORCH_NOTE = "torch " + sys.modules["torch"].__version__
    except ImportError:
        torch = types.ModuleType("torch")
        utils = types.ModuleType("torch.utils")
        data = types.ModuleType("torch.utils.data")
        data.Dataset = type("Dataset", (), {})  # MedMNIST only subclasses it
        torch.utils, utils.data = utils, data
        sys.modules.update({"torch": torch, "torch.utils": utils, "torch.utils.data": data})
        TORCH_NOTE = "torch not installed: torch.utils.data.Dataset stood in by an empty base class"
    for name in [m for m in sys.modules if m == "medmnist" or m.startswith("medmnist.")]:
        del sys.modules[name]
    # The package's __init__ also imports medmnist.evaluator (scikit-learn, pandas), which reading
    # files does not need: register the package without running __init__, then import its modules.
    package = types.ModuleType("medmnist")
    package.__path__ = [str(pathlib.Path(source) / "medmnist")]
    sys.modules["medmnist"] = package
    info = importlib.import_module("medmnist.info")
    dataset = importlib.import_module("medmnist.dataset")
    return info, dataset


_SRC_DIR = tempfile.TemporaryDirectory(prefix="mmb-medmnist-src-")
OFFICIAL_SOURCE = find_medmnist_source(_SRC_DIR.name)
SKIP_REASON = ("the official medmnist package was not found: set MEDMNIST_SRC to a folder holding medmnist/ "
               "(a clone of github.com/MedMNIST/MedMNIST), or fetch that repository to " + MIRROR_GLOB)
if OFFICIAL_SOURCE is not None:
    INFO_MODULE, DATASET_MODULE = import_official(OFFICIAL_SOURCE)


def demo_entries():
    """(flags, generator, args) from the DEMOS table of tools/demo.sh, so the test follows the demo."""
    text = (SOURCE_DIR / "tools/demo.sh").read_text()
    table = text[text.index("DEMOS=(") + len("DEMOS=("):text.index("\n)")]
    for line in table.strip().splitlines():
        flags, gen = shlex.split(line.strip())[0].split("|", 1)
        words = gen.split()
        yield flags.split(), words[0], words[1:]


def official_class(flag):
    return getattr(DATASET_MODULE, INFO_MODULE.INFO[flag]["python_class"])


def read_with_official_class(test, flag, root, size, expected_counts):
    """Every split through the official class: len (its n_samples assertion), first and last items."""
    cls = official_class(flag)
    for split in SPLITS:
        for as_rgb in (False, True):
            ds = cls(split=split, root=str(root), size=size, as_rgb=as_rgb)
            test.assertEqual(len(ds), expected_counts[split], (flag, size, split))
            if len(ds) == 0:
                continue
            for index in (0, len(ds) - 1):
                img, target = ds[index]
                test.assertEqual(np.asarray(target).ndim, 1)
                if flag.endswith("3d"):
                    test.assertEqual(img.shape, (3 if as_rgb else 1, size, size, size))
                    test.assertTrue(0.0 <= img.min() and img.max() <= 1.0)
                else:
                    test.assertEqual(img.size, (size, size))
                    if as_rgb:
                        test.assertEqual(img.mode, "RGB")


@unittest.skipIf(OFFICIAL_SOURCE is None, SKIP_REASON)
class DemoOutputs(unittest.TestCase):
    """Every demo dataset at every size, with INFO's n_samples patched to the fixture's counts."""

    @classmethod
    def setUpClass(cls):
        print(f"\nofficial medmnist {INFO_MODULE.__version__} from {OFFICIAL_SOURCE}; {TORCH_NOTE}", file=sys.stderr)
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-official-demo-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.built = []
        for flags, gen, args in demo_entries():
            src, out = cls.root / "src" / flags[0], cls.root / "out" / flags[0]
            subprocess.run(["/usr/bin/python3", str(SOURCE_DIR / "tools/fixtures" / gen), str(src), *args],
                           check=True, capture_output=True)
            run("build", *flags, "--source", src, "--out", out, "-q")
            cls.built += [(flag, out) for flag in flags]

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_every_demo_file_passes_the_official_classes_with_patched_counts(self):
        self.assertEqual(len(self.built), 18)
        files = 0
        for flag, out in self.built:
            info = INFO_MODULE.INFO[flag]
            saved = dict(info["n_samples"])
            sizes = [28, 64] if flag.endswith("3d") else [28, 64, 128, 224]
            try:
                for size in sizes:
                    counts = sidecar(out, flag, size)["counts"]
                    info["n_samples"].update(counts)
                    read_with_official_class(self, flag, out, size, counts)
                    arrays, _ = load_npz(out / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"))
                    ds = official_class(flag)(split="train", root=str(out), size=size)
                    np.testing.assert_array_equal(ds.labels, arrays["train_labels"])
                    files += 1
            finally:
                info["n_samples"].clear()
                info["n_samples"].update(saved)
        self.assertEqual(files, 12 * 4 + 6 * 2)

    def test_unpatched_info_rejects_fixture_counts(self):
        # The check is real: with INFO's own counts, a small fixture fails the official assertion.
        flag, out = next((f, o) for f, o in self.built if f == "dermamnist")
        ds = official_class(flag)(split="train", root=str(out))
        with self.assertRaises(AssertionError):
            len(ds)


@unittest.skipIf(OFFICIAL_SOURCE is None, SKIP_REASON)
class RealCounts(unittest.TestCase):
    """Real class sizes, tiny pictures, default recipe: the official classes accept the files as they are."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mmb-official-real-")
        self.tmp = pathlib.Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def build_real(self, flag, generator, *args, build_args=()):
        subprocess.run(["/usr/bin/python3", str(SOURCE_DIR / "tools/fixtures" / generator), str(self.tmp / "src"),
                        *args], check=True, capture_output=True)
        run("build", flag, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q", *build_args)
        counts = INFO_MODULE.INFO[flag]["n_samples"]
        self.assertEqual(sidecar(self.tmp / "out", flag, 28)["counts"], counts)
        read_with_official_class(self, flag, self.tmp / "out", 28, counts)

    def test_breastmnist_from_busi_437_210_133(self):
        self.build_real("breastmnist", "make_busi_fixture.py", "--real-counts", "--tiny")

    def test_dermamnist_from_ham10000_dx_counts(self):
        # The tiny pictures are 60x45: the manifest's 600x450 source-size check is widened for them.
        self.build_real("dermamnist", "make_ham10000_fixture.py", "--real-counts", "--tiny",
                        build_args=("--set", "source.min_size=[60,45]"))

    def test_pneumoniamnist_from_the_kermany_train_and_test_folders(self):
        self.build_real("pneumoniamnist", "make_kermany_fixture.py", "--version", "v2", "--parts", "cxr",
                        "--real-counts")


if __name__ == "__main__":
    unittest.main()
