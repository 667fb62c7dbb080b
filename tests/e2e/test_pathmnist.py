"""PathMNIST end to end on generated Kather trees (tools/fixtures/make_kather_fixture.py)."""
import unittest

import numpy as np
from PIL import Image

from mmbtest import (assert_per_class_cut, SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_check_missing,
                     assert_failed_naming, assert_index_map_applied, assert_label_names_equal_info,
                     assert_official_loader_reads, assert_skipped, load_npz, load_tool, nearest_centroid_accuracy,
                     npz_name, run, sidecar, split_counts, truncated_build, write_index_map, write_reorder_and_drop_map)

FLAG = "pathmnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_kather_fixture")


class ZenodoLayoutWithEveryQuirk(BuiltOnceAtEverySize, unittest.TestCase):
    """Doubly nested 100K set, 7K set, the NONORM copy, a wrapper-less class folder at the root,
    __MACOSX and .DS_Store junk; built once at every size."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-path-"

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src, nonorm=True, stray_root=True)

    def image(self, name):
        return self.manifest["images"][name]

    def test_shapes_rgb_channels_and_uint8_at_every_size(self):
        for size, arrays in self.files.items():
            assert_arrays(self, arrays, size, split_counts(self.side), rgb=True, keys=arrays)

    def test_label_names_equal_info(self):
        assert_label_names_equal_info(self, FLAG)

    def test_7k_is_test_and_100k_is_split_9_to_1_image_by_image(self):
        ids = self.side["source_ids"]
        test = sorted(n for n, i in self.manifest["images"].items() if i["split"] == "test")
        train_val = sorted(n for n, i in self.manifest["images"].items() if i["split"] == "train_val")
        self.assertEqual(ids["test"], test)
        self.assertEqual(sorted(ids["train"] + ids["val"]), train_val)
        assert_per_class_cut(self, self.side, lambda i: self.manifest["images"][i]["label"], [9, 1, 0],
                             splits=("train", "val"))
        self.assertIn("per class, image by image", self.side["parameters"]["split_rule"])

    def test_labels_follow_the_class_folders_and_stay_with_their_images(self):
        arrays = self.files[28]
        for split in SPLITS:
            expected = [self.image(n)["label"] for n in self.side["source_ids"][split]]
            np.testing.assert_array_equal(arrays[f"{split}_labels"][:, 0], expected)
            self.assertEqual([fixture.decode_28(img) for img in arrays[f"{split}_images"]], expected)
        acc = nearest_centroid_accuracy(arrays["train_images"], arrays["train_labels"][:, 0],
                                        arrays["test_images"], arrays["test_labels"][:, 0])
        self.assertEqual(acc, 1.0)

    def test_224_is_the_source_tiff_pixels_unchanged(self):
        for split in SPLITS:
            for i, name in enumerate(self.side["source_ids"][split]):
                with Image.open(self.src / self.image(name)["path"]) as tif:
                    np.testing.assert_array_equal(self.files[224][f"{split}_images"][i], np.asarray(tif.convert("RGB")))

    def test_nonorm_copy_stray_root_folder_and_junk_are_not_used(self):
        used = set(all_ids(self.side))
        self.assertEqual(used, set(self.manifest["images"]))
        self.assertFalse(used & set(self.manifest["stray_images"]))
        warnings = "\n".join(self.side["warnings"])
        self.assertIn("NCT-CRC-HE-100K-NONORM present but not used", warnings)
        self.assertIn("2 images in class folders outside", warnings)
        self.assertEqual(self.side["skipped"], [])  # __MACOSX/._*.tif and .DS_Store were never read

    def test_check_lists_the_stray_images_as_unexpected(self):
        out = run("check", FLAG, "--source", self.src).stdout
        for image in self.manifest["stray_images"].values():
            self.assertIn("unexpected: " + image["path"], out)

    def test_official_loader_reads_every_size_as_rgb(self):
        assert_official_loader_reads(self, FLAG, self.root / "out", split_counts(self.side), SIZES, "RGB")


class SetsAndIds(TempDirTest):
    def build(self, *extra, source=None, sizes="28"):
        run("build", FLAG, "--source", source or self.tmp / "src", "--out", self.tmp / "out", "--sizes", sizes, "-q",
            *extra)
        return sidecar(self.tmp / "out", FLAG, int(sizes))

    def test_nonorm_alone_is_refused_naming_the_folder(self):
        fixture.generate(self.tmp / "src", normalised=False, nonorm=True, train_per_class=1, test_per_class=1)
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("NCT-CRC-HE-100K-NONORM: this is NCT-CRC-HE-100K-NONORM, the unnormalised copy", proc.stderr)
        self.assertIn("--set source.train_set=NCT-CRC-HE-100K-NONORM", proc.stderr)
        self.assertFalse((self.tmp / "out").exists() and any((self.tmp / "out").iterdir()))

    def test_nonorm_is_used_when_chosen(self):
        m = fixture.generate(self.tmp / "src", nonorm=True, train_per_class=2, test_per_class=1)
        side = self.build("--set", "source.train_set=NCT-CRC-HE-100K-NONORM", sizes="224")
        arrays = load_npz(self.tmp / "out" / npz_name(FLAG, 224))[0]
        name = side["source_ids"]["train"][0]
        with Image.open(self.tmp / "src" / m["nonorm_images"][name]["path"]) as tif:
            np.testing.assert_array_equal(arrays["train_images"][0], np.asarray(tif))
        self.assertIn("NCT-CRC-HE-100K present but not used", "\n".join(side["warnings"]))

    def test_source_may_point_into_one_set(self):
        m = fixture.generate(self.tmp / "src", train_per_class=1, test_per_class=1)
        side = self.build(source=self.tmp / "src" / "CRC-VAL-HE-7K")
        self.assertEqual(side["source_ids"]["test"], sorted(n for n, i in m["images"].items() if i["split"] == "test"))
        self.assertEqual(side["source_ids"]["train"] + side["source_ids"]["val"], [])
        self.assertIn("no NCT-CRC-HE-100K images", "\n".join(side["warnings"]))

    def test_stem_ids_when_chosen(self):
        m = fixture.generate(self.tmp / "src", train_per_class=1, test_per_class=1)
        side = self.build("--set", "source.sample_id=stem")
        self.assertEqual(side["source_ids"]["test"],
                         sorted(n[:-4] for n, i in m["images"].items() if i["split"] == "test"))

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", train_per_class=2, test_per_class=1)
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", m["images"])
        side = self.build("--index-map", self.tmp / "map.csv")
        arrays = load_npz(self.tmp / "out" / "pathmnist.npz")[0]
        assert_index_map_applied(self, side, kept, m["images"], arrays, lambda n: m["images"][n]["label"],
                                 fixture.decode_28)


class BadInput(TempDirTest):
    def test_check_names_a_deleted_image_from_the_expected_list(self):
        m = fixture.generate(self.tmp / "src", train_per_class=1, test_per_class=1)
        names = sorted(m["images"])
        write_index_map(self.tmp / "map.csv", [("train", i, n) for i, n in enumerate(names)])
        victim = names[4]
        (self.tmp / "src" / m["images"][victim]["path"]).unlink()
        self.assertEqual(run("check", FLAG, "--source", self.tmp / "src").returncode, 0)  # no list: nothing to miss
        assert_check_missing(self, FLAG, self.tmp / "src", victim,
                             "--set", f"source.expected_list={self.tmp / 'map.csv'}")

    def truncated_build(self, *extra):
        first_test = lambda m: sorted(n for n, i in m["images"].items() if i["split"] == "test")[0]  # noqa: E731
        return truncated_build(self, FLAG, fixture, first_test, *extra, train_per_class=1, test_per_class=1)

    def test_truncated_tiff_fails_naming_the_file(self):
        m, victim, proc = self.truncated_build()
        assert_failed_naming(self, proc, self.tmp / "out", f"error: {m['images'][victim]['path']}: cannot decode image")

    def test_truncated_tiff_is_recorded_and_skipped(self):
        m, victim, proc = self.truncated_build("--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = assert_skipped(self, self.tmp / "out", FLAG, [m["images"][victim]["path"]])
        self.assertNotIn(victim, side["source_ids"]["test"])
        self.assertEqual(len(side["source_ids"]["test"]), 8)


if __name__ == "__main__":
    unittest.main()
