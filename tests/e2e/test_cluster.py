"""plan / build --plan --shard / merge without a scheduler: the merged .npz files and sidecars are
byte-identical to a one-machine build for any shard count (1, 2, 3, 7, more shards than units),
with recipe drops, --on-error skip skips and --no-compress; missing, duplicated and foreign
shards are refused naming them; a killed shard re-runs cleanly."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from mmbtest import BINARY, TempDirTest, load_tool, run, sha256, write_index_map

lits = load_tool("make_lits_fixture")
chest = load_tool("make_chest_fixture")
ham = load_tool("make_ham10000_fixture")

ORGAN_FLAGS = ("organamnist", "organcmnist", "organsmnist", "organmnist3d")


def outputs(folder):
    """{file name: bytes} of the .npz files and sidecars in folder."""
    return {p.name: p.read_bytes() for p in sorted(pathlib.Path(folder).iterdir())
            if p.suffix in (".npz", ".json") and not p.name.endswith(".plan.json")}


def plan(src, out, flags, *extra):
    run("plan", *flags, "--source", src, "--out", out, *extra)
    plan_file = pathlib.Path(out) / f"{flags[0]}.plan.json"
    assert plan_file.exists(), plan_file
    return plan_file


def shard_dir(plan_file):
    doc = json.loads(plan_file.read_text())
    return pathlib.Path(doc["options"]["out"]) / f".medmnist-shards-{doc['sha256'][:12]}"


def run_shards(plan_file, n, indices=None):
    for i in (range(n) if indices is None else indices):
        run("build", "--plan", plan_file, "--shard", f"{i}/{n}", "-q", "--threads", 1)


class OrganShardsMergeToOneMachineBytes(unittest.TestCase):
    """The LiTS fixture with a blank organ box (recipe drops), all four datasets, two sizes."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="mmb-e2e-cluster-")
        cls.root = pathlib.Path(cls._tmp.name)
        lits.generate(cls.root / "src", blank_box=True)
        run("build", *ORGAN_FLAGS, "--source", cls.root / "src", "--out", cls.root / "one", "--sizes", "28,64",
            "-q", "--threads", 2)
        cls.expected = outputs(cls.root / "one")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def sharded(self, n, name):
        out = self.root / name
        plan_file = plan(self.root / "src", out, ORGAN_FLAGS, "--sizes", "28,64")
        run_shards(plan_file, n)
        run("merge", "--plan", plan_file, "-q")
        return out, plan_file

    def test_the_fixture_has_recipe_drops(self):
        side = json.loads(self.expected["organmnist3d.json"])
        self.assertEqual(len(side["dropped_by_recipe"]), 1)
        self.assertEqual(len(self.expected), 2 * 2 * len(ORGAN_FLAGS))  # .npz + sidecar, sizes 28 and 64

    def test_every_shard_count_gives_the_one_machine_bytes(self):
        units = None
        for n in (1, 2, 3, 7):
            with self.subTest(n=n):
                out, plan_file = self.sharded(n, f"n{n}")
                units = json.loads(plan_file.read_text())["totals"]["units"]
                self.assertEqual(outputs(out), self.expected)
                self.assertFalse(shard_dir(plan_file).exists(), "merge removes the shards")
                self.assertEqual(list(out.glob("*.partial-*")), [])
        # More shards than units: the surplus shards are empty, and still required.
        n = units + 4
        out, _ = self.sharded(n, "many")
        self.assertEqual(outputs(out), self.expected)

    def test_shards_are_cut_between_units_and_balanced_by_source_bytes(self):
        out = self.root / "ranges"
        plan_file = plan(self.root / "src", out, ORGAN_FLAGS, "--sizes", "28")
        doc = json.loads(plan_file.read_text())
        samples = doc["samples"]
        run_shards(plan_file, 3)
        ranges = [json.loads((shard_dir(plan_file) / f"shard-{i:04d}-of-0003.json").read_text())["samples"]
                  for i in range(3)]
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], len(samples))
        for (_, last), (first, _) in zip(ranges, ranges[1:]):
            self.assertEqual(last, first)
            if 0 < first < len(samples):  # a cut never splits a unit (a CT volume)
                self.assertNotEqual(samples[first][6], samples[first - 1][6])
        # Each shard holds the middle of its units' bytes: no shard gets more than a third of the
        # bytes plus the largest unit.
        unit_bytes = {}
        for row in samples:
            unit_bytes[row[6]] = row[8]
        total, largest = sum(unit_bytes.values()), max(unit_bytes.values())
        for first, last in ranges:
            shard_units = {samples[i][6] for i in range(first, last)}
            self.assertLessEqual(sum(unit_bytes[u] for u in shard_units), total / 3 + largest)

    def test_missing_duplicated_and_foreign_shards_are_refused_naming_them(self):
        out = self.root / "bad"
        plan_file = plan(self.root / "src", out, ORGAN_FLAGS, "--sizes", "28")
        shards = shard_dir(plan_file)
        run_shards(plan_file, 3, indices=[0, 2])
        proc = run("merge", "--plan", plan_file, check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("missing shard-0001-of-0003.json", proc.stderr)
        self.assertIn("--shard 1/3", proc.stderr)
        self.assertEqual(list(out.glob("*.npz")), [])

        run_shards(plan_file, 3, indices=[1])
        shutil.copy(shards / "shard-0001-of-0003.json", shards / "copy-of-shard-1.json")
        proc = run("merge", "--plan", plan_file, check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("duplicated shard 1/3", proc.stderr)
        self.assertIn("copy-of-shard-1.json", proc.stderr)
        (shards / "copy-of-shard-1.json").unlink()

        # A shard of another plan (other seed, so another hash) copied in.
        other = plan(self.root / "src", self.root / "other", ORGAN_FLAGS, "--sizes", "28", "--split", "ratio",
                     "--seed", "5")
        run_shards(other, 3, indices=[0])
        shutil.copy(shard_dir(other) / "shard-0000-of-0003.json", shards / "stray.json")
        proc = run("merge", "--plan", plan_file, check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("foreign shard", proc.stderr)
        self.assertIn("stray.json", proc.stderr)
        (shards / "stray.json").unlink()

        # Shards of two different counts.
        run_shards(plan_file, 2, indices=[0])
        proc = run("merge", "--plan", plan_file, check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("shard-0000-of-0002.json is shard 0 of 2, others are of 3", proc.stderr)

    def test_an_edited_plan_is_refused(self):
        out = self.root / "edited"
        plan_file = plan(self.root / "src", out, ORGAN_FLAGS, "--sizes", "28")
        doc = json.loads(plan_file.read_text())
        doc["samples"][0][2] = [7]
        plan_file.write_text(json.dumps(doc))
        proc = run("build", "--plan", plan_file, "--shard", "0/2", check=False)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("does not match its sha256", proc.stderr)

    def test_a_killed_shard_reruns_cleanly(self):
        out = self.root / "killed"
        plan_file = plan(self.root / "src", out, ORGAN_FLAGS, "--sizes", "28,64")
        run_shards(plan_file, 2, indices=[1])
        proc = subprocess.Popen([str(BINARY), "build", "--plan", str(plan_file), "--shard", "0/2", "-q", "--threads", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not list(shard_dir(plan_file).glob("shard-0000-of-0002.*.partial-*")) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertFalse((shard_dir(plan_file) / "shard-0000-of-0002.json").exists())
        self.assertTrue(list(shard_dir(plan_file).glob("*.partial-*")), "the killed shard left temp files")
        run_shards(plan_file, 2, indices=[0])
        self.assertEqual(list(shard_dir(plan_file).glob("*.partial-*")), [])
        run("merge", "--plan", plan_file, "-q")
        self.assertEqual(outputs(out), self.expected)


class ChestSkipsAndStoredMembers(TempDirTest):
    def test_on_error_skip_and_no_compress_merge_to_the_one_machine_bytes(self):
        chest.generate(self.tmp / "src", patients=8, truncate="00000003_000.png")
        extra = ("--sizes", "28,64", "--on-error", "skip", "--no-compress")
        run("build", "chestmnist", "--source", self.tmp / "src", "--out", self.tmp / "one", "-q", *extra)
        expected = outputs(self.tmp / "one")
        side = json.loads(expected["chestmnist.json"])
        self.assertEqual(len(side["skipped"]), 1)
        self.assertFalse(side["parameters"]["compress"])
        for n in (2, 3):
            out = self.tmp / f"n{n}"
            plan_file = plan(self.tmp / "src", out, ["chestmnist"], *extra)
            run_shards(plan_file, n)
            run("merge", "--plan", plan_file, "-q")
            self.assertEqual(outputs(out), expected, n)

    def test_a_failing_shard_writes_nothing_and_merge_names_it_missing(self):
        chest.generate(self.tmp / "src", patients=8, truncate="00000003_000.png")
        plan_file = plan(self.tmp / "src", self.tmp / "out", ["chestmnist"], "--sizes", "28")
        results = [run("build", "--plan", plan_file, "--shard", f"{i}/2", "-q", check=False) for i in range(2)]
        failed = [i for i, r in enumerate(results) if r.returncode != 0]
        self.assertEqual(len(failed), 1)
        self.assertEqual(results[failed[0]].returncode, 1)
        self.assertIn("00000003_000.png", results[failed[0]].stderr)
        proc = run("merge", "--plan", plan_file, check=False)
        self.assertIn(f"missing shard-{failed[0]:04d}-of-0002.json", proc.stderr)


class PlanChecksWhatABuildChecks(TempDirTest):
    """plan fails where build fails, and a merged sidecar records what a one-machine build's
    records: ids an index map names that the source lacks, settings, --strict."""

    def setUp(self):
        super().setUp()
        names = sorted(ham.generate(self.tmp / "src", lesions=6)["images"])
        rows = [(("train", "val", "test")[i % 3], i, n) for i, n in enumerate(names)] + [("test", 99, "ISIC_9999999")]
        write_index_map(self.tmp / "map.csv", rows)

    def test_an_index_map_id_the_source_lacks_fails_the_plan_naming_it(self):
        proc = run("plan", "dermamnist", "--source", self.tmp / "src", "--out", self.tmp / "out",
                   "--index-map", self.tmp / "map.csv", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("map.csv: 1 id(s) named here are not in the source: ISIC_9999999", proc.stderr)
        self.assertFalse((self.tmp / "out" / "dermamnist.plan.json").exists())

    def test_with_skip_the_merged_sidecar_records_it_as_a_one_machine_build_does(self):
        extra = ("--index-map", self.tmp / "map.csv", "--on-error", "skip", "--sizes", "28")
        run("build", "dermamnist", "--source", self.tmp / "src", "--out", self.tmp / "one", "-q", *extra)
        expected = outputs(self.tmp / "one")
        self.assertIn({"input": "ISIC_9999999", "reason": "named by map.csv but not in the source"},
                      json.loads(expected["dermamnist.json"])["skipped"])
        plan_file = plan(self.tmp / "src", self.tmp / "out", ["dermamnist"], *extra)
        run_shards(plan_file, 2)
        run("merge", "--plan", plan_file, "-q")
        self.assertEqual(outputs(self.tmp / "out"), expected)

    def test_a_bad_setting_fails_the_plan_not_the_shards(self):
        proc = run("plan", "dermamnist", "--source", self.tmp / "src", "--out", self.tmp / "out",
                   "--set", "preprocess.resize_kernel=bogus", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("bogus", proc.stderr)
        self.assertFalse((self.tmp / "out" / "dermamnist.plan.json").exists())

    def test_strict_is_a_plan_option_the_shards_inherit(self):
        plan_file = plan(self.tmp / "src", self.tmp / "out", ["dermamnist"], "--strict", "--sizes", "28")
        self.assertTrue(json.loads(plan_file.read_text())["options"]["strict"])


class DecoderWarningsAcrossShards(TempDirTest):
    def test_merged_sidecars_keep_the_shards_decoder_warnings(self):
        load_tool("make_pbc_fixture").generate(self.tmp / "src")
        for jpg in sorted((self.tmp / "src").rglob("*.jpg")):  # as test_hostile_inputs.DecoderWarnings
            data = bytearray(jpg.read_bytes())
            start = data.find(b"\xff\x00", len(data) // 2)
            for i in range(start, start + 16):
                data[i] ^= 0xFF
            jpg.write_bytes(bytes(data))
        extra = ("--sizes", "28", "--on-error", "skip")
        run("build", "bloodmnist", "--source", self.tmp / "src", "--out", self.tmp / "one", "-q", *extra)
        expected = outputs(self.tmp / "one")
        self.assertTrue(json.loads(expected["bloodmnist.json"])["decoder_warnings"])
        plan_file = plan(self.tmp / "src", self.tmp / "n3", ["bloodmnist"], *extra)
        run_shards(plan_file, 3)
        run("merge", "--plan", plan_file, "-q")
        self.assertEqual(outputs(self.tmp / "n3"), expected)


class ShardOption(TempDirTest):
    def test_auto_reads_the_job_array_of_slurm_grid_engine_and_pbs(self):
        lits.generate(self.tmp / "src")
        plan_file = plan(self.tmp / "src", self.tmp / "out", ["organmnist3d"], "--sizes", "28")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SGE_", "PBS_"))}
        cases = [({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, "auto",
                  "shard-0001-of-0004"),
                 ({"SGE_TASK_ID": "2", "SGE_TASK_FIRST": "1", "SGE_TASK_LAST": "3", "SGE_TASK_STEPSIZE": "1"}, "auto",
                  "shard-0001-of-0003"),
                 ({"PBS_ARRAY_INDEX": "4"}, "auto/5", "shard-0004-of-0005")]
        for env, arg, name in cases:
            proc = run("build", "--plan", plan_file, "--shard", arg, "-q", env=dict(clean, **env))
            self.assertIn(name + ".json", proc.stdout)
        proc = run("build", "--plan", plan_file, "--shard", "auto", check=False, env=clean)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("not in a job array", proc.stderr)
        for bad in ("3/3", "x/2", "2"):
            self.assertEqual(run("build", "--plan", plan_file, "--shard", bad, check=False).returncode, 2, bad)


if __name__ == "__main__":
    unittest.main()


class OutputCommit(TempDirTest):
    """The files of one build appear together; a killed build's leftovers are removed by the next."""

    def test_duplicate_sizes_are_a_usage_error_before_anything_is_written(self):
        proc = run("build", "organmnist3d", "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28,28",
                   check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("28 twice", proc.stderr)
        self.assertFalse((self.tmp / "out").exists())

    def test_a_killed_build_leaves_no_npz_and_the_next_build_removes_its_partials_and_says_so(self):
        lits.generate(self.tmp / "src")
        args = [str(BINARY), "build", *ORGAN_FLAGS, "--source", str(self.tmp / "src"), "--out", str(self.tmp / "out"),
                "-q", "--threads", "1"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not list((self.tmp / "out").glob("*.partial-*")) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        partials = sorted(p.name for p in (self.tmp / "out").glob("*.partial-*"))
        self.assertTrue(partials)
        self.assertEqual(list((self.tmp / "out").glob("*.npz")), [])
        done = run("build", "organmnist3d", "--source", self.tmp / "src", "--out", self.tmp / "out", "-q")
        for name in partials:
            self.assertIn(f"removed {self.tmp / 'out' / name}, left by a process that is gone", done.stderr)
        self.assertEqual(list((self.tmp / "out").glob("*.partial-*")), [])
        # Every .npz has its sidecar, and the sidecar's sha256 is the file's.
        for npz in (self.tmp / "out").glob("*.npz"):
            side = json.loads(npz.with_suffix(".json").read_text())
            self.assertEqual(side["sha256"], sha256(npz))

    def test_sigint_during_a_build_leaves_the_previous_set_whole(self):
        lits.generate(self.tmp / "src")
        run("build", "organmnist3d", "--source", self.tmp / "src", "--out", self.tmp / "out", "-q", "--sizes", "28,64")
        before = outputs(self.tmp / "out")
        for delay in (0.05, 0.3, 0.6, 1.0):
            proc = subprocess.Popen([str(BINARY), "build", "organmnist3d", "--source", str(self.tmp / "src"), "--out",
                                     str(self.tmp / "out"), "-q", "--sizes", "28,64", "--split", "ratio", "--seed",
                                     "9"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                self.fail(f"the build did not end within 120 s of SIGINT (sent after {delay} s)")
            # -SIGINT: stopped before the build installed its handler (nothing written yet).
            self.assertIn(proc.returncode, (0, 130, -signal.SIGINT))
            self.assertEqual(list((self.tmp / "out").glob("*.partial-*")), [], delay)
            self.assertEqual(list((self.tmp / "out").glob(".medmnist-commit-*")), [], delay)
            now = outputs(self.tmp / "out")
            if proc.returncode != 0:
                self.assertEqual(now, before, delay)
            for npz in (self.tmp / "out").glob("*.npz"):  # old or new, each pair belongs together
                self.assertEqual(json.loads(npz.with_suffix(".json").read_text())["sha256"], sha256(npz))


class CollectionConfig(TempDirTest):
    """--config sources.toml: every dataset whose source is there, the others reported; a second
    run skips what is up to date."""

    def test_builds_what_is_present_reports_the_rest_and_skips_up_to_date_outputs(self):
        lits.generate(self.tmp / "lits")
        chest.generate(self.tmp / "nih", patients=6)
        (self.tmp / "sources.toml").write_text(f"""
out = "{self.tmp / 'out'}"
sizes = [28]
[sources]
chestmnist = "nih"
organmnist3d = "{self.tmp / 'lits'}"
organamnist = "lits"
pathmnist = "{self.tmp / 'no-such-folder'}"
""")
        first = run("build", "--config", self.tmp / "sources.toml", "-q")
        self.assertIn(f"not found: pathmnist (no folder {self.tmp / 'no-such-folder'})", first.stderr)
        names = sorted(p.name for p in (self.tmp / "out").glob("*.npz"))
        self.assertEqual(names, ["chestmnist.npz", "organamnist.npz", "organmnist3d.npz"])
        # The same bytes as a plain build; the sidecar also records the plan.
        run("build", "organmnist3d", "organamnist", "--source", self.tmp / "lits", "--out", self.tmp / "plain",
            "--sizes", "28", "-q")
        for flag in ("organamnist", "organmnist3d"):
            self.assertEqual(sha256(self.tmp / "out" / f"{flag}.npz"), sha256(self.tmp / "plain" / f"{flag}.npz"))
            side = json.loads((self.tmp / "out" / f"{flag}.json").read_text())
            self.assertEqual(len(side["plan_sha256"]), 64)
        stamps = {p.name: p.stat().st_mtime_ns for p in (self.tmp / "out").iterdir()}

        second = run("build", "--config", self.tmp / "sources.toml", "-q")
        for flag in ("chestmnist", "organamnist", "organmnist3d"):
            self.assertIn(f"up to date: {flag}", second.stdout)
        self.assertEqual({p.name: p.stat().st_mtime_ns for p in (self.tmp / "out").iterdir()}, stamps)

        # A changed option is a different plan: rebuilt.
        third = run("build", "--config", self.tmp / "sources.toml", "-q", "--split", "ratio")
        self.assertNotIn("up to date", third.stdout)

        plans = run("plan", "--config", self.tmp / "sources.toml", "--out", self.tmp / "plans")
        self.assertEqual(sorted(p.name for p in (self.tmp / "plans").glob("*.plan.json")),
                         ["chestmnist.plan.json", "organamnist.plan.json"])  # one pass over LiTS
        self.assertIn("not found: pathmnist", plans.stderr)

    def test_a_bad_config_names_the_file_and_the_key(self):
        (self.tmp / "sources.toml").write_text('sizes = "28"\n[sources]\nchestmnist = "x"\n')
        proc = run("build", "--config", self.tmp / "sources.toml", "--out", self.tmp / "out", check=False)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("sources.toml: sizes must be a list", proc.stderr)


class EveryKindOfSource(TempDirTest):
    """3 shards + merge equal a one-machine build for sources of every shape: DICOM series units
    (LIDC), NIfTI volumes (RibFrac), EM volumes read in enumerate (synapse), meshes (IntrA),
    HDF5 rows (BBBC051) and class folders (PBC)."""
    CASES = [("make_lidc_fixture", "nodulemnist3d", {"patients": 4}),
             ("make_ribfrac_fixture", "fracturemnist3d", {}),
             ("make_em_fixture", "synapsemnist3d", {}),
             ("make_intra_fixture", "vesselmnist3d", {"models": 6}),
             ("make_bbbc051_fixture", "tissuemnist", {}),
             ("make_pbc_fixture", "bloodmnist", {"per_class": 3})]

    def test_three_shards_merge_to_the_one_machine_bytes(self):
        for module, flag, options in self.CASES:
            with self.subTest(flag=flag):
                src = self.tmp / flag / "src"
                load_tool(module).generate(src, **options)
                run("build", flag, "--source", src, "--out", self.tmp / flag / "one", "--sizes", "28", "-q")
                plan_file = plan(src, self.tmp / flag / "out", [flag], "--sizes", "28")
                run_shards(plan_file, 3)
                run("merge", "--plan", plan_file, "-q")
                expected = outputs(self.tmp / flag / "one")
                self.assertEqual(len(expected), 2)
                self.assertEqual(outputs(self.tmp / flag / "out"), expected)
