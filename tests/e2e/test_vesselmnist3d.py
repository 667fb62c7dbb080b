"""VesselMNIST3D from a synthetic IntrA tree: mesh repair, solid voxelisation, model-level splits."""
import json
import subprocess
import tempfile
import pathlib
import unittest

import numpy as np
from scipy import ndimage

from medmnist_loader import OfficialLoader
from mmbtest import INFO, TempDirTest, assert_per_class_cut, load_npz, load_tool, npz_name, run, sha256, sidecar

FLAG = "vesselmnist3d"
SIZES = (28, 64)
SPLITS = ("train", "val", "test")
fixture = load_tool("make_intra_fixture")


def ids_by_split(out_dir, size=28):
    side = sidecar(out_dir, FLAG, size)
    return {s: side["source_ids"][s] for s in SPLITS}


class VesselBuild(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-vessel-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src", models=10, segments="3-6", seed=3)
        cls.result = run("build", FLAG, "--source", cls.root / "src", "--out", cls.root / "out", "--threads", 2)
        cls.files = {s: load_npz(cls.root / "out" / npz_name(FLAG, s))[0] for s in SIZES}
        cls.ids = ids_by_split(cls.root / "out")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_every_segment_is_written_once(self):
        written = sorted(sum(self.ids.values(), []))
        self.assertEqual(written, sorted(self.manifest["segments"]))

    def test_shapes_dtypes_and_binary_values_at_28_and_64(self):
        for size, arrays in self.files.items():
            for split in SPLITS:
                images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
                n = len(self.ids[split])
                self.assertEqual((images.dtype, labels.dtype), (np.uint8, np.uint8))
                self.assertEqual(images.shape, (n, size, size, size))
                self.assertEqual(labels.shape, (n, 1))
                self.assertTrue(set(np.unique(images)) <= {0, 255})

    def test_label_map_equals_info(self):
        side = sidecar(self.root / "out", FLAG, 28)
        labels = side["manifest"]["content"]["dataset"]["labels"]
        self.assertEqual({str(i): n for i, n in enumerate(labels)}, INFO[FLAG]["label"])
        self.assertIn("vesselmnist3d (VesselMNIST3D, 3D, sizes 28 64)", run("list").stdout)

    def test_labels_stay_with_their_segments(self):
        # The aneurysm bulge is visible in the voxels: decode it and compare.
        for size, arrays in self.files.items():
            for split in SPLITS:
                for i, seg in enumerate(self.ids[split]):
                    expected = self.manifest["segments"][seg]["label"]
                    self.assertEqual(arrays[f"{split}_labels"][i, 0], expected, seg)
                    self.assertEqual(fixture.label_from_voxels(arrays[f"{split}_images"][i]), expected,
                                     f"{seg} at {size}")

    def test_default_split_is_medmnists_per_class_cut_of_the_segments(self):
        side = sidecar(self.root / "out", FLAG, 28)
        assert_per_class_cut(self, side, lambda i: self.manifest["segments"][i]["label"], [7, 1, 2])
        self.assertIn("per class, image by image", side["parameters"]["split_rule"])

    def test_group_subject_keeps_each_model_in_one_split(self):
        out = self.root / "by-model"
        run("build", FLAG, "--source", self.root / "src", "--out", out, "--sizes", 28, "--group", "subject", "-q")
        ids = ids_by_split(out)
        models = {s: {self.manifest["segments"][i]["model"] for i in ids[s]} for s in SPLITS}
        self.assertFalse(models["train"] & models["val"] or models["train"] & models["test"]
                         or models["val"] & models["test"])
        self.assertIn("split per class, by subject", sidecar(out, FLAG, 28)["parameters"]["split_rule"])

    def test_each_size_is_voxelised_from_the_mesh_with_a_one_voxel_margin(self):
        # The longest extent spans exactly voxels 1..S-2 at every size: a fresh
        # fit per size, not a resampled 28³.
        for size, arrays in self.files.items():
            for split in SPLITS:
                for img in arrays[f"{split}_images"]:
                    spans = [np.nonzero(img.any(axis=tuple(a for a in range(3) if a != k)))[0] for k in range(3)]
                    longest = max(spans, key=len)
                    self.assertEqual((longest[0], longest[-1]), (1, size - 2))
                    self.assertTrue(all(s[0] >= 1 and s[-1] <= size - 2 for s in spans))

    def test_repaired_quirks_give_one_solid_piece(self):
        arrays = self.files[64]
        for seg, info in self.manifest["segments"].items():
            if info["quirk"] not in ("holes", "soup", "fragment"):
                continue
            split = next(s for s in SPLITS if seg in self.ids[s])
            img = arrays[f"{split}_images"][self.ids[split].index(seg)]
            self.assertEqual(ndimage.label(img > 0)[1], 1, seg)        # the fragment is gone
            self.assertEqual(ndimage.label(img == 0)[1], 1, seg)       # no cavity: holes closed, inside filled

    def test_official_loader_reads_every_size_and_split(self):
        for size in SIZES:
            for split in SPLITS:
                ds = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size,
                                    n_samples=len(self.ids[split]))
                img, target = ds[0]
                self.assertEqual(img.shape, (1, size, size, size))
                self.assertEqual(img.max(), 1.0)
                self.assertEqual(target.shape, (1,))

    def test_identical_bytes_for_one_and_two_threads(self):
        out = self.root / "t1"
        run("build", FLAG, "--source", self.root / "src", "--out", out, "--threads", 1, "-q")
        for size in SIZES:
            self.assertEqual(sha256(out / npz_name(FLAG, size)), sha256(self.root / "out" / npz_name(FLAG, size)))

    def test_a_blank_segment_is_dropped_after_the_split(self):
        # A closed, flat slab thinner than a voxel: no voxel centre inside, so its grid is empty, like
        # the blank sample MedMNIST v2.2.4 removed. It keeps its place in the split and is dropped.
        src = self.root / "src-blank"
        fixture.generate(src, models=10, segments="3-6", seed=3)
        slab = src / "IntrA/generated/vessel/obj/ArteryObjAN999-1.obj"
        x, y, z = np.meshgrid([0.0, 1.0], [0.0, 1.0], [0.0, 0.001], indexing="ij")
        verts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
        tris = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
        fixture.write_obj(slab, verts, tris, "plain", False)
        out = self.root / "blank"
        run("build", FLAG, "--source", src, "--out", out, "--sizes", 28, "-q")
        side = sidecar(out, FLAG, 28)
        blank = "vessel/obj/ArteryObjAN999-1.obj"
        self.assertEqual([d["sample"] for d in side["dropped_by_recipe"]], [blank])
        self.assertIn("blank voxelisation", side["dropped_by_recipe"][0]["reason"])
        self.assertNotIn(blank, sum(side["source_ids"].values(), []))
        # The other segments sit where the split with the blank one put them: the cut counted it.
        labels = {i: v["label"] for i, v in self.manifest["segments"].items()}
        labels[blank] = 0
        cut = load_tool("fixture_common").expected_class_splits({i: (l, "") for i, l in labels.items()}, [7, 1, 2],
                                                                side["split"]["seed"])
        self.assertEqual(side["source_ids"], {s: sorted(i for i in labels if cut[i] == s and i != blank) for s in SPLITS})
        # Without the drop, the blank segment is bad input naming its file.
        proc = run("build", FLAG, "--source", src, "--out", self.root / "strict", "--sizes", 28, "-q",
                   "--set", "split.drop_blank=false", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("ArteryObjAN999-1.obj", proc.stderr)


class BadMeshes(TempDirTest):
    def degenerate_name(self, manifest):
        return next(pathlib.Path(v["path"]).name for v in manifest["segments"].values() if v["quirk"] == "degenerate")

    def test_unrepairable_mesh_fails_naming_the_file(self):
        m = fixture.generate(self.tmp / "src", models=3, segments="2-3", degenerate_segment=True)
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(self.degenerate_name(m), proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])

    def test_unrepairable_mesh_is_recorded_and_skipped(self):
        m = fixture.generate(self.tmp / "src", models=3, segments="2-3", degenerate_segment=True)
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", "--on-error", "skip")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(len(side["skipped"]), 1)
        self.assertTrue(side["skipped"][0]["input"].endswith(self.degenerate_name(m)))
        self.assertTrue(side["skipped"][0]["reason"])
        written = sum(side["source_ids"].values(), [])
        self.assertEqual(len(written), len(m["segments"]) - 1)

    def test_corrupt_obj_is_a_named_error(self):
        m = fixture.generate(self.tmp / "src", models=2, segments="2-2")
        victim = self.tmp / "src" / sorted(v["path"] for v in m["segments"].values())[0]
        victim.write_text(victim.read_text() + "f 1 2 99999\n")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(victim.name, proc.stderr)
        self.assertIn("refers to vertex 99999", proc.stderr)

    def test_check_names_a_missing_mesh_and_writes_nothing(self):
        m = fixture.generate(self.tmp / "src", models=3, segments="2-3", missing_obj=True)
        seg = next(s for s, v in m["segments"].items() if v["quirk"] == "missing")
        before = sorted(str(p) for p in self.tmp.rglob("*"))
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        ad = pathlib.Path(seg).stem + (".ad" if seg.startswith("vessel") else "_addon.ad")
        self.assertIn("missing: IntrA/generated/", proc.stdout)
        self.assertIn(ad, proc.stdout)
        self.assertEqual(sorted(str(p) for p in self.tmp.rglob("*")), before)


if __name__ == "__main__":
    unittest.main()
