"""AdrenalMNIST3D end to end on generated shape masks (tools/fixtures/make_adrenal_fixture.py).

The real masks are private; these tests prove the documented input format and
the recipe (64 mm crop around the centre of mass, 0/255, patient-level 7:1:2).
"""
import pathlib
import tempfile
import unittest

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import INFO, TempDirTest, labelled_samples, load_npz, load_tool, nearest_centroid_accuracy, npz_name, run, sha256, sidecar

FLAG = "adrenalmnist3d"
SIZES = [28, 64]
SPLITS = ("train", "val", "test")
fixture = load_tool("make_adrenal_fixture")


class MaskTree(unittest.TestCase):
    """One fixture of 30 patients (60 glands), built once at both sizes with 2 threads."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-adrenal-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src", patients=30)
        run("build", FLAG, "--source", cls.root / "src", "--out", cls.root / "out", "--threads", 2, "-q")
        cls.files = {s: load_npz(cls.root / "out" / npz_name(FLAG, s)) for s in SIZES}
        cls.side = {s: sidecar(cls.root / "out", FLAG, s) for s in SIZES}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def samples(self, size):
        """(id, image, label) for every output sample of a size."""
        return [(sid, img, label) for _, sid, img, label in labelled_samples(self.files[size][0], self.side[size])]

    def test_keys_shapes_dtypes_and_binary_voxels(self):
        for size, (arrays, keys) in self.files.items():
            self.assertEqual(keys, [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")])
            total = 0
            for split in SPLITS:
                images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
                self.assertEqual((images.dtype, labels.dtype), (np.uint8, np.uint8))
                self.assertEqual(images.shape[1:], (size, size, size))
                self.assertEqual(labels.shape, (len(images), 1))
                self.assertTrue(set(np.unique(images)) <= {0, 255})
                total += len(images)
            self.assertEqual(total, len(self.manifest["masks"]))

    def test_label_names_equal_info_and_csv_labels_map_to_them(self):
        labels = self.side[28]["manifest"]["content"]["dataset"]["labels"]
        self.assertEqual({str(i): n for i, n in enumerate(labels)}, INFO[FLAG]["label"])
        for name, _, label in self.samples(28):
            self.assertEqual(label, self.manifest["masks"][name]["label"], name)

    def test_labels_stay_with_their_samples(self):
        # The class is the gland's volume; at 64 (1 mm voxels) the output volume
        # also identifies the very mask (within 15% of its source volume).
        for size in SIZES:
            for name, img, label in self.samples(size):
                self.assertEqual(fixture.decode_label(img), label, f"{name} at {size}")
        for name, img, _ in self.samples(64):
            self.assertAlmostEqual(np.count_nonzero(img) / self.manifest["masks"][name]["volume_mm3"], 1.0, delta=0.15,
                                   msg=name)
        arrays, _ = self.files[28]
        flat = lambda x: (x > 0).sum(axis=(1, 2, 3)).reshape(-1, 1)  # noqa: E731 (volume only: shapes are rotated)
        acc = nearest_centroid_accuracy(flat(arrays["train_images"]), arrays["train_labels"][:, 0],
                                        flat(arrays["test_images"]), arrays["test_labels"][:, 0])
        self.assertEqual(acc, 1.0)

    def test_crop_is_centred_on_the_centre_of_mass(self):
        for size in SIZES:
            centre = (size - 1) / 2.0
            for name, img, _ in self.samples(size):
                np.testing.assert_allclose(np.argwhere(img).mean(axis=0), [centre] * 3, atol=0.6 * size / 28,
                                           err_msg=name)

    def test_patients_never_cross_splits_and_ratios_are_7_1_2(self):
        patients = {s: {self.manifest["masks"][n]["patient"] for n in self.side[28]["source_ids"][s]} for s in SPLITS}
        self.assertFalse(patients["train"] & patients["val"] or patients["train"] & patients["test"]
                         or patients["val"] & patients["test"])
        self.assertEqual([len(patients[s]) for s in SPLITS], [21, 3, 6])  # 30 patients, 2 glands each

    def test_official_loader_reads_every_split(self):
        for size in SIZES:
            for split in SPLITS:
                n = len(self.side[size]["source_ids"][split])
                img, target = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, n_samples=n)[0]
                self.assertEqual(img.shape, (1, size, size, size))
                self.assertEqual(set(np.unique(img)) <= {0.0, 1.0}, True)


class Variants(TempDirTest):
    def build(self, *extra, check=True):
        return run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", *extra, check=check)

    def test_identical_bytes_for_one_and_two_threads(self):
        fixture.generate(self.tmp / "src", patients=10)
        for threads in (1, 2):
            run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / f"t{threads}", "--threads", threads, "-q")
        for size in SIZES:
            self.assertEqual(sha256(self.tmp / "t1" / npz_name(FLAG, size)), sha256(self.tmp / "t2" / npz_name(FLAG, size)))

    def test_truncated_mask_fails_naming_the_file_and_skip_records_it(self):
        m = fixture.generate(self.tmp / "src", patients=8, truncate="P0003_L.nii.gz")
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("masks/P0003_L.nii.gz", proc.stderr)
        self.assertIn("truncated or corrupt gzip stream", proc.stderr)
        self.build("--on-error", "skip", "--sizes", "28")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual([s["input"] for s in side["skipped"]], ["masks/P0003_L.nii.gz"])
        self.assertEqual(sum(len(side["source_ids"][s]) for s in SPLITS), len(m["masks"]) - 1)

    def test_empty_mask_is_a_named_error(self):
        import nibabel as nib
        m = fixture.generate(self.tmp / "src", patients=6)
        path = self.tmp / "src" / m["masks"]["masks/P0002_R.nii.gz"]["path"]
        img = nib.load(str(path))
        nib.save(nib.Nifti1Image(np.zeros(img.shape, dtype=np.uint8), img.affine), str(path))
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("masks/P0002_R.nii.gz: empty mask", proc.stderr)

    def test_malformed_csv_row_names_file_and_line(self):
        fixture.generate(self.tmp / "src", patients=6)
        csv = self.tmp / "src" / "adrenal_labels.csv"
        lines = csv.read_text().splitlines()
        lines[4] = lines[4].rsplit(",", 1)[0] + ",enlarged"
        csv.write_text("\n".join(lines) + "\n")
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("adrenal_labels.csv:5: unknown label 'enlarged'", proc.stderr)

    def test_check_names_a_missing_file_and_an_unexpected_one(self):
        m = fixture.generate(self.tmp / "src", patients=6)
        (self.tmp / "src" / "masks" / "P0004_R.nii.gz").unlink()
        (self.tmp / "src" / "masks" / "stray.nii.gz").write_bytes((self.tmp / "src" / "masks" / "P0001_L.nii.gz").read_bytes())
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing: masks/P0004_R.nii.gz", proc.stdout)
        self.assertIn("unexpected: masks/stray.nii.gz", proc.stdout)
        self.assertIn("count train:", proc.stdout)
        self.assertEqual(len(m["masks"]), 12)


if __name__ == "__main__":
    unittest.main()
