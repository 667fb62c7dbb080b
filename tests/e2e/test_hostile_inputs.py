"""Corrupt, truncated and hostile inputs (issue 13): each becomes a named error, a recorded
skip or a usage error, never a crash, a silent drop or an empty archive with exit 0."""
import gzip
import json
import pathlib
import unittest

from mmbtest import TempDirTest, load_tool, run, sidecar, write_index_map

ham = load_tool("make_ham10000_fixture")
deepdrid = load_tool("make_deepdrid_fixture")


def build(flag, src, out, *extra):
    return run("build", flag, "--source", src, "--out", out, "--sizes", "28", "-q", *extra, check=False)


class CsvRows(TempDirTest):
    def test_a_quote_in_the_header_names_the_file_and_line_even_with_skip(self):
        ham.generate(self.tmp / "src", lesions=4)
        table = self.tmp / "src" / "HAM10000_metadata.csv"
        table.write_text('"' + table.read_text())
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("HAM10000_metadata.csv: line 1: malformed CSV row (unbalanced quote)", proc.stderr)

    def test_a_deepdrid_row_missing_its_last_fields_is_an_error_naming_file_and_line(self):
        deepdrid.generate(self.tmp / "src")
        csv = next((self.tmp / "src").rglob("regular-fundus-training.csv"))
        lines = csv.read_bytes().split(b"\n")
        lines[3] = b",".join(lines[3].split(b",")[:7])  # Clarity, Field definition, Artifact cut off
        csv.write_bytes(b"\n".join(lines))
        proc = build("retinamnist", self.tmp / "src", self.tmp / "out")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("regular-fundus-training.csv:4: expected 10 fields as in the header, got 7", proc.stderr)


class SetValidation(TempDirTest):
    def test_typos_in_keys_and_values_are_usage_errors_before_anything_is_read(self):
        cases = {"preprocess.resize_kernl=area": "unknown key 'preprocess.resize_kernl'",
                 "nonexistent.key=1": "unknown key 'nonexistent.key'",
                 "split.group=whatever": "split.group = 'whatever'",
                 "preprocess.resize_kernel=bogus": "unknown resize kernel 'bogus'",
                 "split.seed=abc": "'split.seed' must be a number"}
        for setting, message in cases.items():
            # The source does not even exist: the setting is refused first.
            proc = build("dermamnist", self.tmp / "nowhere", self.tmp / "out", "--set", setting, "--on-error", "skip")
            self.assertEqual(proc.returncode, 2, (setting, proc.stderr))
            self.assertIn(message, proc.stderr)
            self.assertFalse((self.tmp / "out").exists())

    def test_a_valid_setting_still_builds(self):
        ham.generate(self.tmp / "src", lesions=4)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--set", "preprocess.resize_kernel=area")
        self.assertEqual(proc.returncode, 0, proc.stderr)


class IndexMap(TempDirTest):
    def setUp(self):
        super().setUp()
        self.m = ham.generate(self.tmp / "src", lesions=6)
        self.names = sorted(self.m["images"])

    def test_an_id_the_source_lacks_is_an_error_naming_it(self):
        rows = [("train", i, n) for i, n in enumerate(self.names)] + [("test", 0, "ISIC_9999999")]
        write_index_map(self.tmp / "map.csv", rows)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("map.csv: 1 id(s) named here are not in the source: ISIC_9999999", proc.stderr)

    def test_with_skip_the_missing_id_is_recorded(self):
        rows = [("train", i, n) for i, n in enumerate(self.names)] + [("test", 0, "ISIC_9999999")]
        write_index_map(self.tmp / "map.csv", rows)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv",
                     "--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = sidecar(self.tmp / "out", "dermamnist", 28)
        self.assertIn({"input": "ISIC_9999999", "reason": "named by map.csv but not in the source"}, side["skipped"])

    def test_ids_written_with_an_extension_match(self):
        rows = [(("train", "val", "test")[i % 3], i, n + ".jpg") for i, n in enumerate(self.names)]
        write_index_map(self.tmp / "map.csv", rows)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = sidecar(self.tmp / "out", "dermamnist", 28)
        self.assertEqual(side["source_ids"]["train"], [n for i, n in enumerate(self.names) if i % 3 == 0])
        self.assertEqual(side["dropped_by_split_rule"], [])


class ListsAndSkips(TempDirTest):
    def test_images_in_no_list_are_reported(self):
        m = ham.generate(self.tmp / "src", lesions=6)
        names = sorted(m["images"])
        (self.tmp / "lists").mkdir()
        for k, split in enumerate(("train", "val", "test")):
            (self.tmp / "lists" / f"{split}.txt").write_text("".join(n + "\n" for n in names[k:-2:3]))
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--split", f"lists:{self.tmp / 'lists'}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("2 image(s) in no list file were left out: " + ", ".join(names[-2:]), proc.stderr)
        side = sidecar(self.tmp / "out", "dermamnist", 28)
        self.assertNotIn("unassigned samples split", side["parameters"]["split_rule"])
        self.assertEqual(side["dropped_by_split_rule"], names[-2:])

    def test_a_build_that_skips_every_sample_of_a_split_fails(self):
        ham.generate(self.tmp / "src", lesions=4)
        for jpg in (self.tmp / "src").rglob("*.jpg"):
            jpg.write_bytes(b"\xff\xd8 not a jpeg \xff\xd9")
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("dermamnist: every sample (", proc.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])


def limited_memory(limit=1 << 30):
    """preexec_fn: the child may map at most `limit` bytes (a large allocation fails)."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def npy_header(shape):
    import struct
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }" % (tuple(shape),)
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


class HostileNpz(TempDirTest):
    def test_a_member_header_claiming_4_gb_from_a_tiny_file_is_refused(self):
        import struct
        import numpy as np
        np.savez_compressed(self.tmp / "small.npz", train_images=np.zeros((3, 2, 2), np.uint8))
        b = bytearray((self.tmp / "small.npz").read_bytes())
        struct.pack_into("<I", b, b.rfind(b"PK\x01\x02") + 24, 4_000_000_000)
        struct.pack_into("<I", b, b.find(b"PK\x03\x04") + 22, 4_000_000_000)
        (self.tmp / "claims4g.npz").write_bytes(b)
        proc = run("montage", self.tmp / "claims4g.npz", "--out", self.tmp / "m.png", check=False,
                   preexec_fn=limited_memory())
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("claims4g.npz: train_images.npy: claims 4000000000 bytes from", proc.stderr)

    def test_montage_of_an_npz_claiming_2e8_samples_stays_small(self):
        import zipfile
        n = 200_000_000  # zeros: a 200 kB file; the old index array alone took 1.6 GB
        with zipfile.ZipFile(self.tmp / "many.npz", "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("train_images.npy", "w", force_zip64=True) as f:
                f.write(npy_header((n, 1, 1)))
                chunk = bytes(1 << 24)
                for start in range(0, n, len(chunk)):
                    f.write(chunk[:min(len(chunk), n - start)])
        for seed in ("0", "7"):
            proc = run("montage", self.tmp / "many.npz", "--seed", seed, "--out", self.tmp / f"m{seed}.png",
                       check=False, preexec_fn=limited_memory())
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue((self.tmp / f"m{seed}.png").exists())

    def test_a_montage_larger_than_the_limit_is_refused(self):
        import zipfile
        with zipfile.ZipFile(self.tmp / "wide.npz", "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("train_images.npy", "w", force_zip64=True) as f:
                f.write(npy_header((100, 4000, 4000)))  # 100 x 16 MB tiles = 1.6 GB picture
                chunk = bytes(1 << 24)
                for _ in range(100):
                    f.write(chunk[:4000 * 4000])
        proc = run("montage", self.tmp / "wide.npz", "--out", self.tmp / "w.png", check=False,
                   preexec_fn=limited_memory(3 << 30))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("more than the limit of 1073741824 bytes (--limit montage_bytes)", proc.stderr)


def huge_gray_png(path, side=32000):
    """A real side x side 8-bit gray PNG of zeros: about 1 MB on disk, 1 GB decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    z = zlib.compressobj(9)
    row = bytes(side + 1)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    pathlib.Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                                   chunk(b"IDAT", idat) + chunk(b"IEND", b""))


class ImageSizes(TempDirTest):
    def test_a_32000_square_png_is_a_recorded_skip_not_a_2_gb_decode(self):
        busi = load_tool("make_busi_fixture")
        m = busi.generate(self.tmp / "src")
        victim = sorted(n for n in m["images"] if n.endswith(".png"))[0]
        huge_gray_png(self.tmp / "src" / m["images"][victim]["path"])
        proc = run("check", "breastmnist", "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("32000x32000 pixels, more than the limit", proc.stdout)
        proc = build("breastmnist", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = sidecar(self.tmp / "out", "breastmnist", 28)
        self.assertIn("32000x32000 pixels, more than the limit", " ".join(s["reason"] for s in side["skipped"]))

    def test_an_image_outside_the_manifest_size_range_is_an_input_error(self):
        from PIL import Image
        ham.generate(self.tmp / "src", lesions=4)
        victim = sorted((self.tmp / "src").rglob("ISIC_*.jpg"))[0]
        Image.new("RGB", (37, 5), (200, 150, 120)).save(victim, quality=92)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"{victim.name}: image is 37x5, outside the source's size range 600x450 .. 600x450", proc.stderr)
        proc = build("dermamnist", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(sidecar(self.tmp / "out", "dermamnist", 28)["skipped"]), 1)


class Limits(TempDirTest):
    """--limit NAME=VALUE sets what a header may claim (common/core/limits.h)."""

    def test_lowering_a_limit_turns_a_normal_fixture_into_a_named_error(self):
        load_tool("make_busi_fixture").generate(self.tmp / "busi")
        proc = build("breastmnist", self.tmp / "busi", self.tmp / "out", "--limit", "image_pixels=1000")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("pixels, more than the limit of 1000 (--limit image_pixels)", proc.stderr)
        self.assertEqual(build("breastmnist", self.tmp / "busi", self.tmp / "out").returncode, 0)
        proc = run("montage", self.tmp / "out" / "breastmnist.npz", "--out", self.tmp / "m.png",
                   "--limit", "montage_bytes=100", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("more than the limit of 100 bytes (--limit montage_bytes)", proc.stderr)
        load_tool("make_ribfrac_fixture").generate(self.tmp / "rf")
        proc = run("check", "fracturemnist3d", "--source", self.tmp / "rf", "--limit", "nifti_voxel_bytes=1000", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("more than the limit of 1000 (--limit nifti_voxel_bytes)", proc.stdout)

    def test_raising_a_limit_admits_a_large_header(self):
        busi = load_tool("make_busi_fixture")
        m = busi.generate(self.tmp / "src")
        huge_gray_png(self.tmp / "src" / m["images"][sorted(n for n in m["images"] if n.endswith(".png"))[0]]["path"])
        proc = run("check", "breastmnist", "--source", self.tmp / "src", check=False)
        self.assertIn("32000x32000 pixels, more than the limit of 134217728", proc.stdout)
        proc = run("check", "breastmnist", "--source", self.tmp / "src", "--limit", "image_pixels=2^30", check=False)
        self.assertIn(" 0 unreadable", proc.stdout)

    def test_an_unknown_limit_or_a_bad_value_is_a_usage_error(self):
        cases = {"image_pixel=5": "unknown limit 'image_pixel' (limits: image_pixels, nifti_voxel_bytes, montage_bytes)",
                 "image_pixels=0": "expects a positive integer or 2^N, got '0'",
                 "image_pixels=2^64": "got '2^64'", "image_pixels": "expects NAME=VALUE"}
        for value, message in cases.items():
            proc = build("breastmnist", self.tmp / "nowhere", self.tmp / "out", "--limit", value)
            self.assertEqual(proc.returncode, 2, (value, proc.stderr))
            self.assertIn(message, proc.stderr)


class SynapseInputs(TempDirTest):
    """SynapseMNIST3D's EM fixture with one hostile change each."""

    def setUp(self):
        super().setUp()
        load_tool("make_em_fixture").generate(self.tmp / "src")
        self.volume = next((self.tmp / "src").rglob("volume.toml"))
        self.folder = self.volume.parent

    def test_a_sub_nanometre_voxel_size_is_refused_before_any_crop_is_allocated(self):
        self.volume.write_text(self.volume.read_text().replace("voxel_size_nm = [8, 8, 30]", "voxel_size_nm = [0.5, 0.5, 0.5]"))
        proc = build("synapsemnist3d", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("volume.toml: voxel_size_nm and crop_nm = 1024 give crops of 8589934592 voxels", proc.stderr)

    def test_a_stray_slice_number_is_a_named_error_not_bad_alloc(self):
        slices = sorted((self.folder / "im").glob("im*.png"))
        (self.folder / "im" / "im999999999.png").write_bytes(slices[0].read_bytes())
        proc = build("synapsemnist3d", self.tmp / "src", self.tmp / "out")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"im999999999.png: slice numbers run from 0 to 999999999 but only {len(slices) + 1} slices exist",
                      proc.stderr)

    def test_huge_coordinates_and_non_utf8_ids_are_rows_with_file_and_line(self):
        csv = self.folder / "synapses.csv"
        lines = csv.read_bytes().split(b"\n")
        for row, change in ((1, lambda f: [f[0], b"2147483647", *f[2:]]), (2, lambda f: [f[0], b"1e300", *f[2:]]),
                            (3, lambda f: [f[0] + b"\xe9", *f[1:]])):
            lines[row] = b",".join(change(lines[row].split(b",")))
        csv.write_bytes(b"\n".join(lines))
        proc = build("synapsemnist3d", self.tmp / "src", self.tmp / "out", "--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        skipped = {s["input"]: s["reason"] for s in sidecar(self.tmp / "out", "synapsemnist3d", 28)["skipped"]}
        self.assertEqual(skipped["synapses.csv:2"], "x = 2147483647 is outside any volume (0 .. 2097151)")
        self.assertEqual(skipped["synapses.csv:3"], "x = 1e300 is outside any volume (0 .. 2097151)")
        self.assertIn("is not UTF-8 text", skipped["synapses.csv:4"])

    def test_a_non_utf8_index_map_id_names_the_line(self):
        (self.tmp / "map.csv").write_bytes(b"split,index,image_id\ntrain,0,syn001\ntrain,1,syn\xff2\n")
        proc = build("synapsemnist3d", self.tmp / "src", self.tmp / "out", "--index-map", self.tmp / "map.csv")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("map.csv:3: byte 0xFF at column 12 is not UTF-8 text", proc.stderr)


class LidcInputs(TempDirTest):
    def setUp(self):
        super().setUp()
        load_tool("make_lidc_fixture").generate(self.tmp / "src")
        self.xml = next(p for p in sorted((self.tmp / "src" / "LIDC-IDRI").rglob("*.xml"))
                        if "<readingSession>" in p.read_text())

    def test_a_series_pylidc_cannot_cluster_is_skipped_and_counted_unless_strict(self):
        import re
        text = self.xml.read_text()
        sessions = re.findall(r"<readingSession>.*?</readingSession>", text, re.S)
        end = text.rindex("</readingSession>") + len("</readingSession>")
        self.xml.write_text(text[:end] + "".join(sessions) + text[end:])  # every mark twice: 8 identical
        proc = build("nodulemnist3d", self.tmp / "src", self.tmp / "out")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 input(s) skipped for a known source quirk", proc.stderr)
        skipped = sidecar(self.tmp / "out", "nodulemnist3d", 28)["skipped"]
        self.assertEqual([s["input"].endswith(self.xml.name) for s in skipped], [True])
        self.assertIn("clustering failed (pylidc ClusterError)", skipped[0]["reason"])
        proc = build("nodulemnist3d", self.tmp / "src", self.tmp / "strict", "--strict")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("clustering failed (pylidc ClusterError)", proc.stderr)

    def test_an_xcoord_past_int_range_is_a_named_problem_not_a_lost_nodule(self):
        text = self.xml.read_text()
        first = text.index("<xCoord>")
        end = text.index("</xCoord>", first)
        self.xml.write_text(text[:first] + "<xCoord>2147483647" + text[end:])
        proc = build("nodulemnist3d", self.tmp / "src", self.tmp / "out")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("xCoord 2147483647 is outside any image (0..65535)", proc.stderr)
        self.assertIn(self.xml.name, proc.stderr)


class Check(TempDirTest):
    def setUp(self):
        super().setUp()
        load_tool("make_kather_fixture").generate(self.tmp / "src")
        self.train = next(p.parent for p in (self.tmp / "src").rglob("MUC") if "CRC-VAL" not in str(p))

    def test_a_deleted_and_an_unknown_class_folder_are_reported(self):
        import shutil
        adi = sorted((self.train / "ADI").iterdir())[0]
        shutil.rmtree(self.train / "MUC")
        (self.train / "XYZ").mkdir()
        shutil.copy(adi, self.train / "XYZ" / adi.name)
        proc = run("check", "pathmnist", "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("missing: " + str((self.train / "MUC").relative_to(self.tmp / "src")) + "/ (class folder)", proc.stdout)
        self.assertIn("unexpected: " + str((self.train / "XYZ").relative_to(self.tmp / "src")), proc.stdout)
        self.assertIn("1 missing, 1 unexpected", proc.stdout)

    def test_deep_decodes_what_the_quick_probe_passes(self):
        busi = load_tool("make_busi_fixture")
        m = busi.generate(self.tmp / "busi")
        victim = self.tmp / "busi" / m["images"][sorted(n for n in m["images"] if n.endswith(".png"))[0]]["path"]
        data = bytearray(victim.read_bytes())
        middle = len(data) // 2
        for i in range(middle - 100, middle + 100):
            data[i] ^= 0xFF
        victim.write_bytes(bytes(data))
        quick = run("check", "breastmnist", "--source", self.tmp / "busi", check=False)
        self.assertIn("0 unreadable", quick.stdout)
        deep = run("check", "breastmnist", "--source", self.tmp / "busi", "--deep", check=False)
        self.assertEqual(deep.returncode, 1, deep.stdout)
        self.assertIn(f"unreadable: ", deep.stdout)
        self.assertIn(victim.name, deep.stdout)
        self.assertIn("1 unreadable", deep.stdout)
        self.assertIn("--deep", run("check", "--help").stdout)


class DecoderWarnings(TempDirTest):
    """libjpeg warns ("Corrupt JPEG data: ...") about damaged entropy-coded data and goes on;
    the warning is recorded per sample in the sidecar and counted in the summary."""

    def setUp(self):
        super().setUp()
        load_tool("make_pbc_fixture").generate(self.tmp / "src")
        # 16 bytes flipped in each JPEG from the first byte-stuffed FF 00 past the middle:
        # some files become undecodable (skipped), the others decode with a warning.
        for jpg in sorted((self.tmp / "src").rglob("*.jpg"))[::2]:  # half: --strict --on-error skip keeps some
            data = bytearray(jpg.read_bytes())
            start = data.find(b"\xff\x00", len(data) // 2)
            for i in range(start, start + 16):
                data[i] ^= 0xFF
            jpg.write_bytes(bytes(data))

    def test_a_warning_names_the_kept_sample_and_is_counted(self):
        proc = build("bloodmnist", self.tmp / "src", self.tmp / "out", "--on-error", "skip", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = sidecar(self.tmp / "out", "bloodmnist", 28)
        warned = side["decoder_warnings"]
        self.assertTrue(warned, "no decoder warning recorded")
        kept = {i for ids in side["source_ids"].values() for i in ids}
        for w in warned:
            self.assertIn(w["id"], kept)
            self.assertTrue(w["file"].endswith(w["id"]), w)
            self.assertTrue(w["warning"].startswith("libjpeg: "), w)
        self.assertTrue(any("Corrupt JPEG data" in w["warning"] for w in warned), warned)
        summary = json.loads(proc.stdout)["datasets"][0]
        self.assertEqual(summary["decoder_warnings"], len(warned))
        self.assertTrue(any("decoder warning(s)" in w for w in summary["warnings"]), summary["warnings"])

    def test_strict_makes_a_warning_an_input_error_naming_the_file(self):
        proc = build("bloodmnist", self.tmp / "src", self.tmp / "out", "--strict")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stderr, r"\.jpg: (cannot decode image|libjpeg: )")
        proc = build("bloodmnist", self.tmp / "src", self.tmp / "out", "--strict", "--on-error", "skip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        side = sidecar(self.tmp / "out", "bloodmnist", 28)
        self.assertEqual(side["decoder_warnings"], [])
        self.assertTrue(any("a decoder warning; without --strict" in s["reason"] for s in side["skipped"]))


class CheckNonImageHeaders(TempDirTest):
    def test_a_nifti_with_a_header_and_no_voxels_is_unreadable(self):
        load_tool("make_ribfrac_fixture").generate(self.tmp / "src")
        victim = sorted(p for p in (self.tmp / "src").rglob("*-image.nii.gz") if "__MACOSX" not in str(p))[0]
        with gzip.open(victim, "rb") as f:
            header = f.read(352)
        victim.write_bytes(gzip.compress(header))
        proc = run("check", "fracturemnist3d", "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("unreadable: " + str(victim.relative_to(self.tmp / "src")) + ": truncated or corrupt gzip", proc.stdout)

    def test_a_dicom_slice_without_pixel_data_is_unreadable(self):
        import pydicom
        load_tool("make_lidc_fixture").generate(self.tmp / "src", patients=1)
        self.assertIn(" 0 unreadable", run("check", "nodulemnist3d", "--source", self.tmp / "src", check=False).stdout)
        series = max({p.parent for p in (self.tmp / "src").rglob("*.dcm")}, key=lambda d: len(list(d.glob("*.dcm"))))
        victim = sorted(series.glob("*.dcm"))[5]
        ds = pydicom.dcmread(victim)
        del ds.PixelData
        ds.save_as(victim)
        proc = run("check", "nodulemnist3d", "--source", self.tmp / "src", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(victim.name + ": DICOM file has no pixel data (7FE0,0010)", proc.stdout)


class NonUtf8Names(TempDirTest):
    """A file name with byte 0xff becomes a sample id; sidecars and --json escape it as
    \\udcff (surrogateescape), which Python reads back as os.listdir() spells the name."""

    def test_a_file_named_with_byte_0xff_is_written_losslessly(self):
        import os
        import subprocess
        from mmbtest import BINARY
        load_tool("make_pbc_fixture").generate(self.tmp / "src")
        first = sorted((self.tmp / "src").rglob("*.jpg"))[0]
        renamed = os.fsencode(first.parent) + b"/BA_\xff" + os.fsencode(first.name)[3:]
        os.rename(os.fsencode(first), renamed)
        name = os.fsdecode(os.path.basename(renamed))  # 'BA_\udcff...', as os.listdir() gives it
        proc = subprocess.run([str(BINARY), "build", "bloodmnist", "--source", str(self.tmp / "src"), "--out",
                               str(self.tmp / "out"), "--sizes", "28", "-q", "--json"], capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        raw = (self.tmp / "out" / "bloodmnist.json").read_bytes()
        self.assertIn(b"BA_\\udcff", raw)
        ids = [i for ids in json.loads(raw)["source_ids"].values() for i in ids]
        self.assertIn(name, ids)
        self.assertEqual(os.fsencode(name), os.path.basename(renamed))
        self.assertEqual(json.loads(proc.stdout)["datasets"][0]["dataset"], "bloodmnist")
        # A cluster plan cannot carry the name (its shards parse it back): a named error, exit 1.
        proc = subprocess.run([str(BINARY), "plan", "bloodmnist", "--source", str(self.tmp / "src"), "--out",
                               str(self.tmp / "planned")], capture_output=True)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(b"BA_\xff", proc.stderr)
        self.assertIn(b"the file name is not UTF-8, which a plan file cannot carry", proc.stderr)
        (self.tmp / "src" / "stray").mkdir()
        os.rename(renamed, os.fsencode(self.tmp / "src" / "stray") + b"/x\xff.jpg")
        proc = subprocess.run([str(BINARY), "check", "bloodmnist", "--source", str(self.tmp / "src"), "--json"],
                              capture_output=True)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        json.loads(proc.stdout)  # valid JSON, whatever it reports


if __name__ == "__main__":
    unittest.main()
