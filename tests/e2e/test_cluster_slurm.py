"""A real one-node Slurm cluster (slurm_cluster.py): tools/slurm/submit.sh submits the shards of a
plan as a job array and the merge as a job depending on it (afterok); the merged files are
byte-identical to a one-machine build. Skipped where Slurm is not installed or not root."""
import pathlib
import re
import subprocess
import time
import unittest

import slurm_cluster
from mmbtest import BINARY, SOURCE_DIR, TempDirTest, load_tool, run

lits = load_tool("make_lits_fixture")
FLAGS = ("organamnist", "organcmnist", "organsmnist", "organmnist3d")
SUBMIT = SOURCE_DIR / "tools/slurm/submit.sh"


def outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(pathlib.Path(folder).iterdir())
            if p.suffix in (".npz", ".json") and not p.name.endswith(".plan.json")}


@unittest.skipIf(slurm_cluster.available(), slurm_cluster.available())
class SlurmJobArrayAndDependentMerge(TempDirTest):
    def submit(self, cluster, plan, shards):
        proc = cluster.run([str(SUBMIT), plan, "--shards", str(shards), "--cpus", "1", "--mem", "300M",
                            "--time", "00:10:00", "--binary", str(BINARY), "--log-dir", str(self.tmp / "logs")])
        m = re.search(r"shards: job (\d+) .*merge: job (\d+)", proc.stdout)
        self.assertTrue(m, proc.stdout)
        return m[1], m[2]

    def test_array_of_shards_then_merge_gives_the_one_machine_bytes(self):
        lits.generate(self.tmp / "src", blank_box=True)
        run("build", *FLAGS, "--source", self.tmp / "src", "--out", self.tmp / "one", "--sizes", "28,64", "-q")
        expected = outputs(self.tmp / "one")
        run("plan", *FLAGS, "--source", self.tmp / "src", "--out", self.tmp / "out", "--sizes", "28,64")
        plan = self.tmp / "out" / "organamnist.plan.json"

        with slurm_cluster.SlurmCluster(cpus=2, memory_mb=1024) as cluster:
            started = time.monotonic()
            array, merge = self.submit(cluster, plan, 4)
            states = cluster.wait_for_jobs([array, merge])
            cluster.timings["array + merge"] = time.monotonic() - started
            for i in range(4):
                self.assertEqual(states.get(f"{array}_{i}"), ("COMPLETED", "0:0"),
                                 (self.tmp / "logs" / f"shard-{i}.log").read_text(errors="replace"))
            self.assertEqual(states.get(merge), ("COMPLETED", "0:0"),
                             (self.tmp / "logs" / "merge.log").read_text(errors="replace"))
            self.assertEqual(outputs(self.tmp / "out"), expected)

            # A failing shard (the plan's source is gone): the merge never runs (kill-on-invalid-dep).
            run("plan", "organmnist3d", "--source", self.tmp / "src", "--out", self.tmp / "out2", "--sizes", "28")
            (self.tmp / "src" / "volume-64.nii.gz").unlink(missing_ok=True)
            for p in (self.tmp / "src").rglob("volume-*.nii*"):
                p.unlink()
            array2, merge2 = self.submit(cluster, self.tmp / "out2" / "organmnist3d.plan.json", 2)
            states = cluster.wait_for_jobs([array2, merge2])
            self.assertEqual(states.get(f"{array2}_0", ("?",))[0], "FAILED", states)
            self.assertIn(states.get(merge2, ("?",))[0], ("CANCELLED", "PENDING"), states)
            self.assertEqual(list((self.tmp / "out2").glob("*.npz")), [])
        print(f"\nslurm timings: {cluster.timings}")
        self.assertEqual(cluster.left_over, [], "processes of the cluster outlived teardown")


if __name__ == "__main__":
    unittest.main()
