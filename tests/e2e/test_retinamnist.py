"""RetinaMNIST end to end on generated DeepDRiD trees (tools/fixtures/make_deepdrid_fixture.py)."""
import unittest

import numpy as np

from mmbtest import (SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_centroids_separate,
                     assert_check_missing, assert_failed_naming, assert_index_map_applied,
                     assert_label_names_equal_info, assert_official_loader_reads, assert_skipped, load_npz, load_tool,
                     run, sidecar, split_counts, write_reorder_and_drop_map)

FLAG = "retinamnist"
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_deepdrid_fixture")


def labels_by_id(arrays, side):
    return {i: int(arrays[f"{s}_labels"][k, 0]) for s in SPLITS for k, i in enumerate(side["source_ids"][s])}


def drawn_label(img28):
    """The label from the bar: the bar column (0..4) whose mean brightness is highest."""
    a = np.asarray(img28, dtype=np.float64).mean(axis=2)
    return int(np.argmax([a[10:18, fixture.bar_column_28(k)].mean() for k in range(5)]))


class DefaultTree(BuiltOnceAtEverySize, unittest.TestCase):
    """One fixture (LF training CSV, CRLF validation CSV, every quirk), built once at every size."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-retina-"

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src)

    def images(self, *splits):
        return {i: m for i, m in self.manifest["images"].items() if m["split"] in splits}

    def test_rgb_uint8_shapes_at_every_size(self):
        for size, arrays in self.files.items():
            assert_arrays(self, arrays, size, split_counts(self.side), rgb=True, nonempty=True)

    def test_manifest_label_names_equal_info(self):
        assert_label_names_equal_info(self, FLAG)

    def test_labels_stay_with_their_images(self):
        a = self.files[28]
        assert_centroids_separate(self, a)
        got = labels_by_id(a, self.side)
        self.assertEqual(got, {i: m["label"] for i, m in self.images("train_val", "test").items()})
        for split in SPLITS:
            decoded = [drawn_label(img) for img in a[f"{split}_images"]]
            self.assertEqual(decoded, list(a[f"{split}_labels"][:, 0]), split)

    def test_validation_folder_is_the_test_set(self):
        self.assertEqual(sorted(self.side["source_ids"]["test"]), sorted(self.images("test")))

    def test_training_folder_splits_9_to_1_image_by_image(self):
        train, val = self.side["source_ids"]["train"], self.side["source_ids"]["val"]
        self.assertEqual(sorted(train + val), sorted(self.images("train_val")))
        # One pooled cut, round half up: 1,200 -> 1,080 / 120 whatever the grade counts.
        n = len(train + val)
        self.assertEqual(len(val), int(n / 10 + 0.5))
        self.assertIn("9:1", self.side["parameters"]["split_rule"])
        self.assertIn("pooled, image by image", self.side["parameters"]["split_rule"])
        self.assertEqual((self.side["split"]["method"], self.side["split"]["group"]), ("pooled", "none"))

    def test_group_subject_keeps_each_patient_in_one_split(self):
        out = self.root / "out-grouped"
        run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28", "-q", "--group", "subject")
        side = sidecar(out, FLAG, 28)
        patient = {i: m["patient"] for i, m in self.manifest["images"].items()}
        sets = [{patient[i] for i in side["source_ids"][s]} for s in SPLITS]
        self.assertFalse(sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        self.assertEqual(sorted(side["source_ids"]["test"]), sorted(self.images("test")))

    def test_ungradable_level_5_is_dropped_with_a_note(self):
        ungradable = self.manifest["quirks"]["ungradable"]
        self.assertNotIn(ungradable, all_ids(self.side))
        self.assertTrue(any("DR level 5" in w and ungradable in w for w in self.side["warnings"]))
        self.assertEqual(self.side["skipped"], [])

    def test_backslash_paths_extra_ids_and_unprefixed_file_are_all_found(self):
        q = self.manifest["quirks"]
        ids = all_ids(self.side)
        for image_id in q["extra_ids"] + [q["no_prefix"]]:
            self.assertIn(image_id, ids)
        self.assertTrue(any(q["no_prefix"] in w and "without the patient prefix" in w for w in self.side["warnings"]))
        self.assertEqual(len(ids), len(self.images("train_val", "test")))

    def test_mismatched_eye_column_takes_the_filled_one(self):
        q = self.manifest["quirks"]
        self.assertTrue(q["mismatched_eye"])
        labels = labels_by_id(self.files[28], self.side)
        for image_id in q["mismatched_eye"]:
            self.assertEqual(labels[image_id], self.manifest["images"][image_id]["label"], image_id)
        self.assertTrue(any("contradicts the l/r" in w for w in self.side["warnings"]))

    def test_lf_training_and_crlf_validation_csvs_both_parse(self):
        self.assertEqual(self.manifest["line_endings"], {"training": "lf", "validation": "crlf"})
        self.assertEqual(len(self.side["source_ids"]["test"]), len(self.images("test")))

    def test_center_square_crop_removes_the_side_margins(self):
        # The fixture paints the columns outside the centre square white; they must be gone.
        for split in SPLITS:
            img = self.files[224][f"{split}_images"]
            self.assertLess(int(img[:, :, :2].max()), 60)
            self.assertLess(int(img[:, :, -2:].max()), 60)

    def test_online_challenge_images_are_ignored(self):
        self.assertEqual(len(all_ids(self.side)), len(self.images("train_val", "test")))

    def test_official_loader_reads_every_size_as_rgb(self):
        assert_official_loader_reads(self, FLAG, self.root / "out", split_counts(self.side), SIZES, "RGB")


class Variants(TempDirTest):
    def build(self, *extra, check=True):
        return run("build", FLAG, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28", "-q",
                   *extra, check=check)

    def test_patient_label_column_takes_patient_dr_level(self):
        m = fixture.generate(self.tmp / "src", train_patients=6, val_patients=2)
        self.build("--set", "source.label_column=patient")
        side = sidecar(self.tmp / "out", FLAG, 28)
        labels = labels_by_id(load_npz(self.tmp / "out" / "retinamnist.npz")[0], side)
        self.assertEqual(labels, {i: m["images"][i]["patient_level"] for i in labels})
        self.assertNotIn(m["quirks"]["ungradable"], labels)
        self.assertTrue(any(m["images"][i]["patient_level"] != m["images"][i]["label"] for i in labels))

    def test_crlf_everywhere(self):
        m = fixture.generate(self.tmp / "src", train_patients=4, val_patients=2, line_endings="crlf")
        self.build()
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(len(all_ids(side)), sum(1 for i in m["images"].values() if i["split"] != "dropped"))

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", train_patients=6, val_patients=2)
        names = sorted(i for i, v in m["images"].items() if v["split"] != "dropped")
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", names)
        self.build("--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 28)
        arrays = load_npz(self.tmp / "out" / "retinamnist.npz")[0]
        assert_index_map_applied(self, side, kept, names, arrays, lambda i: m["images"][i]["label"], drawn_label)

    def test_check_names_a_deleted_file(self):
        m = fixture.generate(self.tmp / "src", train_patients=4, val_patients=2)
        victim = next(i for i, v in sorted(m["images"].items()) if v["split"] == "test")
        (self.tmp / "src" / m["images"][victim]["path"]).unlink()
        assert_check_missing(self, FLAG, self.tmp / "src", m["images"][victim]["path"])

    def test_truncated_jpeg_fails_by_name_or_is_skipped(self):
        m = fixture.generate(self.tmp / "src", train_patients=4, val_patients=2)
        victim_id = sorted(i for i, v in m["images"].items() if v["split"] == "test")[1]
        fixture.generate(self.tmp / "src", train_patients=4, val_patients=2, truncate=victim_id)
        victim = m["images"][victim_id]["path"]
        assert_failed_naming(self, self.build(check=False), self.tmp / "out", victim, "truncated JPEG")
        self.build("--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", FLAG, [victim])
        self.assertNotIn(victim_id, all_ids(side))

    def test_malformed_row_names_file_and_line(self):
        fixture.generate(self.tmp / "src", train_patients=4, val_patients=2)
        csv = self.tmp / "src/regular_fundus_images/regular-fundus-training/regular-fundus-training.csv"
        lines = csv.read_text().split("\n")
        fields = lines[5].split(",")
        fields[4], fields[5] = "", ""  # neither eye column filled
        lines[5] = ",".join(fields)
        csv.write_text("\n".join(lines))
        proc = self.build(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("regular-fundus-training.csv:6", proc.stderr)
        self.assertIn("neither left_eye_DR_Level nor right_eye_DR_Level", proc.stderr)


if __name__ == "__main__":
    unittest.main()
