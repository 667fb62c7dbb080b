"""SynapseMNIST3D from a synthetic EM volume + synapse table (our documented input format)."""
import pathlib
import tempfile
import unittest

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import INFO, TempDirTest, assert_per_class_cut, load_npz, load_tool, npz_name, run, sha256, sidecar

FLAG = "synapsemnist3d"
SIZES = (28, 64)
SPLITS = ("train", "val", "test")
CROP_DEPTH = 34  # round(1024 / 30)
fixture = load_tool("make_em_fixture")


def ids_by_split(out_dir, size=28):
    side = sidecar(out_dir, FLAG, size)
    return {s: side["source_ids"][s] for s in SPLITS}


def build(source, out, *extra, check=True):
    return run("build", FLAG, "--source", source, "--out", out, "-q", *extra, check=check)


class SynapseBuild(unittest.TestCase):
    """One PNG-stack fixture with neuron ids, built once; its HDF5 twin built from the same volume."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-synapse-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "png", storage="png", neuron_ids=True, seed=5)
        build(cls.root / "png", cls.root / "out", "--threads", 2)
        cls.files = {s: load_npz(cls.root / "out" / npz_name(FLAG, s))[0] for s in SIZES}
        cls.ids = ids_by_split(cls.root / "out")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_every_synapse_is_written_once(self):
        self.assertEqual(sorted(sum(self.ids.values(), [])), sorted(self.manifest["synapses"]))

    def test_shapes_and_dtypes_at_28_and_64(self):
        for size, arrays in self.files.items():
            for split in SPLITS:
                n = len(self.ids[split])
                self.assertEqual(arrays[f"{split}_images"].shape, (n, size, size, size))
                self.assertEqual(arrays[f"{split}_labels"].shape, (n, 1))
                self.assertEqual(arrays[f"{split}_images"].dtype, np.uint8)
                self.assertEqual(arrays[f"{split}_labels"].dtype, np.uint8)

    def test_label_map_equals_info(self):
        labels = sidecar(self.root / "out", FLAG, 28)["manifest"]["content"]["dataset"]["labels"]
        self.assertEqual({str(i): n for i, n in enumerate(labels)}, INFO[FLAG]["label"])
        self.assertIn("synapsemnist3d (SynapseMNIST3D, 3D, sizes 28 64)", run("list").stdout)

    def test_labels_stay_with_their_synapses(self):
        # Excitatory synapses are balls, inhibitory ones rods along x: decode the shape.
        for size, arrays in self.files.items():
            for split in SPLITS:
                for i, sid in enumerate(self.ids[split]):
                    expected = self.manifest["synapses"][sid]["label"]
                    self.assertEqual(arrays[f"{split}_labels"][i, 0], expected, sid)
                    self.assertEqual(fixture.label_from_crop(arrays[f"{split}_images"][i]), expected, f"{sid} at {size}")

    def test_default_split_is_medmnists_per_class_cut(self):
        side = sidecar(self.root / "out", FLAG, 28)
        assert_per_class_cut(self, side, lambda i: self.manifest["synapses"][i]["label"], [7, 1, 2])
        self.assertIn("per class, image by image", side["parameters"]["split_rule"])

    def test_group_subject_keeps_each_neuron_in_one_split(self):
        out = self.root / "by-neuron"
        run("build", FLAG, "--source", self.root / "png", "--out", out, "--sizes", 28, "--group", "subject", "-q")
        side = sidecar(out, FLAG, 28)
        neurons = {s: {self.manifest["synapses"][i]["neuron"] for i in side["source_ids"][s]} - {""} for s in SPLITS}
        self.assertFalse(neurons["train"] & neurons["val"] or neurons["train"] & neurons["test"]
                         or neurons["val"] & neurons["test"])
        self.assertIn("neuron_id", side["parameters"]["split_rule"])

    def test_crop_outside_the_volume_is_padded_and_recorded(self):
        edge = next(i for i, s in self.manifest["synapses"].items() if s["edge"])
        warnings = sidecar(self.root / "out", FLAG, 64)["warnings"]
        self.assertTrue(any("padded with 0" in w and edge in w for w in warnings), warnings)
        split = next(s for s in SPLITS if edge in self.ids[s])
        img = self.files[64][f"{split}_images"][self.ids[split].index(edge)]
        self.assertGreater(CROP_DEPTH // 2 - self.manifest["synapses"][edge]["voxel"][2], 0)  # slices before z = 0
        self.assertEqual(int(img[0].max()), 0)  # so the first output slices are fill
        self.assertGreater(int(img[-1].min()), 0)

    def test_official_loader_reads_every_size_and_split(self):
        for size in SIZES:
            for split in SPLITS:
                ds = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, n_samples=len(self.ids[split]))
                img, target = ds[0]
                self.assertEqual(img.shape, (1, size, size, size))
                self.assertEqual(target.shape, (1,))

    def test_identical_bytes_for_one_and_two_threads(self):
        build(self.root / "png", self.root / "t1", "--threads", 1)
        for size in SIZES:
            self.assertEqual(sha256(self.root / "t1" / npz_name(FLAG, size)), sha256(self.root / "out" / npz_name(FLAG, size)))

    def test_crops_spilled_to_disk_give_the_same_bytes(self):
        # A zero budget sends every complete crop of a later split through the spill file.
        build(self.root / "png", self.root / "spilled", "--threads", 2, "--set", "source.waiting_crops_mb=0")
        for size in SIZES:
            self.assertEqual(sha256(self.root / "spilled" / npz_name(FLAG, size)),
                             sha256(self.root / "out" / npz_name(FLAG, size)))

    def test_hdf5_volume_gives_the_same_bytes_as_the_slice_folder(self):
        fixture.generate(self.root / "h5", storage="hdf5", metadata="json", neuron_ids=True, seed=5)
        build(self.root / "h5", self.root / "out-h5", "--threads", 2)
        self.assertIn("layout: HDF5 dataset EM30-R/volume.h5", run("check", FLAG, "--source", self.root / "h5",
                                                                     check=False).stdout)
        for size in SIZES:
            self.assertEqual(sha256(self.root / "out-h5" / npz_name(FLAG, size)),
                             sha256(self.root / "out" / npz_name(FLAG, size)))


class SmallVolumes(TempDirTest):
    """2 x 2 x 2-cell fixtures (8 synapses) for variants and bad input."""

    def generate(self, **options):
        return fixture.generate(self.tmp / "src", grid=(2, 2, 2), **options)

    def crops_touching(self, m, z):
        return sorted(i for i, s in m["synapses"].items()
                      if s["voxel"][2] - CROP_DEPTH // 2 <= z < s["voxel"][2] - CROP_DEPTH // 2 + CROP_DEPTH)

    def test_tiff_slices_with_json_metadata_and_no_neuron_ids(self):
        m = self.generate(storage="tiff", metadata="json")
        build(self.tmp / "src", self.tmp / "out", "--sizes", 28)
        arrays, _ = load_npz(self.tmp / "out" / "synapsemnist3d.npz")
        ids = ids_by_split(self.tmp / "out")
        for split in SPLITS:
            for i, sid in enumerate(ids[split]):
                self.assertEqual(fixture.label_from_crop(arrays[f"{split}_images"][i]), m["synapses"][sid]["label"])
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertIn("per class, image by image", side["parameters"]["split_rule"])
        assert_per_class_cut(self, side, lambda i: m["synapses"][i]["label"], [7, 1, 2])

    def test_truncated_slice_fails_naming_it(self):
        self.generate(truncate_slice=40)
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("EM30-R/im/im0040.png", proc.stderr)
        self.assertIn("truncated", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])

    def test_truncated_slice_skips_exactly_the_crops_that_need_it(self):
        m = self.generate(truncate_slice=40)
        build(self.tmp / "src", self.tmp / "out", "--on-error", "skip", "--threads", 2)
        side = sidecar(self.tmp / "out", FLAG, 28)
        hit = self.crops_touching(m, 40)
        self.assertTrue(hit)
        self.assertEqual(len(side["skipped"]), len(hit))
        self.assertTrue(all(s["input"] == "EM30-R/im/im0040.png" for s in side["skipped"]))
        self.assertEqual(sorted(sum(side["source_ids"].values(), [])), sorted(set(m["synapses"]) - set(hit)))

    def test_malformed_csv_row_names_file_and_line(self):
        self.generate()
        csv = self.tmp / "src" / "EM30-R" / "synapses.csv"
        lines = csv.read_text().splitlines()
        lines[3] = lines[3].replace("excitatory", "maybe").replace("inhibitory", "maybe")
        csv.write_text("\n".join(lines) + "\n")
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("synapses.csv:4", proc.stderr)

    def test_check_names_a_missing_slice_and_writes_nothing(self):
        self.generate(missing_slice=12)
        before = sorted(str(p) for p in self.tmp.rglob("*"))
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing: EM30-R/im/im0012.png", proc.stdout)
        self.assertEqual(sorted(str(p) for p in self.tmp.rglob("*")), before)

    def test_corrupt_hdf5_is_a_named_error(self):
        self.generate(storage="hdf5")
        h5 = self.tmp / "src" / "EM30-R" / "volume.h5"
        h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("volume.h5", proc.stderr)


if __name__ == "__main__":
    unittest.main()
