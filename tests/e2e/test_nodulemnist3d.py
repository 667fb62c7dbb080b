"""NoduleMNIST3D end to end on generated LIDC-IDRI trees (tools/fixtures/make_lidc_fixture.py).

The samples are checked against the fixture's plan and against an independent transcription of
pylidc's own ingest and clustering (populate.py, Scan.cluster_annotations, Annotation.centroid),
run here on the fixture's XML and DICOM headers.
"""
import pathlib
import re
import shutil
import tempfile
import unittest
from xml.etree import ElementTree

import numpy as np

from medmnist_loader import OfficialLoader
from mmbtest import INFO, TempDirTest, labelled_samples, load_npz, load_tool, npz_name, run, sha256, sidecar

FLAG = "nodulemnist3d"
SIZES = [28, 64]
SPLITS = ("train", "val", "test")
fixture = load_tool("make_lidc_fixture")


# ---- pylidc, transcribed (notmatthancock/pylidc: populate.py, Scan.py, Annotation.py, Contour.py) ----

def pylidc_annotations(xml_path, slice_z):
    import re as _re
    xml = ElementTree.fromstring(_re.sub(' xmlns="[^"]+"', '', pathlib.Path(xml_path).read_text()))
    anns = []
    for session in xml.findall('readingSession'):
        for ann in session.findall('unblindedReadNodule'):
            chars = ann.find('characteristics')
            if chars is None or len(chars) == 0:
                continue
            if any(c.text == '0' or c.text == '' or c.text is None for c in chars):
                continue
            contours = []
            for roi in ann.findall('roi'):
                if len(roi.findall('edgeMap')) <= 1:
                    continue
                contours.append((float(roi.find('imageZposition').text),
                                 [(int(em.find('yCoord').text), int(em.find('xCoord').text))
                                  for em in roi.findall('edgeMap')]))
            rows = []
            for z, pts in sorted(contours, key=lambda c: c[0]):
                k = np.abs(np.asarray(slice_z) - z).argmin()
                rows += [(i, j, k) for i, j in pts]
            anns.append({"malignancy": int(chars.find('malignancy').text), "points": np.array(rows)})
    return anns


def pylidc_clusters(anns, tol, factor=0.9):
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import cdist
    n = len(anns)
    if n <= 1:
        return [[i] for i in range(n)]
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d[i, j] = d[j, i] = cdist(anns[i]["points"], anns[j]["points"]).min()
    count, cids = connected_components(d <= tol, directed=False)
    while any((cids == c).sum() > 4 for c in np.unique(cids)):
        tol *= factor
        count, cids = connected_components(d <= tol, directed=False)
    clusters = [[] for _ in range(count)]
    for i, c in enumerate(cids):
        clusters[c].append(i)
    return sorted(clusters, key=lambda cl: np.mean([anns[i]["points"].mean(0)[2] for i in cl]))


def slice_positions(root, files):
    import pydicom
    return [float(pydicom.dcmread(str(root / f), stop_before_pixels=True).ImagePositionPatient[2]) for f in files]


def pylidc_expectation(manifest):
    """{id: label} as pylidc's clusters plus the mode (ties to the lowest) make them."""
    root = pathlib.Path(manifest["root"])
    expected = {}
    for patient, s in manifest["series"].items():
        anns = pylidc_annotations(root / s["xml"], slice_positions(root, s["files_in_z_order"]))
        for index, cluster in enumerate(pylidc_clusters(anns, s["thickness"])):
            mode = fixture.aggregated_mode([anns[i]["malignancy"] for i in cluster])
            if mode != 3:
                expected[f"{patient}_s{s['ordinal']}_n{index + 1:02d}"] = int(mode > 3)
    return expected


# ---- helpers --------------------------------------------------------------------------------

def build(src, out, *args, check=True):
    return run("build", FLAG, "--source", src, "--out", out, "-q", *args, check=check)


def samples(out, size=28):
    """[(split, id, image, label)] in file order."""
    arrays, _ = load_npz(pathlib.Path(out) / npz_name(FLAG, size))
    return labelled_samples(arrays, sidecar(out, FLAG, size))


def nodules_by_id(manifest):
    return {n["id"]: n for n in manifest["nodules"] if n["id"]}


class FourPatients(unittest.TestCase):
    """The default fixture, built once at both sizes with two threads."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-lidc-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src")
        cls.result = build(cls.root / "src", cls.root / "out", "--threads", 2)
        cls.side = sidecar(cls.root / "out", FLAG, 28)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_writes_the_two_official_file_names(self):
        self.assertEqual(sorted(p.name for p in (self.root / "out").glob("*.npz")),
                         ["nodulemnist3d.npz", "nodulemnist3d_64.npz"])

    def test_keys_shapes_and_dtypes_at_28_and_64(self):
        for size in SIZES:
            arrays, keys = load_npz(self.root / "out" / npz_name(FLAG, size))
            self.assertEqual(keys, ["train_images", "train_labels", "val_images", "val_labels", "test_images",
                                    "test_labels"])
            for split in SPLITS:
                n = len(self.side["source_ids"][split])
                self.assertEqual(arrays[f"{split}_images"].shape, (n, size, size, size))
                self.assertEqual(arrays[f"{split}_labels"].shape, (n, 1))
                self.assertEqual(arrays[f"{split}_images"].dtype, np.uint8)
                self.assertEqual(arrays[f"{split}_labels"].dtype, np.uint8)

    def test_label_map_equals_info(self):
        labels = self.side["manifest"]["content"]["dataset"]["labels"]
        self.assertEqual({str(i): name for i, name in enumerate(labels)}, INFO[FLAG]["label"])
        self.assertTrue(all(label in (0, 1) for _, _, _, label in samples(self.root / "out")))

    def test_samples_are_pylidcs_clusters_with_the_mode_label(self):
        got = {sid: label for _, sid, _, label in samples(self.root / "out")}
        self.assertEqual(got, pylidc_expectation(self.manifest))
        planned = {n["id"]: n["label"] for n in self.manifest["nodules"] if n["label"] is not None}
        self.assertEqual(got, planned)
        self.assertIn("LIDC-IDRI-0003_s1_n02", got)  # the stacked pair was split by the shrinking tol

    def test_labels_stay_with_their_samples(self):
        by_id = nodules_by_id(self.manifest)
        rows = samples(self.root / "out")
        self.assertEqual({label for *_, label in rows}, {0, 1})
        for split, sid, image, label in rows:
            self.assertEqual(fixture.decode_label(image), label, f"{split} {sid}: nodule size disagrees with label")
            self.assertEqual(label, by_id[sid]["label"], sid)

    def test_crops_are_centred_on_their_nodule(self):
        for split, sid, image, _ in samples(self.root / "out"):
            centre = fixture.bright_centre_of_mass(image)
            np.testing.assert_allclose(centre, [13.5] * 3, atol=1.0, err_msg=sid)

    def test_the_64_file_is_the_28_crop_upsampled_in_the_same_order(self):
        from skimage.transform import resize
        small, large = samples(self.root / "out", 28), samples(self.root / "out", 64)
        self.assertEqual([s[1] for s in small], [s[1] for s in large])
        for (_, sid, a, la), (_, _, b, lb) in zip(small, large):
            self.assertEqual(la, lb)
            back = resize(b.astype(float), (28, 28, 28), order=1, anti_aliasing=True, preserve_range=True)
            self.assertLess(np.abs(back - a).mean(), 6.0, sid)

    def test_no_crop_shows_the_dropped_duplicate_slice(self):
        for _, sid, image, _ in samples(self.root / "out"):
            self.assertFalse((image.reshape(28, -1).min(axis=1) >= 250).any(), sid)  # no all-bright plane

    def test_quirks_are_reported(self):
        warnings = "\n".join(self.side["warnings"])
        self.assertIn("duplicate z", warnings)
        self.assertIn("clustering tolerance shrunk from 2.500000 to 1.822500", warnings)
        self.assertIn("not CT, ignored: CR LIDC-IDRI/LIDC-IDRI-0001/", warnings)
        self.assertIn("1 with consensus malignancy 3 dropped", warnings)
        self.assertIn("1 IdriReadMessage XML", warnings)
        self.assertEqual(self.side["skipped"], [])

    def test_official_loader_reads_both_sizes(self):
        for size in SIZES:
            for split in ("train", "test"):
                n = len(sidecar(self.root / "out", FLAG, size)["source_ids"][split])
                ds = OfficialLoader(INFO, FLAG, split, str(self.root / "out"), size=size, n_samples=n)
                img, target = ds[0]
                self.assertEqual(img.shape, (1, size, size, size))
                self.assertLessEqual(img.max(), 1.0)
                self.assertEqual(target.shape, (1,))

    def test_list_names_the_dataset(self):
        self.assertIn("LidcReadMessage", run("list").stdout)


class TenPatients(unittest.TestCase):
    """Splits and determinism need more patients."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-lidc10-")
        cls.root = pathlib.Path(cls._tmp.name)
        cls.manifest = fixture.generate(cls.root / "src", patients=10)
        for threads in (1, 2):
            build(cls.root / "src", cls.root / f"t{threads}", "--threads", threads)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_identical_bytes_for_one_and_two_threads(self):
        for size in SIZES:
            self.assertEqual(sha256(self.root / "t1" / npz_name(FLAG, size)),
                             sha256(self.root / "t2" / npz_name(FLAG, size)))

    def test_no_patient_crosses_splits(self):
        side = sidecar(self.root / "t1", FLAG, 28)
        patients = [{sid.split("_")[0] for sid in side["source_ids"][s]} for s in SPLITS]
        self.assertTrue(all(patients), patients)  # every split has someone
        self.assertFalse(patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
        self.assertEqual(set().union(*patients), set(self.manifest["series"]))


class Options(TempDirTest):
    @classmethod
    def setUpClass(cls):
        cls._src = tempfile.TemporaryDirectory(prefix="mmb-lidc-src-")
        cls.src = pathlib.Path(cls._src.name)
        cls.manifest = fixture.generate(cls.src)

    @classmethod
    def tearDownClass(cls):
        cls._src.cleanup()

    def labels(self, *settings, size=28):
        args = [a for s in settings for a in ("--set", s)]
        build(self.src, self.tmp / "out", "--sizes", size, *args)
        return {sid: label for _, sid, _, label in samples(self.tmp / "out", size)}

    def test_mode_ties_go_to_the_lowest_score_by_default(self):
        self.assertEqual(self.labels()["LIDC-IDRI-0004_s1_n01"], 0)  # 2, 2, 4, 4

    def test_median_high_and_the_median_tie_rule_are_options(self):
        self.assertEqual(self.labels("source.malignancy=median_high")["LIDC-IDRI-0004_s1_n01"], 1)
        self.assertEqual(self.labels("source.mode_tie=highest")["LIDC-IDRI-0004_s1_n01"], 1)
        self.assertNotIn("LIDC-IDRI-0004_s1_n01", self.labels("source.mode_tie=median"))  # 3: dropped

    def test_min_readers_drops_nodules_marked_by_fewer(self):
        got = self.labels("source.min_readers=3")
        self.assertNotIn("LIDC-IDRI-0003_s1_n02", got)  # two readers
        self.assertNotIn("LIDC-IDRI-0002_s1_n02", got)  # two readers left after the ingest rules
        self.assertIn("LIDC-IDRI-0003_s1_n01", got)

    def test_native_64_is_a_64_mm_crop_at_1_mm(self):
        build(self.src, self.tmp / "up", "--sizes", "28,64")
        build(self.src, self.tmp / "native", "--sizes", "64", "--set", "preprocess.large_sizes=native")
        rows = zip(samples(self.tmp / "up", 28), samples(self.tmp / "up", 64), samples(self.tmp / "native", 64))
        for (_, sid, small, _), (_, _, up, _), (_, sid2, native, _) in rows:
            self.assertEqual(sid, sid2)
            np.testing.assert_allclose(fixture.bright_centre_of_mass(native), [31.5] * 3, atol=1.0, err_msg=sid)
            # Native voxels are 1 mm like the 28 crop's: the nodule keeps its voxel count; the
            # upsampled file has (64/28)^3 = 11.9 times as many.
            n28, n_native, n_up = (fixture.centre_component(x).sum() for x in (small, native, up))
            self.assertAlmostEqual(n_native / n28, 1.0, delta=0.25, msg=sid)
            self.assertAlmostEqual(n_up / n28, (64 / 28) ** 3, delta=3.0, msg=sid)


class BadInput(TempDirTest):
    def setUp(self):
        super().setUp()
        self.manifest = fixture.generate(self.tmp / "src")
        self.series = self.manifest["series"]

    def test_truncated_dicom_fails_naming_the_file(self):
        victim = self.tmp / "src" / self.series["LIDC-IDRI-0002"]["files_in_z_order"][20]
        victim.write_bytes(victim.read_bytes()[:victim.stat().st_size // 2])
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(victim.name, proc.stderr)
        self.assertIn("truncated DICOM file", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])

    def test_truncated_dicom_is_recorded_and_skipped_with_on_error_skip(self):
        rel = self.series["LIDC-IDRI-0002"]["files_in_z_order"][20]
        victim = self.tmp / "src" / rel
        victim.write_bytes(victim.read_bytes()[:victim.stat().st_size // 2])
        build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual({s["input"] for s in side["skipped"]}, {rel})
        ids = {sid for _, sid, _, _ in samples(self.tmp / "out")}
        self.assertFalse(any(i.startswith("LIDC-IDRI-0002") for i in ids))
        self.assertIn("LIDC-IDRI-0001_s1_n01", ids)

    def test_unparsable_dcm_in_a_series_folder_fails_naming_it(self):
        bad = self.tmp / "src" / self.series["LIDC-IDRI-0001"]["folder"] / "1-099.dcm"
        bad.write_bytes(b"\0" * 300)
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("1-099.dcm: not a DICOM file GDCM can parse", proc.stderr)

    def test_malformed_xml_fails_naming_the_file_and_skip_records_it(self):
        xml = self.tmp / "src" / self.series["LIDC-IDRI-0003"]["xml"]
        xml.write_text(xml.read_text()[:5000])
        proc = build(self.tmp / "src", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"{self.series['LIDC-IDRI-0003']['xml']}: malformed XML", proc.stderr)
        build(self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual([s["input"] for s in side["skipped"]], [self.series["LIDC-IDRI-0003"]["xml"]])
        self.assertIn("malformed XML", side["skipped"][0]["reason"])
        self.assertFalse(any(s.startswith("LIDC-IDRI-0003") for split in SPLITS for s in side["source_ids"][split]))

    def test_check_names_a_missing_slice_and_the_gap_and_writes_nothing(self):
        s = self.series["LIDC-IDRI-0001"]
        nodule = self.manifest["nodules"][0]  # its readers drew a contour on the slice through its centre
        index = int(round((nodule["centre_mm"][2] - s["origin"][2]) / s["thickness"]))
        (self.tmp / "src" / s["files_in_z_order"][index]).unlink()
        before = sorted(str(p) for p in self.tmp.rglob("*"))
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn(f"missing: {s['folder']}: the slice with SOPInstanceUID {s['sops_in_z_order'][index]}", proc.stdout)
        self.assertIn(f"problem: {s['folder']}: gap in the series", proc.stdout)
        self.assertIn(f"unexpected: {self.manifest['extra_ct_series'][0]}", proc.stdout)  # CT without XML
        self.assertEqual(sorted(str(p) for p in self.tmp.rglob("*")), before)

    def test_blank_crop_is_dropped_and_recorded(self):
        # Move every contour of patient 4's second nodule far outside the scan: its crop is all fill.
        xml = self.tmp / "src" / self.series["LIDC-IDRI-0004"]["xml"]
        text = xml.read_text()
        col = int(round(self.manifest["matrix"] / 2 - 12))
        moved = re.sub(r"<xCoord>(\d+)</xCoord>",
                       lambda m: f"<xCoord>{int(m.group(1)) + 3000 if abs(int(m.group(1)) - col) < 12 else m.group(1)}"
                                 f"</xCoord>", text)
        xml.write_text(moved)
        build(self.tmp / "src", self.tmp / "out")  # default --on-error fail: a drop is not an error
        side = sidecar(self.tmp / "out", FLAG, 28)
        self.assertEqual(side["skipped"], [])
        dropped = side["dropped_by_recipe"]
        self.assertEqual([d["sample"] for d in dropped], ["LIDC-IDRI-0004_s1_n02"], dropped)
        self.assertIn("blank crop", dropped[0]["reason"])
        self.assertNotIn("LIDC-IDRI-0004_s1_n02", sum((side["source_ids"][s] for s in ("train", "val", "test")), []))


if __name__ == "__main__":
    unittest.main()
