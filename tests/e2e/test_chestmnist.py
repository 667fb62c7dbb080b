"""ChestMNIST end to end on generated NIH ChestX-ray14 trees (tools/fixtures/make_chest_fixture.py)."""
import os
import pathlib
import signal
import subprocess
import tempfile
import time
import unittest

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import (BINARY, INFO, TempDirTest, load_npz, load_tool, nearest_centroid_accuracy, npz_name, run,
                     sha256, sidecar)

FLAG = "chestmnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_chest_fixture")


def expected_by_split(manifest):
    """{split: sorted [(name, labels)]} from a CheXNet-list fixture manifest."""
    out = {"train": [], "val": [], "test": []}
    for name, image in sorted(manifest["images"].items()):
        out[image["split"]].append((name, image["labels"]))
    return out


class BoxLayoutWithCheXNetLists(unittest.TestCase):
    """One fixture, built once at every size; the tests read the outputs."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-chest-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src", layout="box", csv="v2020", lists="chexnet")
        cls.result = run("build", FLAG, "--source", cls.root / "src", "--out", cls.root / "out", "--threads", 2)
        cls.files = {s: load_npz(cls.root / "out" / npz_name(FLAG, s)) for s in SIZES}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_writes_the_four_official_file_names(self):
        names = sorted(p.name for p in (self.root / "out").glob("*.npz"))
        self.assertEqual(names, sorted(["chestmnist.npz", "chestmnist_64.npz", "chestmnist_128.npz", "chestmnist_224.npz"]))

    def test_keys_in_official_order_with_uint8_shapes(self):
        expected = expected_by_split(self.manifest)
        for size, (arrays, keys) in self.files.items():
            self.assertEqual(keys, ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"])
            for split, rows in expected.items():
                images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
                self.assertEqual(images.dtype, np.uint8)
                self.assertEqual(labels.dtype, np.uint8)
                self.assertEqual(images.shape, (len(rows), size, size))
                self.assertEqual(labels.shape, (len(rows), 14))

    def test_split_membership_and_labels_follow_the_chexnet_lists(self):
        expected = expected_by_split(self.manifest)
        side = sidecar(self.root / "out", FLAG, 28)
        for split, rows in expected.items():
            self.assertEqual(side["source_ids"][split], [name for name, _ in rows])
            labels = self.files[28][0][f"{split}_labels"]
            np.testing.assert_array_equal(labels, np.array([l for _, l in rows], dtype=np.uint8).reshape(-1, 14))
            np.testing.assert_array_equal(labels.sum(axis=0), np.array([l for _, l in rows]).reshape(-1, 14).sum(axis=0))

    def test_labels_stay_with_their_images(self):
        arrays = self.files[28][0]
        train_x, train_y = arrays["train_images"], arrays["train_labels"]
        for split in ("val", "test"):
            x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
            for k in range(14):
                if len(np.unique(train_y[:, k])) < 2:
                    continue
                cell = np.s_[:, 7 * (k // 4):7 * (k // 4) + 7, 7 * (k % 4):7 * (k % 4) + 7]  # label k's drawn cell
                acc = nearest_centroid_accuracy(train_x[cell], train_y[:, k], x[cell], y[:, k])
                self.assertEqual(acc, 1.0, f"label {k} in {split}")
            decoded = np.array([fixture.decode_28(img) for img in x]).reshape(-1, 14)
            np.testing.assert_array_equal(decoded, y)

    def test_rgba_la_and_rgb_sources_become_the_same_gray_picture(self):
        arrays = self.files[28][0]
        side = sidecar(self.root / "out", FLAG, 28)
        for name, image in self.manifest["images"].items():
            if image["mode"] == "L":
                continue
            split = image["split"]
            i = side["source_ids"][split].index(name)
            self.assertEqual(fixture.decode_28(arrays[f"{split}_images"][i]), image["labels"], name)

    def test_official_loader_reads_every_size_and_split(self):
        expected = expected_by_split(self.manifest)
        for size in SIZES:
            for split, rows in expected.items():
                ds = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, n_samples=len(rows))
                self.assertEqual(len(ds), len(rows))
                img, target = ds[0]
                self.assertEqual((img.mode, img.size), ("L", (size, size)))
                self.assertEqual(target.shape, (14,))
                rgb, _ = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, as_rgb=True,
                                        n_samples=len(rows))[0]
                self.assertEqual(rgb.mode, "RGB")

    def test_official_loader_rejects_counts_that_differ_from_info(self):
        ds = OfficialLoader(INFO, FLAG, "train", str(self.root / "out"), size=28)
        with self.assertRaises(AssertionError):
            len(ds)

    def test_sidecar_records_sha256_manifest_and_parameters(self):
        for size in SIZES:
            side = sidecar(self.root / "out", FLAG, size)
            self.assertEqual(side["sha256"], sha256(self.root / "out" / npz_name(FLAG, size)))
            self.assertEqual(side["manifest"]["content"]["dataset"]["flag"], FLAG)
            self.assertIn("CheXNet", side["parameters"]["split_rule"])
            self.assertEqual(side["skipped"], [])

    def test_larger_sizes_are_resized_from_the_source_not_from_28(self):
        # At 224 the 11-pixel gap between cells 0 and 1 still shows the flat 128
        # background; upsampling a 28 image (where the gap is under a pixel) could not.
        for split in ("train", "val", "test"):
            for img in self.files[224][0][f"{split}_images"]:
                self.assertLessEqual(abs(int(img[28, 56]) - 128), 2)

    def test_montage_writes_a_png_grid(self):
        out = self.root / "montage.png"
        run("montage", self.root / "out" / "chestmnist_64.npz", "--split", "train", "--length", 3, "--out", out)
        from PIL import Image
        with Image.open(out) as im:
            self.assertEqual(im.size, (3 * 64, 3 * 64))


class Determinism(TempDirTest):
    def test_identical_bytes_for_one_and_two_threads(self):
        fixture.generate(self.tmp / "src", layout="kaggle", csv="2017", lists="chexnet", patients=20)
        for threads in (1, 2):
            run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / f"t{threads}", "--threads", threads, "-q")
        for size in SIZES:
            self.assertEqual(sha256(self.tmp / "t1" / npz_name(FLAG, size)), sha256(self.tmp / "t2" / npz_name(FLAG, size)))

    def test_no_compress_gives_the_same_arrays_stored(self):
        fixture.generate(self.tmp / "src", patients=10)
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "z", "--sizes", "28", "-q")
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "s", "--sizes", "28", "--no-compress", "-q")
        a, _ = load_npz(self.tmp / "z" / "chestmnist.npz")
        b, _ = load_npz(self.tmp / "s" / "chestmnist.npz")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
        import zipfile
        with zipfile.ZipFile(self.tmp / "s" / "chestmnist.npz") as z:
            self.assertTrue(all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist()))
        with zipfile.ZipFile(self.tmp / "z" / "chestmnist.npz") as z:
            self.assertTrue(all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist()))


class LayoutsAndSplitRules(TempDirTest):
    def build(self, **options):
        m = fixture.generate(self.tmp / "src", **options)
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q")
        return m, load_npz(self.tmp / "out" / "chestmnist.npz")[0], sidecar(self.tmp / "out", FLAG, 28)

    def patients(self, side, split):
        return {name.split("_")[0] for name in side["source_ids"][split]}

    def test_kaggle_layout_and_2017_csv_with_trailing_comma(self):
        m, arrays, side = self.build(layout="kaggle", csv="2017", lists="chexnet")
        self.assertEqual(sum(len(side["source_ids"][s]) for s in ("train", "val", "test")), len(m["images"]))
        total = sum(arrays[f"{s}_labels"].sum(axis=0) for s in ("train", "val", "test"))
        np.testing.assert_array_equal(total, np.array([i["labels"] for i in m["images"].values()]).sum(axis=0))

    def test_nih_lists_fix_the_test_set_and_split_train_val_by_patient(self):
        m, arrays, side = self.build(lists="nih")
        test_names = sorted(n for n, i in m["images"].items() if i["split"] == "test")
        self.assertEqual(side["source_ids"]["test"], test_names)
        self.assertFalse(self.patients(side, "train") & self.patients(side, "val"))
        self.assertGreater(len(side["source_ids"]["train"]), 3 * len(side["source_ids"]["val"]))

    def test_without_lists_patients_never_cross_splits(self):
        m, arrays, side = self.build(lists="none", patients=60)
        sets = [self.patients(side, s) for s in ("train", "val", "test")]
        self.assertFalse(sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        n = len(m["images"])
        self.assertAlmostEqual(len(side["source_ids"]["test"]) / n, 0.2, delta=0.08)

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", patients=12)
        names = sorted(m["images"])
        kept = names[::-1][:-3]  # reversed, three dropped
        rows = ["split,index,image_id"] + [f"{'train' if i % 3 else 'test'},{i},{n}" for i, n in enumerate(kept)]
        (self.tmp / "map.csv").write_text("\n".join(rows) + "\n")
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q",
            "--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(side["source_ids"]["train"], [n for i, n in enumerate(kept) if i % 3])
        self.assertEqual(side["source_ids"]["test"], [n for i, n in enumerate(kept) if not i % 3])
        self.assertEqual(sorted(side["dropped_by_split_rule"]), sorted(names[:3]))
        arrays = load_npz(self.tmp / "out" / "chestmnist.npz")[0]
        first = side["source_ids"]["train"][0]
        self.assertEqual(fixture.decode_28(arrays["train_images"][0]), m["images"][first]["labels"])


class BadInput(TempDirTest):
    def test_truncated_png_fails_naming_the_file(self):
        m = fixture.generate(self.tmp / "src", patients=8, truncate="00000003_000.png")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("00000003_000.png", proc.stderr)
        self.assertIn("truncated PNG", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*")), [])

    def test_truncated_png_is_recorded_and_skipped_with_on_error_skip(self):
        m = fixture.generate(self.tmp / "src", patients=8, truncate="00000003_000.png")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", "--on-error", "skip")
        self.assertIn("00000003_000.png", proc.stderr)
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual([s["input"] for s in side["skipped"]], ["images/00000003_000.png"])
        all_ids = sum((side["source_ids"][s] for s in ("train", "val", "test")), [])
        self.assertNotIn("00000003_000.png", all_ids)
        self.assertEqual(len(all_ids), len(m["images"]) - 1)

    def test_malformed_csv_row_names_file_and_line(self):
        fixture.generate(self.tmp / "src", patients=6)
        csv = self.tmp / "src" / "Data_Entry_2017_v2020.csv"
        lines = csv.read_text().splitlines()
        lines[3] = lines[3].replace(",", ";", 4)
        csv.write_text("\n".join(lines) + "\n")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("Data_Entry_2017_v2020.csv:4", proc.stderr)

    def test_check_names_a_missing_file_and_writes_nothing(self):
        m = fixture.generate(self.tmp / "src", patients=8)
        victim = sorted(m["images"])[5]
        (self.tmp / "src" / "images" / victim).unlink()
        before = sorted(str(p) for p in self.tmp.rglob("*"))
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"missing: {victim}", proc.stdout)
        self.assertIn("count train:", proc.stdout)
        self.assertEqual(sorted(str(p) for p in self.tmp.rglob("*")), before)

    def test_check_reports_ids_an_index_map_names_but_the_source_lacks(self):
        m = fixture.generate(self.tmp / "src", patients=4)
        rows = ["split,index,image_id", "train,0,00000001_000.png", "test,0,99999999_123.png"]
        (self.tmp / "map.csv").write_text("\n".join(rows) + "\n")
        proc = run("check", FLAG, "--source", self.tmp / "src", "--index-map", self.tmp / "map.csv", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing: 99999999_123.png (named by the split map or lists)", proc.stdout)

    def test_check_reports_truncated_and_unexpected_files(self):
        fixture.generate(self.tmp / "src", patients=8, truncate="00000003_000.png")
        (self.tmp / "src" / "images" / "99999999_000.png").write_bytes(
            (self.tmp / "src" / "images" / "00000001_000.png").read_bytes())
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertIn("unreadable: images/00000003_000.png: truncated PNG", proc.stdout)
        self.assertIn("unexpected: images/99999999_000.png", proc.stdout)

    def wait_for_partial(self, out, proc, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if list(out.glob("*.partial-*")) and proc.poll() is None:
                time.sleep(0.05)
                return True
            time.sleep(0.05)
        return False

    def start_slow_build(self):
        # About 1,100 images: several seconds of work even with the fast PNG decoder, so the
        # signal lands while the build runs, also on a fast machine.
        fixture.generate(self.tmp / "src", patients=240, images_per_patient="4-5", size=512, lists="none")
        out = self.tmp / "out"
        proc = subprocess.Popen([str(BINARY), "build", FLAG, "--source", str(self.tmp / "src"), "--out", str(out),
                                 "--threads", "1", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.assertTrue(self.wait_for_partial(out, proc), "build finished before it could be interrupted")
        return proc, out

    def test_killed_build_leaves_no_npz(self):
        proc, out = self.start_slow_build()
        proc.kill()
        proc.communicate()
        self.assertEqual(list(out.glob("*.npz")), [])

    def test_interrupted_build_exits_130_and_removes_temporary_files(self):
        proc, out = self.start_slow_build()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(list(out.iterdir()), [])


class CommandLine(TempDirTest):
    def test_list_names_the_dataset_and_its_source(self):
        out = run("list").stdout
        self.assertIn("chestmnist (ChestMNIST, 2D", out)
        self.assertIn("Data_Entry_2017", out)

    def test_usage_errors_exit_2(self):
        self.assertEqual(run("build", FLAG, check=False).returncode, 2)
        self.assertEqual(run("frobnicate", check=False).returncode, 2)
        self.assertEqual(run("build", "nosuchmnist", "--source", ".", "--out", "x", check=False).returncode, 2)

    def test_help_everywhere(self):
        for cmd in ("build", "check", "montage"):
            proc = run(cmd, "--help")
            self.assertIn("usage: medmnist-build " + cmd, proc.stdout)

    def test_set_overrides_a_manifest_value(self):
        fixture.generate(self.tmp / "src", patients=6)
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q",
            "--set", "preprocess.resize_kernel=nearest")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(side["manifest"]["content"]["preprocess"]["resize_kernel"], "nearest")


class LabelSource(TempDirTest):
    """The CheXNet lists' own vectors (the 2017 labels) are the default labels; Data_Entry on request."""

    def setUp(self):
        super().setUp()
        self.m = fixture.generate(self.tmp / "src", layout="box", lists="chexnet")
        # Drop one label from one image in train_list.txt, as v2020 added labels the lists lack.
        self.train_list = next((self.tmp / "src").rglob("train_list.txt"))
        lines = self.train_list.read_text().splitlines()
        k = next(k for k, line in enumerate(lines) if "1" in line.split()[1:])
        words = lines[k].split()
        self.name, self.column = words[0], words[1:].index("1")
        words[1 + self.column] = "0"
        self.list_label = [int(w) for w in words[1:]]
        lines[k] = " ".join(words)
        self.train_list.write_text("\n".join(lines) + "\n")

    def label_of(self, out, name):
        side = sidecar(out, FLAG, 28)
        k = side["source_ids"]["train"].index(name)
        return load_npz(out / "chestmnist.npz")[0]["train_labels"][k].tolist(), side

    def test_default_takes_the_list_vectors_and_counts_the_differences(self):
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", 28, "-q")
        label, side = self.label_of(self.tmp / "out", self.name)
        self.assertEqual(label, self.list_label)
        self.assertIn("labels from the CheXNet lists (2017 labels); 1 images have other labels in the Data_Entry "
                      "file", " ".join(side["warnings"]))

    def test_data_entry_labels_on_request(self):
        run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", 28, "-q",
            "--set", "source.labels=data-entry")
        label, side = self.label_of(self.tmp / "out", self.name)
        self.assertEqual(label, self.m["images"][self.name]["labels"])
        self.assertEqual(label[self.column], 1)
        self.assertFalse(any("CheXNet lists (2017 labels)" in w for w in side["warnings"]))

    def test_malformed_list_row_names_file_and_line(self):
        with self.train_list.open("a") as f:
            f.write("00099999_000.png 0 1\n")
        proc = run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", 28, "-q",
                   check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        n = len(self.train_list.read_text().splitlines())
        self.assertIn(f"train_list.txt:{n}", proc.stderr)


if __name__ == "__main__":
    unittest.main()
