"""BloodMNIST end to end on generated PBC trees (tools/fixtures/make_pbc_fixture.py)."""
import hashlib
import unittest

import numpy as np
import scipy.ndimage as ndi
from PIL import Image

from mmbtest import (assert_per_class_cut, SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_check_missing,
                     assert_failed_naming, assert_index_map_applied, assert_label_names_equal_info,
                     assert_official_loader_reads, assert_skipped, load_npz, load_tool, nearest_centroid_accuracy, run,
                     sidecar, split_counts, truncated_build, write_index_map, write_reorder_and_drop_map)

FLAG = "bloodmnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_pbc_fixture")


class DoublyNestedWithQuirks(BuiltOnceAtEverySize, unittest.TestCase):
    """PBC_dataset_normal_DIB/PBC_dataset_normal_DIB/<class>/, odd image sizes, a stray json,
    one image whose prefix belongs to another class; built once at every size."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-blood-"

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src, foreign_prefix=True)

    def image(self, name):
        return self.manifest["images"][name]

    def located(self):
        """(split, index, name) of every output sample."""
        return [(s, i, n) for s in SPLITS for i, n in enumerate(self.side["source_ids"][s])]

    def test_shapes_rgb_channels_and_uint8_at_every_size(self):
        for size, arrays in self.files.items():
            assert_arrays(self, arrays, size, split_counts(self.side), rgb=True, keys=arrays)

    def test_label_names_equal_info(self):
        assert_label_names_equal_info(self, FLAG)

    def test_every_image_split_7_1_2_image_by_image(self):
        ids = self.side["source_ids"]
        self.assertEqual(sorted(all_ids(self.side)), sorted(self.manifest["images"]))
        # 5 images a class: int(5 * 0.7) = 3 train, int(5 * 0.8) - 3 = 1 val, 1 test (MedMNIST's per-class cut).
        self.assertEqual([len(ids[s]) for s in SPLITS], [24, 8, 8])
        assert_per_class_cut(self, self.side, lambda i: self.manifest["images"][i]["label"], [7, 1, 2])
        self.assertIn("per class, image by image", self.side["parameters"]["split_rule"])

    def test_labels_follow_the_class_folders_and_stay_with_their_images(self):
        arrays = self.files[28]
        for split in SPLITS:
            expected = [self.image(n)["label"] for n in self.side["source_ids"][split]]
            np.testing.assert_array_equal(arrays[f"{split}_labels"][:, 0], expected)
            self.assertEqual([fixture.decode_28(img) for img in arrays[f"{split}_images"]], expected)
        x = np.concatenate([arrays["val_images"], arrays["test_images"]])
        y = np.concatenate([arrays["val_labels"], arrays["test_labels"]])[:, 0]
        self.assertEqual(nearest_centroid_accuracy(arrays["train_images"], arrays["train_labels"][:, 0], x, y), 1.0)

    def test_224_is_the_200_centre_crop_upsampled(self):
        # The crop offsets are torchvision's int(round((w - 200) / 2)), odd sizes included; the
        # upsampling matches scipy's cubic spline zoom (docs/architecture.md). A crop one pixel off
        # is far worse, so this pins the crop box.
        def zoomed(pixels, x0, y0):
            crop = pixels[y0:y0 + 200, x0:x0 + 200].astype(np.float64)
            z = np.stack([ndi.zoom(crop[..., c], 224 / 200, order=3, grid_mode=True, mode="grid-mirror")
                          for c in range(3)], axis=-1)
            return np.clip(np.round(z), 0, 255)

        sizes = set()
        for split, i, name in self.located():
            image = self.image(name)
            sizes.add((image["width"], image["height"]))
            with Image.open(self.src / image["path"]) as jpeg:
                pixels = np.asarray(jpeg)
            out = self.files[224][f"{split}_images"][i].astype(np.float64)
            x0, y0 = image["crop_origin"]
            self.assertLess(np.abs(zoomed(pixels, x0, y0) - out).mean(), 0.5, name)
            self.assertGreater(np.abs(zoomed(pixels, x0 + 1, y0) - out).mean(), 1.5, name)
            self.assertGreater(np.abs(zoomed(pixels, x0, y0 + 1) - out).mean(), 1.5, name)
        self.assertEqual(sizes, {(360, 363), (359, 360), (366, 369)})

    def test_nothing_outside_the_crop_reaches_any_size(self):
        # The fixture draws a bright green frame in the margin the crop removes.
        for size, arrays in self.files.items():
            for split in SPLITS:
                img = arrays[f"{split}_images"].astype(int)
                greenness = img[..., 1] - np.maximum(img[..., 0], img[..., 2])
                self.assertLess(greenness.max(), 40, f"size {size} {split}")

    def test_stray_json_is_ignored_and_foreign_prefix_keeps_the_folder_label(self):
        warnings = "\n".join(self.side["warnings"])
        self.assertIn("1 non-JPEG file in class folders ignored (e.g. PBC_dataset_normal_DIB/"
                      "PBC_dataset_normal_DIB/neutrophil/labels.json)", warnings)
        foreign = [n for n, i in self.manifest["images"].items() if i["class"] == "eosinophil" and i["prefix"] == "BA"]
        self.assertEqual(len(foreign), 1)
        self.assertIn("1 image has a file-name prefix not listed for its class folder (eosinophil/" + foreign[0],
                      warnings)
        split, i, _ = next(x for x in self.located() if x[2] == foreign[0])
        self.assertEqual(self.files[28][f"{split}_labels"][i, 0], 1)  # eosinophil
        self.assertEqual(self.side["skipped"], [])

    def test_official_loader_reads_every_size_as_rgb(self):
        assert_official_loader_reads(self, FLAG, self.root / "out", split_counts(self.side), SIZES, "RGB")


class LayoutsAndIds(TempDirTest):
    def build(self, *extra):
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q", *extra)
        return sidecar(self.tmp / "out", FLAG, 28), load_npz(self.tmp / "out" / "bloodmnist.npz")[0]

    def test_single_nesting_gives_the_same_dataset(self):
        m = fixture.generate(self.tmp / "src", nesting="single", per_class=2)
        side, arrays = self.build()
        self.assertEqual(sorted(all_ids(side)), sorted(m["images"]))
        self.assertEqual(side["source_ids"], self.double_nested_ids(per_class=2))

    def double_nested_ids(self, per_class):
        fixture.generate(self.tmp / "src2", per_class=per_class)
        run("build", FLAG, "--source", self.tmp / "src2", "--out", self.tmp / "out2", "--sizes", "28", "-q")
        return sidecar(self.tmp / "out2", FLAG, 28)["source_ids"]

    def test_stem_ids_when_chosen(self):
        m = fixture.generate(self.tmp / "src", per_class=1)
        side, _ = self.build("--set", "source.sample_id=stem")
        self.assertEqual(sorted(all_ids(side)), sorted(n[:-4] for n in m["images"]))

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", per_class=2)
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", m["images"])
        side, arrays = self.build("--index-map", self.tmp / "map.csv")
        assert_index_map_applied(self, side, kept, m["images"], arrays, lambda n: m["images"][n]["label"],
                                 fixture.decode_28)


class ContentHashes(TempDirTest):
    """The sidecar's array_sha256 is each array's data hash, the same whatever the compression,
    and `compression` says what the file's own sha256 depends on."""

    def test_array_hashes_match_numpy_and_do_not_depend_on_the_compressor(self):
        fixture.generate(self.tmp / "src")
        for name, extra in (("deflate", ()), ("stored", ("--no-compress",))):
            run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / name, "-q", "--sizes", "28,64", *extra)
        for size in (28, 64):
            deflate, stored = sidecar(self.tmp / "deflate", FLAG, size), sidecar(self.tmp / "stored", FLAG, size)
            self.assertNotEqual(deflate["sha256"], stored["sha256"])
            self.assertEqual(deflate["array_sha256"], stored["array_sha256"])
            self.assertRegex(deflate["compression"], r"^zlib [0-9.]+ DEFLATE level 1, 1 MiB chunks")
            self.assertEqual(stored["compression"], "stored")
            arrays, names = load_npz(self.tmp / "deflate" / (f"{FLAG}.npz" if size == 28 else f"{FLAG}_{size}.npz"))
            self.assertEqual(sorted(deflate["array_sha256"]), sorted(n[:-4] if n.endswith(".npy") else n for n in names))
            for key, digest in deflate["array_sha256"].items():
                self.assertEqual(hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest(), digest, key)


class BadInput(TempDirTest):
    def test_check_names_a_deleted_image_from_the_expected_list(self):
        m = fixture.generate(self.tmp / "src", per_class=2)
        names = sorted(m["images"])
        write_index_map(self.tmp / "map.csv", [("train", i, n) for i, n in enumerate(names)])
        victim = names[5]
        (self.tmp / "src" / m["images"][victim]["path"]).unlink()
        self.assertEqual(run("check", FLAG, "--source", self.tmp / "src").returncode, 0)  # no list: nothing to miss
        assert_check_missing(self, FLAG, self.tmp / "src", victim,
                             "--set", f"source.expected_list={self.tmp / 'map.csv'}")

    def test_check_reports_a_truncated_jpeg(self):
        m = fixture.generate(self.tmp / "src", per_class=1)
        victim = sorted(m["images"])[2]
        fixture.generate(self.tmp / "src", per_class=1, truncate=victim)
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"unreadable: {m['images'][victim]['path']}: truncated JPEG", proc.stdout)

    def truncated_build(self, *extra):
        return truncated_build(self, FLAG, fixture, lambda m: sorted(m["images"])[3], *extra, per_class=2)

    def test_truncated_jpeg_fails_naming_the_file(self):
        m, victim, proc = self.truncated_build()
        assert_failed_naming(self, proc, self.tmp / "out", f"error: {m['images'][victim]['path']}: truncated JPEG")

    def test_truncated_jpeg_is_recorded_and_skipped(self):
        m, victim, proc = self.truncated_build("--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = assert_skipped(self, self.tmp / "out", FLAG, [m["images"][victim]["path"]])
        self.assertNotIn(victim, all_ids(side))
        self.assertEqual(len(all_ids(side)), len(m["images"]) - 1)

    def test_an_image_smaller_than_the_crop_fails_naming_the_file(self):
        m = fixture.generate(self.tmp / "src", per_class=1)
        victim = sorted(m["images"])[0]
        with Image.open(self.tmp / "src" / m["images"][victim]["path"]) as jpeg:
            jpeg.crop((0, 0, 180, 363)).save(self.tmp / "src" / m["images"][victim]["path"], quality=90)
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q",
                   check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(m["images"][victim]["path"], proc.stderr)


if __name__ == "__main__":
    unittest.main()
