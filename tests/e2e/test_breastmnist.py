"""BreastMNIST end to end on generated BUSI trees (tools/fixtures/make_busi_fixture.py)."""
import unittest

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import (INFO, SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_check_missing,
                     assert_failed_naming, assert_index_map_applied, assert_label_names_equal_info,
                     assert_official_loader_reads, assert_skipped, load_npz, load_tool, nearest_centroid_accuracy, run,
                     sidecar, write_reorder_and_drop_map)

FLAG = "breastmnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_busi_fixture")


def expected_ids(manifest):
    return {s: sorted(n for n, img in manifest["images"].items() if img["split"] == s) for s in SPLITS}


def build(src, out, *extra, check=True):
    return run("build", FLAG, "--source", src, "--out", out, "--sizes", "28", "-q", *extra, check=check)


class BusiDefaultTree(BuiltOnceAtEverySize, unittest.TestCase):
    """The default tree (RGB-encoded and L PNGs of varying, mostly non-square sizes, masks), built once."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-breast-"
    WITH_KEYS = True

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src)

    def test_every_size_has_gray_uint8_images_and_n_by_1_labels(self):
        expected = expected_ids(self.manifest)
        for size, (arrays, keys) in self.files.items():
            assert_arrays(self, arrays, size, [len(expected[s]) for s in SPLITS], rgb=False, keys=keys)

    def test_label_names_equal_info_and_malignant_is_0(self):
        source = assert_label_names_equal_info(self, FLAG)["source"]
        self.assertEqual(dict(zip(source["class_folders"], source["class_labels"])), fixture.LABEL_OF_CLASS)

    def test_splits_follow_the_image_level_seeded_rule(self):
        self.assertEqual(self.side["source_ids"], expected_ids(self.manifest))
        self.assertIn("by image", self.side["parameters"]["split_rule"])

    def test_masks_are_never_samples(self):
        ids = sum((self.side["source_ids"][s] for s in SPLITS), [])
        self.assertEqual(sorted(ids), sorted(self.manifest["images"]))
        self.assertFalse([i for i in ids if "_mask" in i])
        suffixes = {m.rsplit(")", 1)[1] for m in self.manifest["masks"]}
        self.assertEqual(suffixes, {"_mask.png", "_mask_1.png", "_mask_2.png"})
        self.assertIn(f"{len(self.manifest['masks'])} mask files skipped", self.side["warnings"])

    def test_labels_stay_with_their_images(self):
        arrays = self.files[28][0]
        train_x, train_y = arrays["train_images"], arrays["train_labels"][:, 0]
        self.assertEqual(set(train_y), {0, 1})
        for split in SPLITS:
            x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0]
            self.assertEqual(nearest_centroid_accuracy(train_x, train_y, x, y), 1.0, split)
            self.assertEqual([fixture.decode_28(img) for img in x], y.tolist())
            self.assertEqual(y.tolist(), [self.manifest["images"][n]["label"] for n in self.side["source_ids"][split]])

    def test_official_loader_reads_every_size_as_gray(self):
        expected = expected_ids(self.manifest)
        assert_official_loader_reads(self, FLAG, self.root / "out", [len(expected[s]) for s in SPLITS], SIZES, "L", also_as_rgb=True)

    def test_non_square_images_are_resized_whole_without_crop(self):
        # Wide images (w >= 1.7 h) have their label bar outside the centre square.
        wide = {n for n, img in self.manifest["images"].items() if img["wide"]}
        self.assertGreaterEqual(len(wide), 5)
        self.assertTrue(all(img["size"][0] != img["size"][1] for n, img in self.manifest["images"].items() if n in wide))
        build(self.root / "src", self.root / "cropped", "--set", "preprocess.crop=center_square")
        cropped = load_npz(self.root / "cropped" / "breastmnist.npz")[0]
        for split in SPLITS:
            for i, name in enumerate(self.side["source_ids"][split]):
                if name in wide:
                    bars = lambda a: max(a[4:24, 2:5].mean(), a[4:24, 23:26].mean())  # noqa: E731
                    self.assertGreater(bars(self.files[28][0][f"{split}_images"][i]), 150, name)
                    self.assertLess(bars(cropped[f"{split}_images"][i]), 110, name)

    def test_gray_stored_as_rgb_gives_the_same_output_as_gray(self):
        modes = {img["mode"] for img in self.manifest["images"].values()}
        self.assertEqual(modes, {"RGB", "L"})
        gray = fixture.generate(self.root / "gray", modes="L")
        self.assertEqual({img["mode"] for img in gray["images"].values()}, {"L"})
        build(self.root / "gray", self.root / "gray-out")
        same = load_npz(self.root / "gray-out" / "breastmnist.npz")[0]
        for key, array in self.files[28][0].items():
            np.testing.assert_array_equal(same[key], array, key)


class CountsAndLayouts(TempDirTest):
    def test_780_images_split_into_the_official_546_78_156(self):
        m = fixture.generate(self.tmp / "src", counts=fixture.REAL_COUNTS, tiny=True)
        self.assertEqual(len(m["images"]), 780)
        proc = run("check", FLAG, "--source", self.tmp / "src")
        for split, n in (("train", 546), ("val", 78), ("test", 156)):
            self.assertIn(f"count {split}: {n} (MedMNIST: {n})\n", proc.stdout)
        self.assertNotIn("differs", proc.stdout)
        build(self.tmp / "src", self.tmp / "out")
        for split in SPLITS:  # the official loader's n_samples assertion passes with INFO's counts
            self.assertEqual(len(OfficialLoader(INFO, FLAG, split, str(self.tmp / "out"))), INFO[FLAG]["n_samples"][split])

    def test_tree_nested_one_folder_deeper_is_found(self):
        m = fixture.generate(self.tmp / "src", counts=(5, 4, 3), wrapper="archive")
        build(self.tmp / "src", self.tmp / "out")
        self.assertEqual(sidecar(self.tmp / "out", FLAG, 28)["source_ids"], expected_ids(m))
        self.assertIn("layout: BUSI (archive/Dataset_BUSI_with_GT/{benign,malignant,normal})",
                      run("check", FLAG, "--source", self.tmp / "src").stdout)

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", counts=(8, 6, 4))
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", m["images"], index=lambda i: i // 3)
        build(self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 28)
        arrays = load_npz(self.tmp / "out" / "breastmnist.npz")[0]
        assert_index_map_applied(self, side, kept, m["images"], arrays, lambda n: m["images"][n]["label"],
                                 fixture.decode_28)


class BadInput(TempDirTest):
    def test_check_names_a_deleted_image_by_its_mask_and_exits_1(self):
        m = fixture.generate(self.tmp / "src", counts=(6, 4, 3))
        (self.tmp / "src" / m["images"]["benign (3).png"]["path"]).unlink()
        assert_check_missing(self, FLAG, self.tmp / "src", "benign (3).png\n")
        self.assertEqual(build(self.tmp / "src", self.tmp / "out", check=False).returncode, 1)

    def test_png_outside_the_class_folders_is_reported_unexpected(self):
        m = fixture.generate(self.tmp / "src", counts=(3, 3, 3))
        stray = self.tmp / "src" / m["busi_dir"] / "preview.png"
        stray.write_bytes((self.tmp / "src" / m["images"]["benign (1).png"]["path"]).read_bytes())
        proc = run("check", FLAG, "--source", self.tmp / "src")
        self.assertIn(f"unexpected: {m['busi_dir']}/preview.png\n", proc.stdout)

    def test_truncated_png_fails_naming_the_file(self):
        m = fixture.generate(self.tmp / "src", counts=(6, 4, 3), truncate="malignant (2).png")
        assert_failed_naming(self, build(self.tmp / "src", self.tmp / "out", check=False), self.tmp / "out",
                             f"{m['images']['malignant (2).png']['path']}: truncated PNG")

    def test_truncated_png_is_recorded_and_skipped_with_on_error_skip(self):
        m = fixture.generate(self.tmp / "src", counts=(6, 4, 3), truncate="malignant (2).png")
        build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", FLAG, [m["images"]["malignant (2).png"]["path"]], "truncated PNG")
        self.assertEqual(sorted(all_ids(side)), sorted(set(m["images"]) - {"malignant (2).png"}))


if __name__ == "__main__":
    unittest.main()
