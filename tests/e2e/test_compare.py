"""Pillow-exact resize kernels per size, and `medmnist-build compare`, on a generated BUSI tree.

The "official-like" file is made here with Debian's Pillow exactly as MedMNIST v1 describes its
recipe (PIL image -> torchvision Resize = Image.resize(BILINEAR)), in the order of our sidecar.
"""
import hashlib
import json
import pathlib
import shutil
import tempfile
import unittest

import numpy as np
from PIL import Image

from mmbtest import INFO, SPLITS, load_npz, load_tool, npz_name, run, sidecar, write_index_map

FLAG = "breastmnist"
fixture = load_tool("make_busi_fixture")


def pillow_file(src, manifest, side, size, path, resample=Image.BILINEAR, labels=None):
    """Every sample of our sidecar, resized by Pillow from its source PNG; saved like the official files."""
    arrays = {}
    for split in SPLITS:
        imgs = []
        for name in side["source_ids"][split]:
            with Image.open(src / manifest["images"][name]["path"]) as im:
                imgs.append(np.asarray(im.convert("L").resize((size, size), resample)))
        arrays[f"{split}_images"] = np.stack(imgs).astype(np.uint8)
        arrays[f"{split}_labels"] = labels[f"{split}_labels"].copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


def compare(*args, check=False):
    proc = run("compare", *args, "--json", check=check)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None, proc


class BusiCompare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-compare-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.src = cls.root / "src"
        cls.manifest = fixture.generate(cls.src)
        run("build", FLAG, "--source", cls.src, "--out", cls.root / "pil", "--sizes", "28,64", "-q")
        run("build", FLAG, "--source", cls.src, "--out", cls.root / "spline", "--sizes", "28", "-q",
            "--set", "preprocess.resize_kernel=spline")
        cls.ours = cls.root / "pil" / npz_name(FLAG, 28)
        cls.side = sidecar(cls.root / "pil", FLAG, 28)
        cls.arrays = load_npz(cls.ours)[0]
        cls.official = cls.root / "official" / npz_name(FLAG, 28)
        cls.official_arrays = pillow_file(cls.src, cls.manifest, cls.side, 28, cls.official, labels=cls.arrays)
        cls.index_map = cls.root / "breastmnist.csv"
        write_index_map(cls.index_map, [(s, i, n) for s in SPLITS for i, n in enumerate(cls.side["source_ids"][s])])

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def derived(self, name, change):
        """A copy of the official-like file with change(arrays) applied."""
        arrays = {k: v.copy() for k, v in self.official_arrays.items()}
        change(arrays)
        path = self.root / name / npz_name(FLAG, 28)
        path.parent.mkdir()
        np.savez_compressed(path, **arrays)
        return path

    def test_default_build_is_pillow_bilinear_at_every_size_with_zero_differing_pixels(self):
        for size in (28, 64):
            ours = load_npz(self.root / "pil" / npz_name(FLAG, size))[0]
            ref = pillow_file(self.src, self.manifest, self.side, size, self.root / "ref" / f"{size}.npz",
                              labels=ours)
            for split in SPLITS:
                diff = np.count_nonzero(ours[f"{split}_images"] != ref[f"{split}_images"])
                self.assertEqual(diff, 0, (size, split))

    def test_identical_arrays_exit_0_and_report_info_counts_and_md5(self):
        code, report, proc = compare(self.ours, self.official)
        self.assertEqual(code, 0, proc.stderr)
        self.assertTrue(report["identical"])
        self.assertEqual(report["agreement"]["all"]["identical_share"], 1.0)
        self.assertIsNone(report["agreement"]["all"]["psnr_db"])
        self.assertEqual(report["pairing"]["method"], "position")
        for split in SPLITS:
            self.assertEqual(report["counts"][split]["info"], INFO[FLAG]["n_samples"][split])
            self.assertEqual(report["counts"][split]["ours"], len(self.side["source_ids"][split]))
        ours = report["files"]["ours"]
        self.assertEqual(ours["info_md5"], INFO[FLAG]["files"]["28"]["md5"])
        self.assertEqual(ours["md5"], hashlib.md5(self.ours.read_bytes()).hexdigest())
        self.assertFalse(ours["md5_matches_info"])
        self.assertEqual(report["orientation"]["best"], "identity")
        self.assertFalse(report["orientation"]["suspect"])

    def test_kernels_names_pil_bilinear_for_a_pillow_bilinear_file(self):
        spline = self.root / "spline" / npz_name(FLAG, 28)
        code, report, proc = compare(spline, self.official, "--index-map", self.index_map, "--kernels",
                                     "--source", self.src, "--samples", 12)
        self.assertEqual(code, 1, proc.stderr)
        self.assertFalse(report["identical"])
        self.assertEqual(report["pairing"]["method"], "id")
        self.assertGreater(report["agreement"]["all"]["mean_abs_diff"], 0)
        kernels = {r["kernel"]: r for r in report["kernels"]["results"]}
        self.assertEqual(report["kernels"]["best"], "pil-bilinear")
        self.assertEqual(kernels["pil-bilinear"]["identical_share"], 1.0)
        self.assertEqual(kernels["pil-bilinear"]["max_diff"], 0)
        self.assertGreater(kernels["spline"]["mean_abs_diff"], 0)
        self.assertEqual(report["kernels"]["samples"], 12)

    def test_a_transposed_copy_is_flagged(self):
        other = self.derived("transposed", lambda a: [a.__setitem__(f"{s}_images", np.ascontiguousarray(
            a[f"{s}_images"].transpose(0, 2, 1))) for s in SPLITS])
        code, report, proc = compare(self.ours, other)
        self.assertEqual(code, 1, proc.stderr)
        self.assertEqual(report["orientation"]["best"], "transpose")
        self.assertTrue(report["orientation"]["suspect"])
        by_name = {c["orientation"]: c["mean_abs_diff"] for c in report["orientation"]["candidates"]}
        self.assertEqual(by_name["transpose"], 0.0)
        self.assertGreater(by_name["identity"], 1.0)
        text = run("compare", self.ours, other, check=False).stdout
        self.assertIn("OTHER looks reoriented", text)

    def test_a_swapped_label_is_reported_by_id(self):
        victim = 3
        name = self.side["source_ids"]["train"][victim]

        def swap(a):
            a["train_labels"][victim, 0] = 1 - a["train_labels"][victim, 0]
        other = self.derived("swapped", swap)
        code, report, proc = compare(self.ours, other, "--index-map", self.index_map)
        self.assertEqual(code, 1, proc.stderr)
        agreement = report["agreement"]
        self.assertEqual(agreement["label_disagreements"], 1)
        listed = agreement["label_disagreements_listed"][0]
        self.assertEqual((listed["sample"], listed["split"]), (name, "train"))
        self.assertEqual(listed["ours"], [int(self.arrays["train_labels"][victim, 0])])
        self.assertEqual(agreement["all"]["identical_share"], 1.0)  # the pixels still agree
        old = int(self.arrays["train_labels"][victim, 0])
        row = report["classes"][old]["train"]
        self.assertEqual((row["ours"] - row["other"], row["diff"]), (1, 1))
        text = run("compare", self.ours, other, "--index-map", self.index_map, check=False).stdout
        self.assertIn(name, text)

    def test_shuffled_samples_without_ids_are_matched_by_nearest_neighbour(self):
        rng = np.random.default_rng(5)

        def shuffle(a):
            for s in SPLITS:
                order = rng.permutation(len(a[f"{s}_labels"]))
                a[f"{s}_images"], a[f"{s}_labels"] = a[f"{s}_images"][order], a[f"{s}_labels"][order]
        other = self.derived("shuffled", shuffle)
        code, report, proc = compare(self.ours, other)
        self.assertEqual(code, 1, proc.stderr)
        self.assertTrue(report["pairing"]["method"].startswith("nearest neighbour"))
        self.assertGreater(report["pairing"]["unambiguous_share"], 0.9)
        self.assertEqual(report["agreement"]["all"]["identical_share"], 1.0)

    def test_set_resize_kernel_overrides_every_size(self):
        out = self.root / "nearest"
        run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28,64", "-q",
            "--set", "preprocess.resize_kernel=pil-nearest")
        for size in (28, 64):
            ours = load_npz(out / npz_name(FLAG, size))[0]
            ref = pillow_file(self.src, self.manifest, self.side, size, self.root / "nref" / f"{size}.npz",
                              resample=Image.NEAREST, labels=ours)
            self.assertTrue(all((ours[f"{s}_images"] == ref[f"{s}_images"]).all() for s in SPLITS), size)

    def test_bad_input_is_named(self):
        proc = run("compare", self.ours, self.root / "missing.npz", check=False)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("missing.npz", proc.stderr)
        self.assertEqual(run("compare", self.ours, check=False).returncode, 2)


class VolumeOrientation(unittest.TestCase):
    """3D: an axis permutation of OTHER is named in np.transpose terms."""

    def test_a_permuted_volume_file_is_flagged_with_the_axes_that_undo_it(self):
        rng = np.random.default_rng(3)
        z, y, x = np.mgrid[0:28, 0:28, 0:28]
        arrays = {}
        for split, n in zip(SPLITS, (6, 2, 2)):
            vols = [np.clip(40 + 6 * z + 2 * y + (x > 5 + k) * 60 + rng.normal(0, 3, z.shape), 0, 255)
                    for k in range(n)]
            arrays[f"{split}_images"] = np.stack(vols).astype(np.uint8)
            arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
        with tempfile.TemporaryDirectory(prefix="mmb-compare3d-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "a").mkdir(), (tmp / "b").mkdir()
            np.savez(tmp / "a/vesselmnist3d.npz", **arrays)
            permuted = {k: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) if k.endswith("images") else v
                        for k, v in arrays.items()}  # each volume np.transpose(v, (1, 2, 0))
            np.savez(tmp / "b/vesselmnist3d.npz", **permuted)
            code, report, proc = compare(tmp / "a/vesselmnist3d.npz", tmp / "b/vesselmnist3d.npz")
        self.assertEqual(code, 1, proc.stderr)
        self.assertEqual(report["orientation"]["best"], "np.transpose(v, (2,0,1))")  # undoes (1, 2, 0)
        self.assertTrue(report["orientation"]["suspect"])
        self.assertEqual(len(report["orientation"]["candidates"]), 6)
        self.assertEqual(report["files"]["ours"]["info_md5"], INFO["vesselmnist3d"]["files"]["28"]["md5"])


if __name__ == "__main__":
    unittest.main()
