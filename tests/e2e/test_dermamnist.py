"""DermaMNIST end to end on generated HAM10000 trees (tools/fixtures/make_ham10000_fixture.py)."""
import unittest

import numpy as np

from mmbtest import (SPLITS, BuiltOnceAtEverySize, TempDirTest, all_ids, assert_arrays, assert_check_missing,
                     assert_failed_naming, assert_index_map_applied, assert_label_names_equal_info,
                     assert_official_loader_reads, assert_skipped, load_npz, load_tool, nearest_centroid_accuracy, run,
                     sidecar, write_reorder_and_drop_map)

FLAG = "dermamnist"
fixture_common = load_tool("fixture_common")
SIZES = [28, 64, 128, 224]
fixture = load_tool("make_ham10000_fixture")


def expected_ids(manifest, key="split"):
    return {s: sorted(i for i, img in manifest["images"].items() if img[key] == s) for s in SPLITS}


def build(src, out, *extra, check=True):
    return run("build", FLAG, "--source", src, "--out", out, "--sizes", "28", "-q", *extra, check=check)


def lesions_per_split(manifest, side):
    return [{manifest["images"][i]["lesion"] for i in side["source_ids"][s]} for s in SPLITS]


class Ham10000EightColumns(BuiltOnceAtEverySize, unittest.TestCase):
    """The default tree (both parts folders, 8-column CSV, ids with and without .jpg), built once."""

    FLAG = FLAG
    TMP_PREFIX = "mmb-derma-"
    WITH_KEYS = True

    @classmethod
    def make_source(cls, src):
        return fixture.generate(src)

    def test_every_size_has_rgb_uint8_images_and_n_by_1_labels(self):
        expected = expected_ids(self.manifest)
        for size, (arrays, keys) in self.files.items():
            assert_arrays(self, arrays, size, [len(expected[s]) for s in SPLITS], rgb=True, keys=keys)

    def test_label_names_equal_info_and_dx_codes_are_alphabetical(self):
        manifest = assert_label_names_equal_info(self, FLAG)
        codes = manifest["source"]["dx_codes"]
        self.assertEqual(codes, sorted(codes))
        self.assertEqual(codes, fixture.DX_CODES)

    def test_splits_follow_medmnists_per_class_rule_image_by_image(self):
        self.assertEqual(self.side["source_ids"], expected_ids(self.manifest))
        self.assertIn("per class, image by image", self.side["parameters"]["split_rule"])
        split = self.side["split"]
        self.assertEqual((split["method"], split["group"], split["seed"], split["ratios"]),
                         ("per-class", "none", self.manifest["split_seed"], [7, 1, 2]))
        self.assertEqual((split["seed_from"], split["group_from"]), ("manifest", "manifest"))
        per_class = {}
        for s, ids in self.side["source_ids"].items():
            for i in ids:
                per_class.setdefault(self.manifest["images"][i]["label"], {}).setdefault(s, 0)
                per_class[self.manifest["images"][i]["label"]][s] += 1
        for label, got in per_class.items():
            n = sum(got.values())
            cut = dict(zip(SPLITS, fixture_common.medmnist_class_cut(n, [7, 1, 2])))
            self.assertEqual({s: got.get(s, 0) for s in SPLITS}, cut, label)

    def test_labels_stay_with_their_images(self):
        arrays = self.files[28][0]
        train_y = arrays["train_labels"][:, 0]
        self.assertEqual(set(train_y), set(range(7)), "every class needs a training centroid")
        for split in SPLITS:
            x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0]
            self.assertEqual(nearest_centroid_accuracy(arrays["train_images"], train_y, x, y), 1.0, split)
            self.assertEqual([fixture.decode_28(img) for img in x], y.tolist())
            self.assertEqual(y.tolist(), [self.manifest["images"][i]["label"] for i in self.side["source_ids"][split]])

    def test_both_parts_folders_feed_the_output(self):
        folders = {self.manifest["images"][i]["path"].split("/")[0] for s in SPLITS for i in self.side["source_ids"][s]}
        self.assertEqual(folders, {"HAM10000_images_part_1", "HAM10000_images_part_2"})
        self.assertIn("images in HAM10000_images_part_1, HAM10000_images_part_2", self.side["warnings"])

    def test_ids_are_the_isic_stem_whether_or_not_the_csv_has_jpg(self):
        fields = [img["id_field"] for img in self.manifest["images"].values()]
        self.assertTrue(any(f.endswith(".jpg") for f in fields) and not all(f.endswith(".jpg") for f in fields))
        ids = sum((self.side["source_ids"][s] for s in SPLITS), [])
        self.assertEqual(sorted(ids), sorted(self.manifest["images"]))
        self.assertTrue(all(i.startswith("ISIC_") and not i.endswith(".jpg") for i in ids))

    def test_empty_ages_and_the_dataset_column_are_accepted(self):
        self.assertTrue(any(img["age"] == "" for img in self.manifest["images"].values()))
        self.assertEqual(self.side["skipped"], [])
        self.assertIn("labels from HAM10000_metadata.csv (8 columns, with 'dataset')", self.side["warnings"])

    def test_official_loader_reads_every_size_as_rgb(self):
        expected = expected_ids(self.manifest)
        assert_official_loader_reads(self, FLAG, self.root / "out", [len(expected[s]) for s in SPLITS], SIZES, "RGB")

    def test_whole_600x450_picture_is_resized_without_crop(self):
        # Bars 0 and 6 lie in the outer 75 px columns that a centre-square crop would cut.
        out = self.root / "cropped"
        build(self.root / "src", out, "--set", "preprocess.crop=center_square")
        arrays = load_npz(out / "dermamnist.npz")[0]
        uncropped = self.files[28][0]
        for split in SPLITS:
            edge = np.isin(arrays[f"{split}_labels"][:, 0], [0, 6])
            band = np.s_[:, 2:8, :]  # the label band, channel means: white bar ~250, skin ~170
            if edge.any():
                self.assertTrue((uncropped[f"{split}_images"][edge][band].mean(axis=3).max(axis=(1, 2)) > 230).all())
                self.assertTrue((arrays[f"{split}_images"][edge][band].mean(axis=3).max(axis=(1, 2)) < 220).all())


class LayoutsAndSplitRules(TempDirTest):
    def build_variant(self, *extra, **options):
        m = fixture.generate(self.tmp / "src", **options)
        build(self.tmp / "src", self.tmp / "out", *extra)
        return m, load_npz(self.tmp / "out" / "dermamnist.npz")[0], sidecar(self.tmp / "out", FLAG, 28)

    def assert_labels_match(self, m, arrays, side):
        for split in SPLITS:
            labels = arrays[f"{split}_labels"][:, 0].tolist()
            self.assertEqual(labels, [m["images"][i]["label"] for i in side["source_ids"][split]])
            self.assertEqual([fixture.decode_28(img) for img in arrays[f"{split}_images"]], labels)

    def test_seven_column_metadata_without_dataset_column(self):
        m, arrays, side = self.build_variant(columns=7, lesions=10)
        self.assertIn("labels from HAM10000_metadata.csv (7 columns)", side["warnings"])
        self.assertEqual(side["source_ids"], expected_ids(m))
        self.assert_labels_match(m, arrays, side)

    def test_dataverse_tab_file_with_quoted_strings(self):
        m, arrays, side = self.build_variant(metadata_name="tab", lesions=10)
        self.assertIn('"HAM_', (self.tmp / "src" / "HAM10000_metadata.tab").read_text())
        self.assertEqual(side["source_ids"], expected_ids(m))
        self.assert_labels_match(m, arrays, side)

    def test_metadata_file_without_extension(self):
        m, arrays, side = self.build_variant(metadata_name="bare", id_ext="all", lesions=10)
        self.assertIn("dermamnist: layout: HAM10000 (HAM10000_metadata)\n",
                      run("check", FLAG, "--source", self.tmp / "src", check=False).stdout)
        self.assertEqual(side["source_ids"], expected_ids(m))
        self.assertIn(f"{len(m['images'])} image_id values carry '.jpg'", side["warnings"])

    def test_kaggle_duplicate_folders_give_each_image_once(self):
        m, arrays, side = self.build_variant(kaggle_copies=True, lesions=10)
        self.assertEqual(side["source_ids"], expected_ids(m))
        self.assertTrue(any(w.startswith(f"{len(m['images'])} duplicate image names") for w in side["warnings"]))
        self.assertIn("images in HAM10000_images_part_1, HAM10000_images_part_2", side["warnings"])

    def test_isic2018_layout_with_lesion_groupings(self):
        m, arrays, side = self.build_variant("--group", "subject", layout="isic2018", lesions=16)
        self.assertIn("lesions from ISIC2018_Task3_Training_LesionGroupings.csv", side["warnings"])
        self.assertEqual(side["source_ids"], expected_ids(m, "split_by_lesion"))
        train, val, test = lesions_per_split(m, side)
        self.assertFalse(train & val or train & test or val & test)
        self.assert_labels_match(m, arrays, side)

    def test_isic2018_layout_without_groupings_splits_image_by_image(self):
        m, arrays, side = self.build_variant(layout="isic2018", groupings=False, lesions=16)
        self.assertTrue(any("each image is its own group" in w for w in side["warnings"]))
        self.assertEqual(side["source_ids"], expected_ids(m, "split_by_image"))
        self.assert_labels_match(m, arrays, side)

    def test_group_subject_keeps_each_lesion_in_one_split_and_is_recorded(self):
        m, arrays, side = self.build_variant("--group", "subject", "--seed", "5", lesions=24)
        self.assertNotEqual(m["split_seed"], 5)
        self.assertEqual((side["split"]["group"], side["split"]["group_from"]), ("subject", "--group"))
        self.assertEqual((side["split"]["seed"], side["split"]["seed_from"]), (5, "--seed"))
        expected = fixture_common.expected_class_splits(
            {i: (img["label"], img["lesion"]) for i, img in m["images"].items()}, [7, 1, 2], 5, grouped=True)
        self.assertEqual(side["source_ids"], {s: sorted(i for i in expected if expected[i] == s) for s in SPLITS})
        train, val, test = lesions_per_split(m, side)
        self.assertFalse(train & val or train & test or val & test)
        multi = [l for l in train | val | test if sum(i["lesion"] == l for i in m["images"].values()) > 1]
        self.assertGreaterEqual(len(multi), 5)
        self.assert_labels_match(m, arrays, side)

    def test_group_none_on_the_cli_is_recorded_as_such(self):
        m, arrays, side = self.build_variant("--group", "none", lesions=24)
        self.assertEqual(side["source_ids"], expected_ids(m, "split_by_image"))
        self.assertEqual((side["split"]["group"], side["split"]["group_from"]), ("none", "--group"))

    def test_index_map_reorders_and_drops(self):
        m = fixture.generate(self.tmp / "src", lesions=10)
        kept = write_reorder_and_drop_map(self.tmp / "map.csv", m["images"], index=lambda i: i // 3)
        build(self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        side = sidecar(self.tmp / "out", FLAG, 28)
        arrays = load_npz(self.tmp / "out" / "dermamnist.npz")[0]
        assert_index_map_applied(self, side, kept, m["images"], arrays, lambda i: m["images"][i]["label"],
                                 fixture.decode_28)


class BadInput(TempDirTest):
    def test_check_names_a_deleted_image_and_exits_1(self):
        m = fixture.generate(self.tmp / "src", lesions=8)
        victim = sorted(m["images"])[3]
        (self.tmp / "src" / m["images"][victim]["path"]).unlink()
        assert_check_missing(self, FLAG, self.tmp / "src", f"{victim}.jpg")

    def test_truncated_jpeg_fails_naming_the_file(self):
        m = fixture.generate(self.tmp / "src", lesions=8)
        victim = sorted(m["images"])[2]
        fixture.generate(self.tmp / "src", lesions=8, truncate=victim)
        assert_failed_naming(self, build(self.tmp / "src", self.tmp / "out", check=False), self.tmp / "out",
                             f"{m['images'][victim]['path']}: truncated JPEG")

    def test_truncated_jpeg_is_recorded_and_skipped_with_on_error_skip(self):
        m = fixture.generate(self.tmp / "src", lesions=8)
        victim = sorted(m["images"])[2]
        fixture.generate(self.tmp / "src", lesions=8, truncate=victim)
        build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = assert_skipped(self, self.tmp / "out", FLAG, [m["images"][victim]["path"]], "truncated JPEG")
        self.assertEqual(sorted(all_ids(side)), sorted(set(m["images"]) - {victim}))

    def test_unknown_dx_and_short_row_name_file_and_line(self):
        fixture.generate(self.tmp / "src", lesions=6)
        csv = self.tmp / "src" / "HAM10000_metadata.csv"
        lines = csv.read_text().splitlines()
        fields = lines[2].split(",")
        lines[2] = ",".join(fields[:2] + ["xyz"] + fields[3:])
        lines[4] = ",".join(lines[4].split(",")[:5])
        csv.write_text("\n".join(lines) + "\n")
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r"HAM10000_metadata\.csv:[35]: ")
        check = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(check.returncode, 1)
        self.assertIn("problem: HAM10000_metadata.csv:3: unknown dx 'xyz'", check.stdout)
        self.assertIn("problem: HAM10000_metadata.csv:5: expected 8 fields as in the header, got 5", check.stdout)

    def test_metadata_without_a_dx_column_is_refused_by_name(self):
        fixture.generate(self.tmp / "src", lesions=4)
        csv = self.tmp / "src" / "HAM10000_metadata.csv"
        csv.write_text(csv.read_text().replace(",dx,", ",diagnosis,", 1))
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("HAM10000_metadata.csv: no column 'dx' in the header", proc.stderr)


if __name__ == "__main__":
    unittest.main()
