"""TissueMNIST end to end on generated BBBC051 sources (tools/fixtures/make_bbbc051_fixture.py)."""
import unittest

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from mmbtest import (assert_per_class_cut, SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_centroids_separate,
                     assert_check_missing, assert_failed_naming, assert_index_map_applied,
                     assert_label_names_equal_info, assert_official_loader_reads, assert_same_bytes_for_threads,
                     assert_skipped, load_npz, load_tool, nearest_centroid_accuracy, run, sha256, sidecar, split_counts,
                     write_reorder_and_drop_map)

FLAG = "tissuemnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_bbbc051_fixture")


def reference(projection, size):
    """The shared resize of a 32x32 projection: skimage's anti-aliased spline when
    shrinking, scipy's grid-mode spline when growing, clipped to the input range."""
    p = projection.astype(np.float64)
    if size < p.shape[0]:
        out = resize(p, (size, size), order=3, anti_aliasing=True, preserve_range=True)
    else:
        out = ndimage.zoom(p, size / p.shape[0], order=3, grid_mode=True, mode="grid-mirror")
    return np.round(np.clip(out, p.min(), p.max()))


def h5_volumes(path):
    """{id: (7, 32, 32) volume} straight from a plain-layout fixture file."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for key in ("train_data", "test_data"):
            data = f[key][:].reshape(-1, 7, 32, 32)
            for row, vol in enumerate(data):
                out[f"{fixture.H5_NAME}/{key}/{row}"] = vol
    return out


class PlainHdf5BuiltOnce(BuiltOnceAtEverySize, unittest.TestCase):
    """A plain-dataset HDF5 file (uint8 rows of 7168), built once at every size."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-tissue-"

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src, layout="plain")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.volumes = h5_volumes(cls.src / "BBBC051" / fixture.H5_NAME)

    def test_gray_uint8_shapes_at_every_size(self):
        for size, arrays in self.files.items():
            assert_arrays(self, arrays, size, split_counts(self.side), rgb=False, nonempty=True)

    def test_manifest_label_names_equal_info(self):
        assert_label_names_equal_info(self, FLAG)

    def test_labels_stay_with_their_images(self):
        a = self.files[28]
        for split in ("val", "test"):
            acc = nearest_centroid_accuracy(a["train_images"], a["train_labels"][:, 0], a[f"{split}_images"],
                                            a[f"{split}_labels"][:, 0])
            self.assertEqual(acc, 1.0, split)
            expected = [self.manifest["samples"][i]["label"] for i in self.side["source_ids"][split]]
            self.assertEqual(list(a[f"{split}_labels"][:, 0]), expected)

    def test_1_based_source_labels_become_0_based(self):
        labels = np.concatenate([self.files[28][f"{s}_labels"][:, 0] for s in SPLITS])
        self.assertEqual(sorted(set(labels.tolist())), list(range(8)))

    def test_pixels_are_the_maximum_over_the_7_slices_resized(self):
        for size, arrays in self.files.items():
            for split in SPLITS:
                for k, sid in enumerate(self.side["source_ids"][split]):
                    expected = reference(self.volumes[sid].max(axis=0), size)
                    got = arrays[f"{split}_images"][k].astype(np.float64)
                    self.assertLessEqual(np.abs(got - expected).max(), 1.0, f"{sid} at {size}")

    def test_a_mean_or_single_slice_would_lose_the_label(self):
        # The fixture's class blob is in one slice only: only the max projection keeps it.
        ids = sorted(self.volumes)
        y = np.array([self.manifest["samples"][i]["label"] for i in ids])
        for name, project in (("mean", lambda v: v.mean(axis=0)), ("slice 3", lambda v: v[3])):
            x = np.stack([project(self.volumes[i].astype(np.float64)) for i in ids])
            self.assertLess(nearest_centroid_accuracy(x[::2], y[::2], x[1::2], y[1::2]), 0.6, name)

    def test_source_train_and_test_are_pooled_and_split_7_1_2_by_image(self):
        self.assertEqual(sorted(all_ids(self.side)), sorted(self.manifest["samples"]))
        # 56 cells, 7 a class: int(7 * 0.7) = 4 train, int(7 * 0.8) - 4 = 1 val, 2 test (per-class cut).
        self.assertEqual([len(self.side["source_ids"][s]) for s in SPLITS], [32, 8, 16])
        assert_per_class_cut(self, self.side, lambda i: self.manifest["samples"][i]["label"], [7, 1, 2])
        sources = {s: {i.split("/")[1] for i in self.side["source_ids"][s]} for s in SPLITS}
        self.assertEqual(sources["train"], {"train_data", "test_data"})
        self.assertIn("per class, image by image", self.side["parameters"]["split_rule"])

    def test_official_loader_reads_every_size_as_gray(self):
        assert_official_loader_reads(self, FLAG, self.root / "out", split_counts(self.side), SIZES, "L")


class Layouts(TempDirTest):
    def build(self, source, out, *extra, check=True):
        return run("build", FLAG, "--source", source, "--out", out, "--sizes", "28", "-q", *extra, check=check)

    def test_every_hdf5_encoding_gives_the_same_bytes(self):
        variants = [dict(layout="plain", plain_shape="flat"), dict(layout="plain", plain_shape="zyx", dtype="float"),
                    dict(layout="pandas_fixed"), dict(layout="pandas_table"), dict(layout="pandas_fixed", dtype="float")]
        digests = []
        for k, options in enumerate(variants):
            fixture.generate(self.tmp / f"src{k}", train=16, test=8, **options)
            self.build(self.tmp / f"src{k}", self.tmp / f"out{k}")
            digests.append(sha256(self.tmp / f"out{k}" / "tissuemnist.npz"))
            kind = {"plain": "plain dataset", "pandas_fixed": "pandas fixed", "pandas_table": "pandas table"}
            self.assertTrue(any(kind[options["layout"]] in w for w in sidecar(self.tmp / f"out{k}", FLAG, 28)["warnings"]))
        self.assertEqual(len(set(digests)), 1, digests)

    def test_identical_bytes_for_one_and_two_threads(self):
        # HDF5 rows are read from parallel workers; the output must not depend on it.
        fixture.generate(self.tmp / "src", layout="pandas_table", train=24, test=8)
        assert_same_bytes_for_threads(self, lambda out, *extra: self.build(self.tmp / "src", out, *extra),
                                      self.tmp, "tissuemnist.npz")

    def test_tiff_stacks_with_a_label_csv(self):
        # Names (exact, lower-case, quoted with a comma) and 0-based ints, a backslash
        # path, CRLF, one 16-bit stack.
        m = fixture.generate(self.tmp / "src", layout="tiff")
        self.build(self.tmp / "src", self.tmp / "out")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(sorted(all_ids(side)), sorted(m["samples"]))
        self.assertEqual(side["skipped"], [])
        a = load_npz(self.tmp / "out" / "tissuemnist.npz")[0]
        for split in SPLITS:
            self.assertEqual(list(a[f"{split}_labels"][:, 0]), [m["samples"][i]["label"] for i in side["source_ids"][split]])
        assert_centroids_separate(self, a)
        # The 16-bit stack (cell 5) lands on the same 0-255 scale as the others.
        split = next(s for s in SPLITS if "cell_00005.tif" in side["source_ids"][s])
        img = a[f"{split}_images"][side["source_ids"][split].index("cell_00005.tif")]
        self.assertGreater(int(img.max()), 200)

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", layout="pandas_table", train=16, test=8)
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", m["samples"])
        self.build(self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 28)
        a = load_npz(self.tmp / "out" / "tissuemnist.npz")[0]

        def blob_at_class_center(img, label):
            cy, cx = fixture.class_center(label)  # the class blob is the brightest spot
            y, x = np.unravel_index(np.argmax(img), (28, 28))
            self.assertLessEqual(abs((y + 0.5) * 32 / 28 - (cy + 0.5)) + abs((x + 0.5) * 32 / 28 - (cx + 0.5)), 3.5)

        assert_index_map_applied(self, side, kept, m["samples"], a, lambda i: m["samples"][i]["label"],
                                 check_image=blob_at_class_center)

    def test_check_names_a_deleted_stack(self):
        m = fixture.generate(self.tmp / "src", layout="tiff", train=16, test=8)
        (self.tmp / "src" / m["samples"]["cell_00009.tif"]["path"]).unlink()
        assert_check_missing(self, FLAG, self.tmp / "src", "BBBC051/cells/cell_00009.tif")

    def test_truncated_tiff_fails_by_name_or_is_skipped(self):
        fixture.generate(self.tmp / "src", layout="tiff", train=16, test=8, truncate="cell_00003.tif")
        assert_failed_naming(self, self.build(self.tmp / "src", self.tmp / "out", check=False), self.tmp / "out",
                             "BBBC051/cells/cell_00003.tif", "truncated or damaged TIFF")
        self.build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", FLAG, ["BBBC051/cells/cell_00003.tif"])
        self.assertEqual(len(all_ids(side)), 23)

    def test_nan_voxel_fails_by_file_and_row_or_is_skipped(self):
        bad = f"{fixture.H5_NAME}/train_data/3"
        fixture.generate(self.tmp / "src", layout="plain", dtype="float", train=16, test=8, bad_voxel=bad)
        proc = self.build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("BBBC051/BBBC051.h5: train_data row 3: voxel value nan", proc.stderr)
        self.build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", FLAG, ["BBBC051/BBBC051.h5"])
        self.assertNotIn(bad, all_ids(side))

    def test_label_outside_1_to_8_names_file_key_and_row(self):
        import h5py
        fixture.generate(self.tmp / "src", layout="plain", train=16, test=8)
        with h5py.File(self.tmp / "src/BBBC051" / fixture.H5_NAME, "r+") as f:
            f["test_labels"][2] = 9
        proc = self.build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("BBBC051.h5:test_labels[2]: label 9 is not a class 1-8", proc.stderr)


if __name__ == "__main__":
    unittest.main()
