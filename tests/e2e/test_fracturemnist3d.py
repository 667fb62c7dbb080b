"""FractureMNIST3D end to end on generated RibFrac trees (tools/fixtures/make_ribfrac_fixture.py)."""
import pathlib
import shutil
import tempfile
import unittest

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import INFO, TempDirTest, labelled_samples, load_npz, load_tool, nearest_centroid_accuracy, npz_name, run, sha256, sidecar

FLAG = "fracturemnist3d"
SIZES = [28, 64]
SPLITS = ("train", "val", "test")
fixture = load_tool("make_ribfrac_fixture")


def kept_instances(manifest):
    """{split: sorted ids} of the instances the converter must keep."""
    out = {s: [] for s in SPLITS}
    for name, inst in manifest["instances"].items():
        if inst["label"] is not None and inst["in_volume"] and inst["in_csv"]:
            out[manifest["scans"][inst["scan"]]["split"]].append(name)
    return {s: sorted(ids) for s, ids in out.items()}


class RibFracTree(unittest.TestCase):
    """One fixture (with test labels), built once at both sizes with 2 threads."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-ribfrac-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src")
        cls.result = run("build", FLAG, "--source", cls.root / "src", "--out", cls.root / "out", "--threads", 2)
        cls.files = {s: load_npz(cls.root / "out" / npz_name(FLAG, s)) for s in SIZES}
        cls.side = {s: sidecar(cls.root / "out", FLAG, s) for s in SIZES}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def samples(self, size):
        """(id, image, label) for every output sample of a size."""
        return [(sid, img, label) for _, sid, img, label in labelled_samples(self.files[size][0], self.side[size])]

    def test_keys_shapes_and_dtypes_at_28_and_64(self):
        kept = kept_instances(self.manifest)
        for size, (arrays, keys) in self.files.items():
            self.assertEqual(keys, [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")])
            for split in SPLITS:
                self.assertEqual(arrays[f"{split}_images"].dtype, np.uint8)
                self.assertEqual(arrays[f"{split}_labels"].dtype, np.uint8)
                self.assertEqual(arrays[f"{split}_images"].shape, (len(kept[split]), size, size, size))
                self.assertEqual(arrays[f"{split}_labels"].shape, (len(kept[split]), 1))

    def test_label_names_equal_info(self):
        labels = self.side[28]["manifest"]["content"]["dataset"]["labels"]
        self.assertEqual({str(i): n for i, n in enumerate(labels)}, INFO[FLAG]["label"])

    def test_codes_3_2_1_become_labels_0_1_2_and_4_and_minus_1_are_dropped(self):
        for name, _, label in self.samples(28):
            self.assertEqual(label, 3 - self.manifest["instances"][name]["code"], name)
        ids = {name for name, _, _ in self.samples(28)}
        dropped = {n for n, i in self.manifest["instances"].items() if i["code"] in (4, -1)}
        self.assertTrue(dropped)
        self.assertFalse(ids & dropped)

    def test_official_split_by_public_id_and_scans_never_cross_splits(self):
        kept = kept_instances(self.manifest)
        ranges = {"train": (1, 420), "val": (421, 500), "test": (501, 660)}
        scans = {}
        for split in SPLITS:
            self.assertEqual(self.side[28]["source_ids"][split], kept[split])
            for name in self.side[28]["source_ids"][split]:
                number = int(name.split("-")[0][len("RibFrac"):])
                lo, hi = ranges[split]
                self.assertTrue(lo <= number <= hi, name)
                self.assertEqual(scans.setdefault(name.split("-")[0], split), split)

    def test_labels_stay_with_their_samples(self):
        # Each fracture's class is drawn as its ball's size; decode it back from both sizes.
        for size in SIZES:
            for name, img, label in self.samples(size):
                self.assertEqual(fixture.decode_label(img), label, f"{name} at {size}")
        # And without the fixture's decoder: nearest centroid on the central 10^3
        # (the rest of a crop is anatomy and fill, unrelated to the class).
        arrays, _ = self.files[28]
        centre = np.s_[:, 9:19, 9:19, 9:19]
        for split in ("val", "test"):
            acc = nearest_centroid_accuracy(arrays["train_images"][centre], arrays["train_labels"][:, 0],
                                            arrays[f"{split}_images"][centre], arrays[f"{split}_labels"][:, 0])
            self.assertEqual(acc, 1.0, split)

    def test_crop_is_centred_on_the_instance(self):
        # The ball's bright voxels (>= 170, ~600 HU) sit at the output centre,
        # whatever the scan's spacing and axis flips.
        for size in SIZES:
            centre = (size - 1) / 2.0
            for name, img, _ in self.samples(size):
                bright = np.argwhere(img >= 170)
                near = bright[np.linalg.norm(bright - centre, axis=1) < 12 * size / 64]
                np.testing.assert_allclose(near.mean(axis=0), [centre] * 3, atol=0.35 * size / 28, err_msg=name)

    def test_crop_reaching_outside_the_scan_is_filled_with_air(self):
        # RibFrac1-1 sits 9 mm above the first slice (1.25 mm): 64 mm crop slices
        # k < 32 - 0.5 - (7.2 + 0.5) / 0.8 = 21.9 lie outside the scan and hold
        # the -1024 HU fill, 0 after the window. Every voxel inside the scan is
        # > -200 HU, so > 0, except a few where the cubic spline rings below
        # -200 HU next to the 1300 HU ball.
        arrays, _ = self.files[64]
        img = arrays["train_images"][self.side[64]["source_ids"]["train"].index("RibFrac1-1")]
        self.assertTrue((img[:22] == 0).all())
        self.assertTrue((img[22] > 0).all())
        self.assertLess(np.count_nonzero(img[22:] == 0), 0.001 * img[22:].size)

    def test_mismatches_between_csv_and_label_volume_are_reported(self):
        warnings = "\n".join(self.side[28]["warnings"])
        self.assertIn("RibFrac1: label_id 6 (ribfrac-train-info-1.csv:8) is not in RibFrac1-label.nii.gz", warnings)
        self.assertIn("RibFrac301: instance 4 of RibFrac301-label.nii.gz has no row in the info CSVs", warnings)
        self.assertIn("1 segmental (code 4), 1 ignore (code -1)", warnings)

    def test_official_loader_reads_every_split(self):
        kept = kept_instances(self.manifest)
        for size in SIZES:
            for split in SPLITS:
                ds = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, n_samples=len(kept[split]))
                img, target = ds[0]
                self.assertEqual(img.shape, (1, size, size, size))
                self.assertLessEqual(img.max(), 1.0)
                self.assertEqual(target.shape, (1,))

    def test_each_scan_is_read_once_for_all_its_fractures(self):
        # Samples of a scan are consecutive in each split (units are contiguous).
        for split in SPLITS:
            scans = [n.split("-")[0] for n in self.side[28]["source_ids"][split]]
            self.assertEqual(scans, sorted(scans, key=scans.index))


def fracnet_crop(arr, centroid, n=64):
    """FracNet's _crop_roi (github.com/M3DV/FracNet dataset/fracnet_dataset.py): n^3 voxels from
    round(c) - n // 2 (Python round, half to even), -1024 where the cube leaves the array."""
    c = [round(float(v)) for v in centroid]
    roi = np.full((n, n, n), -1024.0)
    src = [slice(max(0, c[i] - n // 2), min(arr.shape[i], c[i] + n // 2)) for i in range(3)]
    dst = [slice(max(0, n // 2 - c[i]), min(arr.shape[i] - (c[i] - n // 2), n)) for i in range(3)]
    roi[tuple(dst)] = arr[tuple(src)]
    return roi


class VoxelSpaceCrop(TempDirTest):
    def test_voxel_crop_equals_fracnets_crop_roi_windowed(self):
        import nibabel as nib
        m = fixture.generate(self.tmp / "src")
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", "--sizes", "28,64",
            "--set", "preprocess.crop_space=voxel")
        arrays, side = load_npz(self.tmp / "out" / npz_name(FLAG, 64))[0], sidecar(self.tmp / "out", FLAG, 64)
        checked = 0
        for _, sid, img, _ in labelled_samples(arrays, side):
            inst = m["instances"][sid]
            scan = m["scans"][inst["scan"]]
            image = np.asanyarray(nib.load(self.tmp / "src" / scan["image"]).dataobj).astype(np.float64)
            labels = np.asanyarray(nib.load(self.tmp / "src" / scan["label"]).dataobj)
            centroid = np.argwhere(labels == inst["label_id"]).mean(axis=0)  # skimage regionprops' centroid
            gray = np.rint(np.clip((fracnet_crop(image, centroid) + 200.0) / 1200.0 * 255.0, 0, 255)).astype(np.uint8)
            np.testing.assert_array_equal(img, gray.transpose(2, 1, 0), err_msg=sid)
            checked += 1
        self.assertGreater(checked, 5)
        # The default (64 mm cube) differs from it on anisotropic scans.
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "mm", "-q", "--sizes", "64")
        self.assertNotEqual(sha256(self.tmp / "mm" / npz_name(FLAG, 64)), sha256(self.tmp / "out" / npz_name(FLAG, 64)))

    def test_unknown_crop_space_is_a_named_error(self):
        fixture.generate(self.tmp / "src")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q",
                   "--set", "preprocess.crop_space=inch", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("inch", proc.stderr)


class Variants(TempDirTest):
    def build(self, *extra, check=True):
        return run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", *extra, check=check)

    def test_identical_bytes_for_one_and_two_threads(self):
        fixture.generate(self.tmp / "src")
        for threads in (1, 2):
            run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / f"t{threads}", "--threads", threads, "-q")
        for size in SIZES:
            self.assertEqual(sha256(self.tmp / "t1" / npz_name(FLAG, size)), sha256(self.tmp / "t2" / npz_name(FLAG, size)))

    def test_without_test_labels_the_test_split_is_empty_and_noted(self):
        fixture.generate(self.tmp / "src", test_info=False)
        self.build("--sizes", "28")
        arrays, _ = load_npz(self.tmp / "out" / npz_name(FLAG, 28))
        self.assertEqual(arrays["test_images"].shape, (0, 28, 28, 28))
        self.assertEqual(arrays["test_labels"].shape, (0, 1))
        warnings = "\n".join(sidecar(self.tmp / "out", FLAG, 28)["warnings"])
        self.assertIn("the test split is empty; 1 test scans are unused", warnings)

    def test_truncated_image_fails_naming_the_file(self):
        fixture.generate(self.tmp / "src", truncate="RibFrac421-image.nii.gz")
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("ribfrac-val-images/RibFrac421-image.nii.gz", proc.stderr)
        self.assertIn("truncated or corrupt gzip stream", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])

    def test_truncated_image_is_recorded_and_skipped_with_on_error_skip(self):
        m = fixture.generate(self.tmp / "src", truncate="RibFrac421-image.nii.gz")
        self.build("--on-error", "skip", "--sizes", "28")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual({s["input"] for s in side["skipped"]}, {"ribfrac-val-images/RibFrac421-image.nii.gz"})
        self.assertEqual(len(side["skipped"]), len(kept_instances(m)["val"]))  # one entry per fracture of the scan
        self.assertEqual(side["source_ids"]["val"], [])
        self.assertEqual(side["source_ids"]["train"], kept_instances(m)["train"])

    def test_truncated_label_volume_is_a_named_problem(self):
        fixture.generate(self.tmp / "src", truncate="RibFrac301-label.nii.gz")
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ribfrac-train-labels-2/Part2/RibFrac301-label.nii.gz", proc.stderr)
        self.build("--on-error", "skip", "--sizes", "28")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual([s["input"] for s in side["skipped"]], ["ribfrac-train-labels-2/Part2/RibFrac301-label.nii.gz"])
        self.assertFalse(any(n.startswith("RibFrac301-") for n in side["source_ids"]["train"]))

    def test_malformed_csv_row_names_file_and_line(self):
        fixture.generate(self.tmp / "src")
        csv = self.tmp / "src" / "ribfrac-val-info.csv"
        lines = csv.read_text().splitlines()
        lines[2] = lines[2].replace(",1,", ",x,")  # RibFrac421,1,2 -> bad label_id
        csv.write_text("\n".join(lines) + "\n")
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ribfrac-val-info.csv:3", proc.stderr)

    def test_check_names_a_missing_file(self):
        fixture.generate(self.tmp / "src")
        (self.tmp / "src" / "ribfrac-val-images" / "RibFrac421-image.nii.gz").unlink()
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing: RibFrac421-image.nii.gz", proc.stdout)
        self.assertIn("note: RibFrac1: label_id 6", proc.stdout)

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src")
        kept = kept_instances(m)
        names = kept["train"][::-1][:-1] + kept["test"]
        rows = ["split,index,image_id"] + [f"{'train' if n in kept['train'] else 'test'},{i},{n}" for i, n in enumerate(names)]
        (self.tmp / "map.csv").write_text("\n".join(rows) + "\n")
        self.build("--sizes", "64", "--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 64)
        self.assertEqual(side["source_ids"]["train"], kept["train"][::-1][:-1])
        arrays, _ = load_npz(self.tmp / "out" / npz_name(FLAG, 64))
        for name, img in zip(side["source_ids"]["train"], arrays["train_images"]):
            self.assertEqual(fixture.decode_label(img), m["instances"][name]["label"], name)

    def test_junk_and_inner_folders_are_tolerated(self):
        fixture.generate(self.tmp / "src")
        nested = self.tmp / "nested" / "downloads"
        nested.parent.mkdir()
        shutil.move(str(self.tmp / "src"), str(nested))
        proc = run("check", FLAG, "--source", self.tmp / "nested")
        self.assertIn("0 missing, 0 unexpected, 0 unreadable, 0 malformed entries", proc.stdout)


if __name__ == "__main__":
    unittest.main()
