"""Organ{A,C,S}MNIST and OrganMNIST3D from a synthetic LiTS + Xu et al. box tree
(tools/fixtures/make_lits_fixture.py): one pass per volume, crops exactly the boxes, both label
maps, the slice rule, volume-level splits, determinism, quirks and named errors."""
import collections
import math
import os
import re
import unittest

import nibabel as nib
import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import (INFO, TempDirTest, load_npz, load_tool, nearest_centroid_accuracy, npz_name, run,
                     sha256, sidecar)

fixture = load_tool("make_lits_fixture")

FLAGS_2D = {"organamnist": "axial", "organcmnist": "coronal", "organsmnist": "sagittal"}
FLAG_3D = "organmnist3d"
ALL_FLAGS = [*FLAGS_2D, FLAG_3D]
SPLITS = ("train", "val", "test")
ID_FORM = re.compile(r"^(train|test)-(\d+)-(\d+)(?:-(axial|coronal|sagittal)-(\d{3,}))?$")
NORMAL_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}


def sizes_of(flag):
    return INFO[flag]["sizes"]


def parse_id(sample_id):
    """(source split, volume name, Xu organ id, plane or None, slice index or None)."""
    m = ID_FORM.match(sample_id)
    assert m, sample_id
    volume = ("test-volume-" if m[1] == "test" else "volume-") + m[2]
    return m[1], volume, int(m[3]), m[4], int(m[5]) if m[5] else None


def organ(manifest, volume, xu_id):
    return next(o for o in manifest["volumes"][volume]["organs"] if o["id"] == xu_id)


# The default slice grid (manifests: preprocess.slice_grid_scale): grid slices per raw voxel.
GRID_SCALE = {"sagittal": 0.5245, "coronal": 0.5245, "axial": 1.867}


def expected_slices(box, plane, grid="scaled"):
    """The documented rule on the slice grid: t for t in range(int(0.2 m), int(0.8 m), 3), with
    m = floor(f n) grid slices over the box's n voxels along the plane's normal (box-relative ids);
    on the voxel grid (f = 1) the ids are the array indices lo + t."""
    axis = NORMAL_AXIS[plane]
    lo, hi = box[2 * axis], box[2 * axis + 1]
    n = hi - lo + 1
    if grid == "voxel":
        return [lo + t for t in range(int(0.2 * n), int(0.8 * n), 3)]
    m = math.floor(GRID_SCALE[plane] * n)
    return list(range(int(0.2 * m), int(0.8 * m), 3))


def build(src, out, *flags, extra=(), env=None):
    return run("build", *(flags or ALL_FLAGS), "--source", src, "--out", out, "-q", *extra, env=env)


def all_ids(side):
    return [i for s in SPLITS for i in side["source_ids"][s]]


class OnePassBuild(unittest.TestCase):
    """All four datasets, every size, one build; the read log proves one read per volume."""

    @classmethod
    def setUpClass(cls):
        import pathlib
        import tempfile
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-e2e-organ-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src")
        cls.read_log = cls.root / "reads.log"
        env = dict(os.environ, MMB_VOLUME_READ_LOG=str(cls.read_log))
        cls.result = build(cls.root / "src", cls.root / "out", extra=("--threads", 2), env=env)
        cls.files = {(f, s): load_npz(cls.root / "out" / npz_name(f, s))[0] for f in ALL_FLAGS for s in sizes_of(f)}
        cls.sides = {f: sidecar(cls.root / "out", f, 28) for f in ALL_FLAGS}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_writes_every_official_file_name(self):
        names = sorted(p.name for p in (self.root / "out").glob("*.npz"))
        self.assertEqual(names, sorted(npz_name(f, s) for f in ALL_FLAGS for s in sizes_of(f)))

    def test_shapes_and_dtypes_at_every_size(self):
        for (flag, size), arrays in self.files.items():
            for split in SPLITS:
                n = len(self.sides[flag]["source_ids"][split])
                self.assertGreater(n, 0, f"{flag} {split}")
                images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
                shape = (n, size, size, size) if flag == FLAG_3D else (n, size, size)
                self.assertEqual((images.shape, images.dtype), (shape, np.uint8), f"{flag} {size}")
                self.assertEqual((labels.shape, labels.dtype), ((n, 1), np.uint8))

    def test_ids_have_the_official_form_and_name_the_right_plane(self):
        for flag in ALL_FLAGS:
            for sample_id in all_ids(self.sides[flag]):
                _, _, _, plane, _ = parse_id(sample_id)
                self.assertEqual(plane, FLAGS_2D.get(flag), sample_id)

    def test_both_label_maps_equal_info(self):
        for flag in ALL_FLAGS:
            names = INFO[flag]["label"]
            for split in SPLITS:
                labels = self.files[(flag, 28)][f"{split}_labels"][:, 0]
                for sample_id, label in zip(self.sides[flag]["source_ids"][split], labels):
                    xu_id = parse_id(sample_id)[2]
                    self.assertEqual(names[str(label)], fixture.info_name(fixture.XU_ORGANS[xu_id - 1]), sample_id)
                    if flag == FLAG_3D:
                        self.assertEqual(label, xu_id - 1)  # OrganMNIST3D: Xu id - 1
        self.assertEqual(INFO["organamnist"]["label"]["0"], "bladder")  # the 2D map is alphabetical

    def test_blob_intensity_proves_each_sample_is_its_organ(self):
        for (flag, size), arrays in self.files.items():
            c = size // 2
            for split in SPLITS:
                for sample_id, image in zip(self.sides[flag]["source_ids"][split], arrays[f"{split}_images"]):
                    centre = image[c, c, c] if image.ndim == 3 else image[c, c]
                    self.assertEqual(fixture.decode_gray(centre), parse_id(sample_id)[2], f"{flag} {size} {sample_id}")

    def test_labels_stay_with_their_samples_nearest_centroid(self):
        for flag in ALL_FLAGS:
            arrays = self.files[(flag, 28)]
            centre = (np.s_[:, 10:18, 10:18, 10:18] if flag == FLAG_3D else np.s_[:, 10:18, 10:18])
            tx, ty = arrays["train_images"][centre], arrays["train_labels"][:, 0]
            for split in ("val", "test"):
                x, y = arrays[f"{split}_images"][centre], arrays[f"{split}_labels"][:, 0]
                known = np.isin(y, np.unique(ty))
                self.assertEqual(nearest_centroid_accuracy(tx, ty, x[known], y[known]), 1.0, f"{flag} {split}")

    def test_every_box_gives_one_3d_sample_and_slices_by_the_rule(self):
        seen = collections.defaultdict(list)
        for flag in ALL_FLAGS:
            for sample_id in all_ids(self.sides[flag]):
                _, volume, xu_id, plane, index = parse_id(sample_id)
                seen[(volume, xu_id, plane)].append(index)
        for volume, spec in self.manifest["volumes"].items():
            if spec["swapped"]:
                continue
            for o in spec["organs"]:
                self.assertEqual(seen[(volume, o["id"], None)], [None])
                for plane in FLAGS_2D.values():
                    self.assertEqual(sorted(seen[(volume, o["id"], plane)]), expected_slices(o["box_repaired"], plane),
                                     f"{volume} organ {o['id']} {plane}")

    def test_no_volume_crosses_splits_and_test_volumes_are_test(self):
        by_split = {}
        for split in SPLITS:
            by_split[split] = {parse_id(i)[1] for f in ALL_FLAGS for i in self.sides[f]["source_ids"][split]}
        self.assertFalse(by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"]
                         or by_split["val"] & by_split["test"])
        self.assertEqual(by_split["test"], {"test-volume-5"})
        self.assertEqual(len(by_split["val"]), 1)
        for flag in ALL_FLAGS:  # the same volume split in all four datasets
            vols = {parse_id(i)[1] for i in self.sides[flag]["source_ids"]["val"]}
            self.assertEqual(vols, by_split["val"], flag)

    def test_each_volume_is_read_once_for_all_datasets_and_sizes(self):
        reads = collections.Counter(os.path.basename(p) for p in self.read_log.read_text().splitlines())
        expected = {os.path.basename(v["path"]): 1 for v in self.manifest["volumes"].values() if not v["swapped"]}
        self.assertEqual(dict(reads), expected)

    def test_swapped_volume_is_left_out_and_quirks_are_reported(self):
        self.assertFalse(any("-59-" in i for f in ALL_FLAGS for i in all_ids(self.sides[f])))
        warnings = " ".join(self.sides[FLAG_3D]["warnings"])
        self.assertIn("test-volume-59 left out", warnings)
        self.assertIn("identity affine", warnings)
        self.assertIn("volume-30", warnings)
        self.assertEqual(self.sides[FLAG_3D]["skipped"], [])

    def test_official_loader_reads_every_file(self):
        for (flag, size) in self.files:
            for split in SPLITS:
                n = len(self.sides[flag]["source_ids"][split])
                ds = OfficialLoader(INFO, flag, split, str(self.root / "out"), size=size, n_samples=n)
                img, target = ds[0]
                self.assertEqual(len(ds), n)
                self.assertEqual(target.shape, (1,))
                if flag == FLAG_3D:
                    self.assertEqual(img.shape, (1, size, size, size))
                else:
                    self.assertEqual((img.mode, img.size), ("L", (size, size)))


class SliceGrids(TempDirTest):
    """preprocess.slice_grid: the ids follow the rule on the raw voxel grid and on a 1 mm grid made
    from each volume's header spacing (nibabel's zooms), as on the default scaled grid."""

    def test_voxel_and_mm_grids_select_the_rule_slices(self):
        m = fixture.generate(self.tmp / "src")
        zooms = {name: [float(z) for z in nib.load(self.tmp / "src" / spec["path"]).header.get_zooms()[:3]]
                 for name, spec in m["volumes"].items()}
        for grid in ("voxel", "mm"):
            out = self.tmp / grid
            build(self.tmp / "src", out, "organamnist", "organsmnist",
                  extra=("--sizes", "28", "--set", f"preprocess.slice_grid={grid}", "--set", "preprocess.blank=keep"))
            for flag, plane in (("organamnist", "axial"), ("organsmnist", "sagittal")):
                seen = collections.defaultdict(list)
                for sample_id in all_ids(sidecar(out, flag, 28)):
                    _, volume, xu_id, _, index = parse_id(sample_id)
                    seen[(volume, xu_id)].append(index)
                for volume, spec in m["volumes"].items():
                    if spec["swapped"]:
                        continue
                    for o in spec["organs"]:
                        axis = NORMAL_AXIS[plane]
                        if grid == "voxel":
                            expected = expected_slices(o["box"], plane, "voxel")
                        else:
                            n = o["box"][2 * axis + 1] - o["box"][2 * axis] + 1
                            mm = math.floor(zooms[volume][axis] / 1.0 * n)
                            expected = list(range(int(0.2 * mm), int(0.8 * mm), 3))
                        self.assertEqual(sorted(seen[(volume, o["id"])]), expected, f"{grid} {volume} {o['id']} {plane}")

    def test_unknown_grid_is_a_named_error(self):
        fixture.generate(self.tmp / "src")
        proc = run("build", "organamnist", "--source", self.tmp / "src", "--out", self.tmp / "out", "-q",
                   "--sizes", "28", "--set", "preprocess.slice_grid=physical", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("physical", proc.stderr)


class ExactCrops(TempDirTest):
    def test_nearest_resize_reproduces_numpy_crops_of_the_boxes_including_the_repaired_volume(self):
        # With the nearest kernel every output voxel is one source voxel: the crops must equal
        # numpy slices of the volume (inclusive box bounds, nibabel array order), windowed.
        m = fixture.generate(self.tmp / "src", boxes="zip")
        build(self.tmp / "src", self.tmp / "out", extra=("--sizes", "28,64", "--set", "preprocess.resize_kernel=nearest",
                                                         "--set", "source.include_swapped=true",
                                                         "--set", "preprocess.slice_grid=voxel"))
        gray = {}
        for name, spec in m["volumes"].items():
            a = np.asanyarray(nib.load(self.tmp / "src" / spec["path"]).dataobj)
            gray[name] = fixture.hu_to_gray(a.transpose(0, 2, 1) if spec["swapped"] else a)
        checked = collections.Counter()
        for flag in ALL_FLAGS:
            for size in (28, 64):
                arrays, side = load_npz(self.tmp / "out" / npz_name(flag, size))[0], sidecar(self.tmp / "out", flag, size)
                for split in SPLITS:
                    for sample_id, image in zip(side["source_ids"][split], arrays[f"{split}_images"]):
                        _, volume, xu_id, plane, index = parse_id(sample_id)
                        expected = nearest(reference_crop(gray[volume], organ(m, volume, xu_id)["box_repaired"], plane, index), size)
                        np.testing.assert_array_equal(image, expected, err_msg=f"{flag} {size} {sample_id}")
                        checked[volume] += 1
        self.assertIn("test-volume-59", checked)
        self.assertEqual(len(checked), 6)


def reference_crop(gray, box, plane, index):
    """The crop as the output stores it: 3D (k, j, i); 2D rows = the plane's second axis."""
    x1, x2, y1, y2, z1, z2 = box
    if plane is None:
        return gray[x1:x2 + 1, y1:y2 + 1, z1:z2 + 1].transpose(2, 1, 0)
    if plane == "axial":
        return gray[x1:x2 + 1, y1:y2 + 1, index].T
    if plane == "coronal":
        return gray[x1:x2 + 1, index, z1:z2 + 1].T
    return gray[index, y1:y2 + 1, z1:z2 + 1].T


def nearest(a, size):
    """Output index o takes input ((2o + 1) n_in) // (2 size) on every axis (common/ops/resize.h)."""
    for axis, n in enumerate(a.shape):
        a = np.take(a, [((2 * o + 1) * n) // (2 * size) for o in range(size)], axis=axis)
    return a


class Determinism(TempDirTest):
    def test_identical_bytes_for_one_and_two_threads(self):
        fixture.generate(self.tmp / "src", boxes="loose")
        for threads in (1, 2):
            build(self.tmp / "src", self.tmp / f"t{threads}", extra=("--sizes", "28,64", "--threads", threads))
        for flag in ALL_FLAGS:
            for size in (28, 64):
                self.assertEqual(sha256(self.tmp / "t1" / npz_name(flag, size)),
                                 sha256(self.tmp / "t2" / npz_name(flag, size)), f"{flag} {size}")

    def test_loose_and_zipped_boxes_give_the_same_arrays(self):
        for mode in ("zip", "loose"):
            fixture.generate(self.tmp / mode, boxes=mode)
            build(self.tmp / mode, self.tmp / f"out-{mode}", FLAG_3D, extra=("--sizes", "28"))
        a = load_npz(self.tmp / "out-zip" / "organmnist3d.npz")[0]
        b = load_npz(self.tmp / "out-loose" / "organmnist3d.npz")[0]
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


class BadInput(TempDirTest):
    def test_truncated_nii_fails_naming_the_file(self):
        fixture.generate(self.tmp / "src", truncate="volume-64")
        proc = run("build", *ALL_FLAGS, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("volume-64.nii", proc.stderr)
        self.assertIn("truncated NIfTI", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*")), [])

    def test_truncated_nii_is_recorded_and_skipped_with_on_error_skip(self):
        fixture.generate(self.tmp / "src", truncate="volume-64")
        build(self.tmp / "src", self.tmp / "out", FLAG_3D, "organamnist", extra=("--sizes", "28", "--on-error", "skip"))
        for flag in (FLAG_3D, "organamnist"):
            side = sidecar(self.tmp / "out", flag, 28)
            self.assertTrue(side["skipped"])
            self.assertEqual({s["input"] for s in side["skipped"]}, {"LITS Challenge/Training Batch 2/volume-64.nii"})
            self.assertFalse(any("-64-" in i for i in all_ids(side)))
            self.assertTrue(any("-101-" in i for i in all_ids(side)))

    def test_blank_crops_are_dropped_and_recorded_without_failing_the_build(self):
        m = fixture.generate(self.tmp / "src", blank_box=True)
        proc = build(self.tmp / "src", self.tmp / "out", extra=("--sizes", "28"))  # default --on-error fail
        self.assertIn("samples dropped by the recipe", proc.stderr)
        blank = organ(m, "volume-64", 9)
        for flag in ALL_FLAGS:
            side = sidecar(self.tmp / "out", flag, 28)
            self.assertEqual(side["skipped"], [])
            dropped = side["dropped_by_recipe"]
            plane = FLAGS_2D.get(flag)
            expected = 1 if plane is None else len(expected_slices(blank["box_repaired"], plane))
            self.assertEqual(len(dropped), expected, flag)
            self.assertTrue(all(d["sample"].startswith("train-64-9") and d["reason"].startswith("blank crop")
                                for d in dropped), dropped)
            self.assertFalse(any(parse_id(i)[1:3] == ("volume-64", 9) for i in all_ids(side)))
            self.assertTrue(any(parse_id(i)[1] == "volume-64" for i in all_ids(side)))

    def test_malformed_box_line_names_file_and_line(self):
        fixture.generate(self.tmp / "src", boxes="loose")
        box = self.tmp / "src/annotations_on_LiTS/annotations_of_training_set/segmentation-3.txt"
        lines = box.read_bytes().split(b"\r\n")
        lines[1] = lines[1].replace(b" ", b";", 2)
        box.write_bytes(b"\r\n".join(lines))
        proc = run("build", FLAG_3D, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("annotations_of_training_set/segmentation-3.txt:2", proc.stderr)

    def test_box_outside_its_volume_is_a_named_problem(self):
        fixture.generate(self.tmp / "src", boxes="loose")
        box = self.tmp / "src/annotations_on_LiTS/annotations_of_testing_set/test-segmentation-5.txt"
        first, rest = box.read_bytes().split(b"\r\n", 1)
        f = first.split()
        f[3] = b"96"  # x2 == width: one past the last voxel
        box.write_bytes(b" ".join(f) + b"\r\n" + rest)
        proc = run("check", FLAG_3D, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("test-segmentation-5.txt:1: box (x", proc.stdout)
        self.assertIn("does not fit the volume (96x96x", proc.stdout)

    def test_check_names_a_missing_volume_and_a_volume_without_boxes(self):
        m = fixture.generate(self.tmp / "src")
        (self.tmp / "src" / m["volumes"]["volume-101"]["path"]).unlink()
        (self.tmp / "src/extra").mkdir()
        (self.tmp / "src/extra/volume-7.nii").write_bytes((self.tmp / "src" / m["volumes"]["volume-3"]["path"]).read_bytes())
        before = sorted(str(p) for p in self.tmp.rglob("*"))
        proc = run("check", "organsmnist", "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing: volume-101.nii", proc.stdout)
        self.assertIn("unexpected: extra/volume-7.nii", proc.stdout)
        self.assertIn("count test:", proc.stdout)
        self.assertEqual(sorted(str(p) for p in self.tmp.rglob("*")), before)


class IndexMapAndOptions(TempDirTest):
    def test_index_map_reorders_and_drops_official_form_ids(self):
        fixture.generate(self.tmp / "src")
        build(self.tmp / "src", self.tmp / "all", "organsmnist", extra=("--sizes", "28"))
        side = sidecar(self.tmp / "all", "organsmnist", 28)
        ids = side["source_ids"]["train"][::-1]
        kept, dropped = ids[3:], ids[:3]
        rows = ["split,index,image_id"] + [f"{'train' if k % 4 else 'val'},{k},{i}" for k, i in enumerate(kept)]
        rows.append(f"test,0,train-112-8-sagittal-028")  # the official example: not in this fixture
        (self.tmp / "map.csv").write_text("\n".join(rows) + "\n")
        # An id the map names that the source lacks stops the build; with skip it is recorded.
        proc = run("build", "organsmnist", "--source", self.tmp / "src", "--out", self.tmp / "failed", "-q", "--sizes", "28",
                   "--index-map", self.tmp / "map.csv", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("not in the source: train-112-8-sagittal-028", proc.stderr)
        build(self.tmp / "src", self.tmp / "out", "organsmnist", extra=("--sizes", "28", "--index-map", self.tmp / "map.csv",
                                                                      "--on-error", "skip"))
        out = sidecar(self.tmp / "out", "organsmnist", 28)
        self.assertEqual(out["source_ids"]["train"], [i for k, i in enumerate(kept) if k % 4])
        self.assertEqual(out["source_ids"]["val"], [i for k, i in enumerate(kept) if not k % 4])
        self.assertTrue(set(dropped) <= set(out["dropped_by_split_rule"]))
        self.assertEqual(out["named_but_missing"], ["train-112-8-sagittal-028"])
        first = load_npz(self.tmp / "out" / "organsmnist.npz")[0]["train_images"][0]
        self.assertEqual(fixture.decode_gray(first[14, 14]), parse_id(out["source_ids"]["train"][0])[2])

    def test_slice_rule_and_window_come_from_the_manifest(self):
        m = fixture.generate(self.tmp / "src")
        build(self.tmp / "src", self.tmp / "out", "organamnist", extra=(
            "--sizes", "28", "--set", "preprocess.slice_step=1", "--set", "preprocess.slice_range=[0.5, 0.5]"))
        side = sidecar(self.tmp / "out", "organamnist", 28)
        self.assertEqual(all_ids(side), [])  # an empty range selects no slice
        build(self.tmp / "src", self.tmp / "out2", "organamnist", extra=(
            "--sizes", "28", "--set", "preprocess.slice_step=1", "--set", "preprocess.blank=keep",
            "--set", "preprocess.window_level=2000"))
        arrays = load_npz(self.tmp / "out2" / "organamnist.npz")[0]
        n_boxes = sum(len(v["organs"]) for v in m["volumes"].values() if not v["swapped"])
        self.assertGreater(len(all_ids(sidecar(self.tmp / "out2", "organamnist", 28))), 2 * n_boxes)
        self.assertEqual(int(arrays["train_images"].max()), 0)  # everything is below a W400/L2000 window


if __name__ == "__main__":
    unittest.main()
