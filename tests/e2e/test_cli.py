"""The command line's conventions (docs/cli.md): exit codes, suggestions, --version, --json,
replaced outputs and montage formats, on a small PBC tree (tools/fixtures/make_pbc_fixture.py)
and hand-made .npz files."""
import json
import pathlib
import re
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

from mmbtest import INFO, SOURCE_DIR, TempDirTest, load_tool, run, sha256, sidecar

fixture = load_tool("make_pbc_fixture")


class WithBloodSource(unittest.TestCase):
    """One PBC fixture tree and one 28-pixel build of it, shared by the tests of a class."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-cli-")
        cls.tmp = pathlib.Path(cls._tmp.name)
        cls.src = cls.tmp / "src"
        fixture.generate(cls.src, per_class=2)
        cls.empty = cls.tmp / "empty"
        cls.empty.mkdir()
        cls.built = cls.tmp / "built"
        run("build", "bloodmnist", "--source", cls.src, "--out", cls.built, "--sizes", "28,64", "--quiet")
        cls.npz = cls.built / "bloodmnist.npz"

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


class ExitCodes(WithBloodSource):
    """Each case exits with the code README.md and docs/cli.md give, and names the problem."""

    def cases(self):
        out = self.tmp / "out-never"
        build = ["build", "bloodmnist", "--source", self.src, "--out", out]
        montage = ["montage", self.npz]
        return [
            # (arguments, exit code, text on stderr)
            ([], 2, "usage:"),
            (["--help"], 0, ""),
            (["--version"], 0, ""),
            (["bild"], 2, "did you mean 'build'?"),
            (["list", "--help"], 0, ""),
            (["list", "--bogus"], 2, "'--bogus'"),
            (["check", "--help"], 0, ""),
            (["build", "--help"], 0, ""),
            (["montage", "--help"], 0, ""),
            (["build", "bloodmnist", "--source", self.empty, "--out", out], 3, "no known layout"),
            (["build", "bloodmnist", "--source", self.tmp / "absent", "--out", out], 3, "no known layout"),
            (["check", "bloodmnist", "--source", self.empty], 3, "no known layout"),
            (build + ["--sizes", "32"], 2, "bloodmnist has no size 32"),
            (build + ["--sizes", "28,28"], 2, "twice"),
            (build + ["--sizes", "x"], 2, "--sizes"),
            (build + ["--set", "foo"], 2, "key=value"),
            (build + ["--threads", "-1"], 2, "--threads"),
            (build + ["--on-error", "maybe"], 2, "--on-error"),
            (build + ["--split", "halves"], 2, "--split"),
            (build + ["--sorce", "x"], 2, "did you mean '--source'?"),
            (["build", "chestmnst", "--source", self.src, "--out", out], 2, "did you mean 'chestmnist'?"),
            (["build", "bloodmnist", "--source", self.src], 2, "--out"),
            (["check", "bloodmnist"], 2, "--source"),
            (montage + ["--length", "0"], 2, "--length"),
            (montage + ["--split", "validation"], 2, "train, val or test"),
            (montage + ["--out", self.tmp / "m.gif"], 2, ".png, .jpg or .jpeg"),
            (montage + ["--border", "-1"], 2, "border"),
            (["montage", self.tmp / "absent.npz"], 1, "absent.npz"),
        ]

    def test_each_case(self):
        for args, code, text in self.cases():
            with self.subTest(args=" ".join(map(str, args))):
                proc = run(*args, check=False)
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertIn(text, proc.stderr + (proc.stdout if code == 2 and not args else ""))
        self.assertFalse((self.tmp / "out-never").exists())
        self.assertFalse((self.tmp / "m.gif").exists())

    def test_version_names_the_commit_of_the_checkout(self):
        proc = run("--version")
        self.assertRegex(proc.stdout, r"^medmnist-build \d+\.\d+\.\d+ \(git ([0-9a-f]{40}|unknown)\)\n$")
        head = subprocess.run(["git", "-C", str(SOURCE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            self.skipTest("not a git checkout")
        # The commit is read when CMake configures; a build from this checkout names a commit of it.
        commit = re.search(r"git (\w+)", proc.stdout).group(1)
        self.assertEqual(sidecar(self.built, "bloodmnist", 28)["tool"]["git_commit"], commit)
        known = subprocess.run(["git", "-C", str(SOURCE_DIR), "cat-file", "-e", commit + "^{commit}"])
        self.assertEqual(known.returncode, 0, commit)

    def test_help_is_headed_by_its_command(self):
        self.assertIn("check options", run("check", "--help").stdout)
        self.assertNotIn("source options", run("check", "--help").stdout)
        self.assertIn("list options", run("list", "--help").stdout)
        self.assertIn("0 = all cores", run("build", "--help").stdout)

    def test_dataset_names_match_case_insensitively(self):
        out = self.tmp / "upper"
        run("build", "BloodMNIST", "--source", self.src, "--out", out, "--sizes", "28", "--quiet")
        self.assertEqual(sha256(out / "bloodmnist.npz"), sha256(self.npz))

    def test_threads_0_means_all_cores(self):
        out = self.tmp / "all-cores"
        run("build", "bloodmnist", "--source", self.src, "--out", out, "--sizes", "28", "--threads", "0", "--quiet")
        self.assertEqual(sha256(out / "bloodmnist.npz"), sha256(self.npz))

    def test_nothing_is_reported_as_written_before_a_failure(self):
        out = self.tmp / "two"
        proc = run("build", "bloodmnist", "chestmnist", "--source", self.src, "--out", out, "--sizes", "28",
                   "--quiet", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertNotIn("wrote", proc.stdout)
        self.assertIn(f"written before the failure: {out / 'bloodmnist.npz'}", proc.stderr)


class JsonSummaries(WithBloodSource):
    """--json prints one JSON document on stdout with the fields docs/cli.md lists."""

    def test_list(self):
        rows = json.loads(run("list", "--json").stdout)
        self.assertEqual(sorted(r["flag"] for r in rows), sorted(INFO))
        for r in rows:
            info = INFO[r["flag"]]
            self.assertEqual(r["python_class"], info["python_class"])
            self.assertEqual(r["n_channels"], info["n_channels"])
            self.assertEqual(r["labels"], [info["label"][str(i)] for i in range(len(info["label"]))])
            self.assertIn(r["dim"], (2, 3))
            self.assertTrue(r["source"])

    def test_check(self):
        report = json.loads(run("check", "bloodmnist", "--source", self.src, "--json").stdout)
        self.assertEqual(report["dataset"], "bloodmnist")
        self.assertTrue(report["ok"])
        side = sidecar(self.built, "bloodmnist", 28)
        for split in ("train", "val", "test"):
            self.assertEqual(report["counts"][split]["found"], len(side["source_ids"][split]))
            self.assertEqual(report["counts"][split]["medmnist"], INFO["bloodmnist"]["n_samples"][split])
        self.assertEqual((report["missing"], report["unreadable"], report["problems"]), ([], [], []))

    def test_check_reports_unreadable_files(self):
        with tempfile.TemporaryDirectory(prefix="mmb-cli-") as tmp:
            src = pathlib.Path(tmp)
            manifest = fixture.generate(src, per_class=2)
            victim = next(src.rglob("*.jpg"))
            victim.write_bytes(victim.read_bytes()[:100])
            proc = run("check", "bloodmnist", "--source", src, "--json", check=False)
            self.assertEqual(proc.returncode, 1)
            report = json.loads(proc.stdout)
            self.assertFalse(report["ok"])
            self.assertEqual(len(report["unreadable"]), 1)
            self.assertIn(victim.name, report["unreadable"][0]["where"])
            del manifest

    def test_build_and_rebuild(self):
        with tempfile.TemporaryDirectory(prefix="mmb-cli-") as tmp:
            out = pathlib.Path(tmp)
            for replaced in (False, True):
                proc = run("build", "bloodmnist", "--source", self.src, "--out", out, "--sizes", "28", "--json")
                summary = json.loads(proc.stdout)
                [dataset] = summary["datasets"]
                self.assertEqual(dataset["dataset"], "bloodmnist")
                side = sidecar(out, "bloodmnist", 28)
                self.assertEqual(dataset["counts"], {s: len(side["source_ids"][s]) for s in ("train", "val", "test")})
                [output] = dataset["outputs"]
                self.assertEqual(output["size"], 28)
                self.assertEqual(output["sha256"], sha256(out / "bloodmnist.npz"))
                self.assertEqual(pathlib.Path(output["sidecar"]), out / "bloodmnist.json")
                self.assertEqual(output["replaced"], replaced)
                self.assertEqual(("replaced the existing" in proc.stderr), replaced, proc.stderr)
                self.assertEqual(dataset["skipped"], [])
                self.assertNotIn("samples (", proc.stderr)  # no progress line around JSON


def save_npz(path, images, labels, split="train"):
    np.savez(path, **{f"{split}_images": images, f"{split}_labels": labels})


class MontageFormats(TempDirTest):
    """The file name picks the format; the grid fits the samples; labels and borders are drawn."""

    def gray(self, n, value=128, size=28):
        images = np.full((n, size, size), value, np.uint8)
        labels = np.arange(n, dtype=np.uint8).reshape(n, 1) % 10
        npz = self.tmp / f"gray{n}.npz"
        save_npz(npz, images, labels)
        return npz

    def montage(self, npz, *args):
        return run("montage", npz, "--split", "train", *args)

    def test_format_follows_the_name(self):
        npz = self.gray(4)
        for name, fmt in (("m.jpg", "JPEG"), ("m.jpeg", "JPEG"), ("m.png", "PNG"), ("m.JPG", "JPEG")):
            proc = self.montage(npz, "--out", self.tmp / name)
            self.assertEqual(proc.stdout, f"wrote {self.tmp / name}\n")
            with Image.open(self.tmp / name) as im:
                self.assertEqual(im.format, fmt)
        self.montage(npz, "--out", self.tmp / "plain")
        with Image.open(self.tmp / "plain.png") as im:
            self.assertEqual(im.format, "PNG")
        self.assertFalse(list(self.tmp.glob("*.jpg.png")))

    def test_3d_is_a_gif_of_slices_and_refuses_raster_names(self):
        rng = np.random.default_rng(0)
        volumes = rng.integers(0, 255, (4, 5, 28, 28), dtype=np.uint8)
        npz = self.tmp / "vol.npz"
        save_npz(npz, volumes, np.zeros((4, 1), np.uint8))
        self.montage(npz, "--out", self.tmp / "v.gif")
        with Image.open(self.tmp / "v.gif") as im:
            self.assertEqual((im.format, im.n_frames, im.size), ("GIF", 5, (56, 56)))
            im.seek(2)
            frame = np.asarray(im.convert("L"))
        np.testing.assert_array_equal(frame[28:, :28], volumes[2, 2])
        proc = run("montage", npz, "--out", self.tmp / "v.png", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertFalse((self.tmp / "v.png").exists())

    def test_grid_has_no_empty_rows(self):
        # 10 samples on a 10 x 10 request: 4 columns x 3 rows, not a 4 x 4 square
        self.montage(self.gray(10), "--out", self.tmp / "g.png")
        with Image.open(self.tmp / "g.png") as im:
            self.assertEqual(im.size, (4 * 28, 3 * 28))
        self.montage(self.gray(12), "--out", self.tmp / "h.png")
        with Image.open(self.tmp / "h.png") as im:
            self.assertEqual(im.size, (4 * 28, 3 * 28))
        self.montage(self.gray(30), "--out", self.tmp / "k.png", "--length", "5")
        with Image.open(self.tmp / "k.png") as im:
            self.assertEqual(im.size, (5 * 28, 5 * 28))

    def test_border(self):
        self.montage(self.gray(4, value=100), "--out", self.tmp / "b.png", "--border", "2")
        m = np.asarray(Image.open(self.tmp / "b.png"))
        self.assertEqual(m.shape, (2 * 30 + 2, 2 * 30 + 2))
        lines = np.zeros(m.shape, bool)
        for k in (0, 30, 60):
            lines[k:k + 2, :] = True
            lines[:, k:k + 2] = True
        self.assertTrue((m[lines] == 255).all())
        self.assertTrue((m[~lines] == 100).all())

    def test_labels_are_drawn_in_the_corner_of_each_cell(self):
        npz = self.gray(9, value=128)
        self.montage(npz, "--out", self.tmp / "plain.png")
        self.montage(npz, "--out", self.tmp / "labelled.png", "--labels")
        plain = np.asarray(Image.open(self.tmp / "plain.png")).astype(int)
        labelled = np.asarray(Image.open(self.tmp / "labelled.png")).astype(int)
        cells = []
        for t in range(9):
            y, x = (t // 3) * 28, (t % 3) * 28
            diff = labelled[y:y + 28, x:x + 28] != plain[y:y + 28, x:x + 28]
            self.assertTrue(diff[:14, :14].any(), t)
            self.assertFalse(diff[14:, :].any() or diff[:, 14:].any(), t)
            cells.append(labelled[y:y + 28, x:x + 28])
        # labels 0..8: each cell's text differs from every other
        for a in range(9):
            for b in range(a + 1, 9):
                self.assertFalse(np.array_equal(cells[a], cells[b]), (a, b))


if __name__ == "__main__":
    unittest.main()
