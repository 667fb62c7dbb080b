"""Shared helpers for the end-to-end tests: run the CLI, make fixtures, read outputs.

Run with Debian's /usr/bin/python3 (numpy, scipy, skimage, PIL). ctest sets
MMB_BUILD_DIR and MMB_SOURCE_DIR.
"""
import hashlib
import importlib.util
import json
import faulthandler
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SOURCE_DIR = pathlib.Path(os.environ.get("MMB_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD_DIR = pathlib.Path(os.environ.get("MMB_BUILD_DIR", SOURCE_DIR / "build"))
BINARY = BUILD_DIR / "medmnist-build"
INFO = json.loads((SOURCE_DIR / "tests/data/medmnist-info.json").read_text())


def load_tool(name):
    """Imports tools/fixtures/<name>.py as a module."""
    path = SOURCE_DIR / "tools/fixtures" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


RUN_TIMEOUT = float(os.environ.get("MMB_RUN_TIMEOUT", 300))  # s; fixture builds take seconds
TEST_WATCHDOG = float(os.environ.get("MMB_TEST_WATCHDOG", 600))  # s per TempDirTest test


def run(*args, check=True, **kwargs):
    """Runs medmnist-build; returns the CompletedProcess (text mode)."""
    cmd = [str(BINARY), *map(str, args)]
    kwargs.setdefault("timeout", RUN_TIMEOUT)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    except subprocess.TimeoutExpired as e:
        # A hang must fail this test with its command line, not stall the suite until ctest's timeout.
        raise AssertionError(f"{' '.join(cmd)} did not finish in {kwargs['timeout']} s "
                             f"(a hang: stderr so far:\n{e.stderr})") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def npz_name(flag, size):
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def load_npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}, list(f.files)


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def sidecar(out_dir, flag, size):
    return json.loads((pathlib.Path(out_dir) / npz_name(flag, size)).with_suffix(".json").read_text())


class TempDirTest(unittest.TestCase):
    """Gives each test a fresh temporary directory self.tmp."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mmb-e2e-")
        self.tmp = pathlib.Path(self._tmp.name)
        # A test stuck past this prints every thread's Python stack and exits, so a hang shows
        # where it is instead of running into ctest's 900 s timeout with no output.
        faulthandler.dump_traceback_later(TEST_WATCHDOG, exit=True)

    def tearDown(self):
        faulthandler.cancel_dump_traceback_later()
        self._tmp.cleanup()


def nearest_centroid_accuracy(train_x, train_y, test_x, test_y):
    """Per-class nearest centroid on flattened float images; returns accuracy."""
    train_x = train_x.reshape(len(train_x), -1).astype(np.float64)
    test_x = test_x.reshape(len(test_x), -1).astype(np.float64)
    classes = np.unique(train_y)
    centroids = np.stack([train_x[train_y == c].mean(axis=0) for c in classes])
    d = ((test_x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    predicted = classes[np.argmin(d, axis=1)]
    return float((predicted == test_y).mean())


# ---------------------------------------------------------------------------
# Routines the dataset tests share. Each takes the running TestCase (tc) and
# asserts through it, so a failure points at the dataset's own test.

SPLITS = ("train", "val", "test")
NPZ_KEYS = ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"]


def labelled_samples(arrays, side):
    """[(split, id, image, first label)] in file order, pairing the npz with its sidecar's ids."""
    return [(split, sid, arrays[f"{split}_images"][i], int(arrays[f"{split}_labels"][i, 0]))
            for split in ("train", "val", "test") for i, sid in enumerate(side["source_ids"][split])]


def all_ids(side):
    """Every source id of a sidecar, train then val then test."""
    return [i for s in SPLITS for i in side["source_ids"][s]]


def manifest_toml(flag):
    import tomllib
    return tomllib.loads((SOURCE_DIR / "manifests" / f"{flag}.toml").read_text())


def assert_label_names_equal_info(tc, flag):
    """The manifest's [dataset] labels are INFO's; returns the parsed manifest for further checks."""
    manifest = manifest_toml(flag)
    tc.assertEqual({str(i): n for i, n in enumerate(manifest["dataset"]["labels"])}, INFO[flag]["label"])
    return manifest


def assert_arrays(tc, arrays, size, counts, rgb, keys=None, nonempty=False):
    """uint8 images (n, size, size[, 3]) and uint8 (n, 1) labels per split; counts: n per split
    in SPLITS order; keys (if given) must be the six members in the official order."""
    if keys is not None:
        tc.assertEqual(list(keys), NPZ_KEYS)
    for split, n in zip(SPLITS, counts):
        if nonempty:
            tc.assertGreater(n, 0)
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        tc.assertEqual((images.dtype, labels.dtype), (np.uint8, np.uint8))
        tc.assertEqual(images.shape, (n, size, size, 3) if rgb else (n, size, size))
        tc.assertEqual(labels.shape, (n, 1))



def assert_centroids_separate(tc, arrays, splits=("val", "test")):
    """Per-class centroids of train classify every image of each split right: labels stay with
    their images."""
    for split in splits:
        acc = nearest_centroid_accuracy(arrays["train_images"], arrays["train_labels"][:, 0], arrays[f"{split}_images"],
                                        arrays[f"{split}_labels"][:, 0])
        tc.assertEqual(acc, 1.0, split)

def split_counts(side):
    return [len(side["source_ids"][s]) for s in SPLITS]


def assert_official_loader_reads(tc, flag, out_dir, counts, sizes, mode, also_as_rgb=False):
    """medmnist's own loader opens every size and split with counts (n per split, SPLITS order) as
    n_samples: n samples, PIL images of `mode` ("L" or "RGB") at size x size, (1,) targets; with
    also_as_rgb, as_rgb=True gives RGB."""
    from medmnist_loader import OfficialLoader
    for size in sizes:
        for split, n in zip(SPLITS, counts):
            ds = OfficialLoader(INFO, flag, split, str(out_dir), size=size, n_samples=n)
            tc.assertEqual(len(ds), n)
            img, target = ds[0]
            tc.assertEqual((img.mode, img.size, target.shape), (mode, (size, size), (1,)))
            if also_as_rgb:
                rgb, _ = OfficialLoader(INFO, flag, split, str(out_dir), size=size, as_rgb=True, n_samples=n)[0]
                tc.assertEqual(rgb.mode, "RGB")


def write_index_map(path, rows):
    """MedMNIST's official format: split,index,image_id."""
    pathlib.Path(path).write_text("split,index,image_id\n" + "".join(f"{s},{i},{n}\n" for s, i, n in rows))


def write_reorder_and_drop_map(path, names, index=lambda i: i):
    """An index map naming `names` reversed with the three first (sorted) names dropped, dealt
    round-robin to train, val, test; index(i) is the index column of the i-th kept name.
    Returns the kept names in map order."""
    kept = sorted(names)[::-1][:-3]
    write_index_map(path, [(SPLITS[i % 3], index(i), n) for i, n in enumerate(kept)])
    return kept


def assert_index_map_applied(tc, side, kept, names, arrays=None, label_of=None, decode=None, check_image=None):
    """The build followed the map of write_reorder_and_drop_map: each split holds its kept
    names in map order, the three first names are dropped; with arrays, the labels are
    label_of(name), decode(image) gives them back, and check_image(image, label) holds."""
    for k, split in enumerate(SPLITS):
        ids = [n for i, n in enumerate(kept) if i % 3 == k]
        tc.assertEqual(side["source_ids"][split], ids)
        if arrays is None:
            continue
        labels = [label_of(n) for n in ids]
        tc.assertEqual(arrays[f"{split}_labels"][:, 0].tolist(), labels)
        if decode is not None:
            tc.assertEqual([decode(img) for img in arrays[f"{split}_images"]], labels)
        if check_image is not None:
            for img, label in zip(arrays[f"{split}_images"], labels):
                check_image(img, label)
    tc.assertEqual(sorted(side["dropped_by_split_rule"]), sorted(names)[:3])


def assert_failed_naming(tc, proc, out_dir, *texts):
    """A build that stopped with exit 1, naming each text on stderr, and left no .npz."""
    tc.assertEqual(proc.returncode, 1, proc.stderr)
    for text in texts:
        tc.assertIn(text, proc.stderr)
    tc.assertEqual(list(pathlib.Path(out_dir).glob("*.npz")), [])


def assert_skipped(tc, out_dir, flag, inputs, reason=None, size=28):
    """The sidecar lists exactly `inputs` as skipped (the first with `reason` in its reason); returns it."""
    side = sidecar(out_dir, flag, size)
    tc.assertEqual([s["input"] for s in side["skipped"]], inputs)
    if reason is not None:
        tc.assertIn(reason, side["skipped"][0]["reason"])
    return side


def assert_check_missing(tc, flag, source, name, *extra):
    """`check` exits 1 and reports `missing: <name>`; returns its output."""
    proc = run("check", flag, "--source", source, *extra, check=False)
    tc.assertEqual(proc.returncode, 1, proc.stdout)
    tc.assertIn(f"missing: {name}", proc.stdout)
    return proc


def assert_same_bytes_for_threads(tc, build, tmp, npz, threads=(1, 2)):
    """build(out_dir, *extra) once per thread count into tmp/t<threads>; every output is byte-identical."""
    for n in threads:
        build(pathlib.Path(tmp) / f"t{n}", "--threads", n)
    digests = [sha256(pathlib.Path(tmp) / f"t{n}" / npz) for n in threads]
    tc.assertEqual(digests[0], digests[1])
    for d in digests[2:]:
        tc.assertEqual(digests[0], d)



def truncated_build(tc, flag, fixture, pick, *extra, **options):
    """Generates the fixture (options) in tc.tmp/src, truncates the image pick(manifest) names,
    builds size 28 into tc.tmp/out with extra arguments; returns (manifest, victim, process)."""
    m = fixture.generate(tc.tmp / "src", **options)
    victim = pick(m)
    fixture.generate(tc.tmp / "src", truncate=victim, **options)
    proc = run("build", flag, "--source", tc.tmp / "src", "--out", tc.tmp / "out", "--sizes", "28", "-q", *extra,
               check=False)
    return m, victim, proc


class BuiltOnceAtEverySize:
    """Mix in before unittest.TestCase: make_source(src) writes a fixture (returning its manifest),
    which is built once for the class at every size (2 threads). Gives cls.root, cls.src,
    cls.manifest, cls.result (the build), cls.files {size: arrays} ({size: (arrays, keys)} with
    WITH_KEYS) and cls.side (the size-28 sidecar)."""
    FLAG = None
    SIZES = (28, 64, 128, 224)
    TMP_PREFIX = "mmb-e2e-"
    WITH_KEYS = False

    @classmethod
    def make_source(cls, src):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix=cls.TMP_PREFIX)
        cls.root = pathlib.Path(cls._tmp.name)
        cls.src = cls.root / "src"
        cls.manifest = cls.make_source(cls.src)
        cls.result = run("build", cls.FLAG, "--source", cls.src, "--out", cls.root / "out", "--threads", 2, "-q")
        loaded = {s: load_npz(cls.root / "out" / npz_name(cls.FLAG, s)) for s in cls.SIZES}
        cls.files = loaded if cls.WITH_KEYS else {s: arrays for s, (arrays, _) in loaded.items()}
        cls.side = sidecar(cls.root / "out", cls.FLAG, 28)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

# ---------------------------------------------------------------------------
# Kermany et al. 2018 (OCTMNIST, PneumoniaMNIST): one fixture generator
# (tools/fixtures/make_kermany_fixture.py), one folder layout, so most of their
# tests are the same. A dataset's test sets these class attributes and mixes in
# the cases below; what differs (patient names, the other dataset's tree) stays
# in its own file.

class KermanyDataset:
    FLAG = None        # "octmnist" / "pneumoniamnist"
    PARTS = None       # the fixture's parts for this dataset: "oct" / "cxr"
    N_CLASSES = None
    CLASSES = None     # the fixture's class folders (fixture.OCT_CLASSES / CXR_CLASSES)
    ROOT = None        # Mendeley V2's root folder: "OCT2017" / "chest_xray"
    SIZES = (28, 64, 128, 224)
    fixture = None     # the loaded make_kermany_fixture module

    @classmethod
    def build(cls, src, out, *extra):
        return run("build", cls.FLAG, "--source", src, "--out", out, "-q", "--threads", 2, *extra)

    @classmethod
    def generate(cls, out, version="v2", **options):
        return cls.fixture.generate(out, version=version, parts=cls.PARTS, **options)

    def images_of(self, manifest):
        return manifest[self.FLAG]["images"]

    def decode(self, img):
        return self.fixture.decode_28(img, self.N_CLASSES)


class KermanyBuiltOnceCases(KermanyDataset, BuiltOnceAtEverySize):
    """One Mendeley V2 build at all four sizes, inspected from every side."""
    TMP_PREFIX = "mmb-kermany-"

    @classmethod
    def make_source(cls, src):
        return cls.generate(src)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.images = cls.manifest[cls.FLAG]["images"]

    def test_gray_uint8_images_of_every_size_with_one_label_column(self):
        counts = split_counts(self.side)
        self.assertEqual(sum(counts), len(self.images))
        for size, arrays in self.files.items():
            assert_arrays(self, arrays, size, counts, rgb=False)

    def test_label_names_equal_info_and_class_folders_follow_them(self):
        manifest = assert_label_names_equal_info(self, self.FLAG)
        self.assertEqual(manifest["source"]["class_folders"], self.CLASSES)

    def test_labels_come_from_the_class_folders(self):
        for split in SPLITS:
            labels = self.files[28][f"{split}_labels"][:, 0]
            self.assertEqual(labels.tolist(), [self.images[i]["label"] for i in self.side["source_ids"][split]])

    def test_labels_stay_with_their_images(self):
        arrays = self.files[28]
        for split in ("val", "test"):
            acc = nearest_centroid_accuracy(arrays["train_images"], arrays["train_labels"][:, 0],
                                            arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0])
            self.assertEqual(acc, 1.0, split)
            decoded = [self.decode(img) for img in arrays[f"{split}_images"]]
            self.assertEqual(decoded, arrays[f"{split}_labels"][:, 0].tolist())

    def test_test_folder_is_the_test_split_and_train_is_split_nine_to_one(self):
        expected_test = sorted(n for n, i in self.images.items() if i["split"] == "test")
        self.assertEqual(self.side["source_ids"]["test"], expected_test)
        self.assertGreater(len(self.side["source_ids"]["val"]), 0)
        # MedMNIST's rule: int(n * 0.9) of each class's train-folder images, image by image.
        assert_per_class_cut(self, self.side, lambda i: self.images[i]["label"], [9, 1, 0], splits=("train", "val"))
        self.assertIn("9:1", self.side["parameters"]["split_rule"])
        self.assertIn("per class, image by image", self.side["parameters"]["split_rule"])

    def grouped_side(self):
        """The size-28 sidecar of a second build with --group subject (patient-level), built once."""
        cls = type(self)
        if not hasattr(cls, "_grouped_side"):
            cls.build(cls.src, cls.root / "out-grouped", "--sizes", 28, "--group", "subject")
            cls._grouped_side = sidecar(cls.root / "out-grouped", cls.FLAG, 28)
        return cls._grouped_side

    def subjects_by_split(self):
        """{split: patients in it} with --group subject; train and val never share one (asserted here)."""
        side = self.grouped_side()
        self.assertEqual((side["split"]["group"], side["split"]["group_from"]), ("subject", "--group"))
        subjects = {s: {self.images[i]["subject"] for i in side["source_ids"][s]} for s in SPLITS}
        self.assertFalse(subjects["train"] & subjects["val"])
        return subjects

    def test_wide_and_tall_images_are_cropped_to_their_central_square(self):
        from PIL import Image
        for name, image in self.images.items():
            if image["shape"] == "plain":
                continue
            split = "test" if image["split"] == "test" else next(s for s in ("train", "val") if name in self.side["source_ids"][s])
            i = self.side["source_ids"][split].index(name)
            with Image.open(self.root / "src" / image["path"]) as im:
                gray = im.convert("L")
            # torchvision CenterCrop + Resize(28) on a PIL image, as MedMNIST v1: exactly Pillow's bilinear.
            x0, y0, side = self.fixture.central_square(*image["size"])
            expected = np.asarray(gray.crop((x0, y0, x0 + side, y0 + side)).resize((28, 28), Image.BILINEAR))
            out = self.files[28][f"{split}_images"][i]
            self.assertEqual(np.count_nonzero(out != expected), 0, name)
            for size in self.SIZES:  # the bright EDGE outside the square never shows
                img = self.files[size][f"{split}_images"][i]
                self.assertLess(max(img[0].max(), img[-1].max(), img[:, 0].max(), img[:, -1].max()), 128, (name, size))

    def test_rgb_jpegs_become_the_same_gray_picture(self):
        rgb = [n for n, i in self.images.items() if i["mode"] == "RGB"]
        self.assertEqual(len(rgb), 2)
        for name in rgb:
            split = next(s for s in SPLITS if name in self.side["source_ids"][s])
            img = self.files[28][f"{split}_images"][self.side["source_ids"][split].index(name)]
            self.assertEqual(self.decode(img), self.images[name]["label"])

    def test_official_loader_reads_every_size_as_gray(self):
        assert_official_loader_reads(self, self.FLAG, self.root / "out", split_counts(self.side), self.SIZES, "L",
                                     also_as_rgb=True)

    def test_sidecar_records_layout_free_of_skips(self):
        self.assertEqual(self.side["skipped"], [])
        self.assertEqual(self.side["manifest"]["content"]["preprocess"]["crop"], "center_square")


class KermanyLayoutCases(KermanyDataset):
    """Layout variants, each in a fresh self.tmp (mix in with TempDirTest)."""
    STRAY = None  # a class folder right under ROOT, outside a split folder: "DME/DME-1-1.jpeg"

    def build_ids(self, src, *extra):
        self.build(src, self.tmp / "out", "--sizes", 28, *extra)
        return sidecar(self.tmp / "out", self.FLAG, 28), load_npz(self.tmp / "out" / npz_name(self.FLAG, 28))[0]

    def kaggle_val_joins_train(self):
        """The Kaggle tree: val/ joins train, the nested duplicate copy is skipped; returns the fixture manifest."""
        m = self.generate(self.tmp / "src", version="kaggle")
        val_folder = [n for n, i in self.images_of(m).items() if i["source_split"] == "val"]
        self.assertEqual(len(val_folder), 2 * self.N_CLASSES)
        side, arrays = self.build_ids(self.tmp / "src")
        self.assertEqual(sorted(all_ids(side)), sorted(self.images_of(m)))
        self.assertTrue(set(val_folder) <= set(side["source_ids"]["train"] + side["source_ids"]["val"]))
        report = run("check", self.FLAG, "--source", self.tmp / "src").stdout
        self.assertIn("layout: Kaggle", report)
        self.assertIn("MedMNIST used the Mendeley train/test folders", report)
        self.assertIn(f"{len(self.images_of(m))} duplicate copies skipped", report)
        self.assertIn("0 unreadable", report)
        return m

    def source_may_be_the_root_folder_itself(self):
        m = self.generate(self.tmp / "src")
        side, _ = self.build_ids(self.tmp / "src" / self.ROOT)
        self.assertEqual(sorted(all_ids(side)), sorted(self.images_of(m)))

    def test_class_folder_outside_a_split_folder_is_unexpected(self):
        m = self.generate(self.tmp / "src")
        stray = self.tmp / "src" / self.ROOT / self.STRAY
        stray.parent.mkdir()
        shutil.copy(self.tmp / "src" / next(iter(self.images_of(m).values()))["path"], stray)
        proc = run("check", self.FLAG, "--source", self.tmp / "src")
        self.assertIn(f"unexpected: {self.ROOT}/{self.STRAY}", proc.stdout)

    def test_sample_id_can_be_the_stem(self):
        m = self.generate(self.tmp / "src")
        side, _ = self.build_ids(self.tmp / "src", "--set", "source.sample_id=stem")
        self.assertEqual(sorted(all_ids(side)), sorted(n[:-len(".jpeg")] for n in self.images_of(m)))

    def test_index_map_reorders_and_drops(self):
        m = self.generate(self.tmp / "src")
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", self.images_of(m))
        side, arrays = self.build_ids(self.tmp / "src", "--index-map", self.tmp / "map.csv")
        assert_index_map_applied(self, side, kept, self.images_of(m), arrays, lambda n: self.images_of(m)[n]["label"],
                                 self.decode)


class KermanyBadInputCases(KermanyDataset):
    """Damaged and incomplete trees, each in a fresh self.tmp (mix in with TempDirTest)."""

    def numbered_middle_image(self, m):
        """An image whose series has a higher number, so deleting it leaves a hole."""
        images = self.images_of(m)
        for name, image in sorted(images.items()):
            if image["series"] and any(j["series"] == image["series"] and j["number"] > image["number"]
                                       for j in images.values()):
                return name, image
        raise AssertionError("fixture has no numbered series")

    def truncated_tree(self):
        """A V2 tree whose fifth image (by name) is truncated; returns (fixture manifest, its name)."""
        m = self.generate(self.tmp / "src")
        victim = sorted(self.images_of(m))[4]
        self.generate(self.tmp / "src", truncate=victim)
        return m, victim

    def test_truncated_jpeg_fails_naming_the_file(self):
        m, victim = self.truncated_tree()
        proc = run("build", self.FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        assert_failed_naming(self, proc, self.tmp / "out", f"{self.images_of(m)[victim]['path']}: truncated JPEG")

    def test_truncated_jpeg_is_recorded_and_skipped_with_on_error_skip(self):
        m, victim = self.truncated_tree()
        self.build(self.tmp / "src", self.tmp / "out", "--sizes", 28, "--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", self.FLAG, [self.images_of(m)[victim]["path"]])
        self.assertNotIn(victim, all_ids(side))
        self.assertEqual(len(all_ids(side)), len(self.images_of(m)) - 1)

    def test_check_is_clean_on_an_intact_tree(self):
        self.generate(self.tmp / "src")
        proc = run("check", self.FLAG, "--source", self.tmp / "src")
        self.assertNotIn("holes", proc.stdout)
        self.assertIn("0 missing, 0 unexpected, 0 unreadable", proc.stdout)

    def test_check_names_a_deleted_file_from_the_hole_in_its_patient_numbers(self):
        m = self.generate(self.tmp / "src")
        name, image = self.numbered_middle_image(m)
        (self.tmp / "src" / image["path"]).unlink()
        # Default: a note (the numbering is not verified to be gap-free), exit 0.
        proc = run("check", self.FLAG, "--source", self.tmp / "src")
        self.assertIn("holes in per-patient image numbers (possibly missing files): " + name, proc.stdout)
        # Strict: a missing file, exit 1; build stops naming it.
        assert_check_missing(self, self.FLAG, self.tmp / "src", name, "--set", "source.numbering_gaps=missing")
        proc = run("build", self.FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q",
                   "--set", "source.numbering_gaps=missing", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(name, proc.stderr)


def assert_per_class_cut(test, side, label_of, ratios, splits=("train", "val", "test")):
    """Each class's counts over `splits` (the ones the rule assigned) are MedMNIST's per-class cut
    (tools/fixtures/fixture_common.medmnist_class_cut: int(n*0.7), int(n*0.8) - int(n*0.7), rest)."""
    cut = load_tool("fixture_common").medmnist_class_cut
    per_class = {}
    for split in splits:
        for i in side["source_ids"][split]:
            per_class.setdefault(label_of(i), dict.fromkeys(("train", "val", "test"), 0))[split] += 1
    test.assertTrue(per_class)
    for label, got in per_class.items():
        test.assertEqual(got, dict(zip(("train", "val", "test"), cut(sum(got.values()), ratios))), label)
    split = side["split"]
    test.assertEqual((split["method"], split["ratios"]), ("per-class", list(map(float, ratios))))
