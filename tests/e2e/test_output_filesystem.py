"""Output filesystems that refuse writes: a full disk (a small tmpfs as --out) and a read-only
output folder (a read-only tmpfs; chmod does not stop root). Each gives a named error (the
output path and the system's reason) and leaves nothing behind: no *.partial-<pid>, no commit
journal, no half set of outputs. Needs root (or CAP_SYS_ADMIN) to mount; skipped otherwise."""
import os
import subprocess
import unittest

from mmbtest import TempDirTest, load_tool, run

FLAG = "bloodmnist"
fixture = load_tool("make_pbc_fixture")


def mount_tmpfs(where, *options):
    """Mounts a tmpfs at `where`; skips the test when mounting is not permitted (no CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise unittest.SkipTest(f"cannot mount a tmpfs here: {proc.stderr.strip()}")


class OutputFilesystem(TempDirTest):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a tmpfs needs root")
        super().setUp()
        self.mounts = []
        self.src = self.tmp / "src"
        fixture.generate(self.src, per_class=5)

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", str(m)], check=False)
        super().tearDown()

    def mounted(self, name, *options):
        where = self.tmp / name
        mount_tmpfs(where, *options)
        self.mounts.append(where)
        return where

    def test_a_full_disk_is_a_named_error_and_leaves_no_file(self):
        # 28x28 archives and sidecars fit in 64 KiB; 224x224 ones (about 1 MB) do not.
        out = self.mounted("full", "size=64k")
        proc = run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28,64,128,224", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn(str(out), proc.stderr)
        self.assertIn("No space left on device", proc.stderr)
        self.assertEqual(sorted(p.name for p in out.iterdir()), [])  # no partial, journal or half set

    def test_a_full_disk_keeps_the_previous_set_whole(self):
        out = self.mounted("full", "size=64k")
        run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28")
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        self.assertEqual(sorted(before), ["bloodmnist.json", "bloodmnist.npz"])
        proc = run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28,224", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("No space left on device", proc.stderr)
        self.assertEqual({p.name: p.read_bytes() for p in out.iterdir()}, before)

    def test_a_sidecar_that_does_not_fit_leaves_no_archive_without_it(self):
        # Room for the 28x28 archive but not, with every tmpfs page taken, for its sidecar:
        # a file filling the rest leaves a few pages free (tmpfs allocates by 4 KiB page).
        out = self.mounted("full", "size=64k")
        run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28")
        npz = (out / "bloodmnist.npz").stat().st_size
        for p in list(out.iterdir()):
            p.unlink()
        filler = out / "filler"
        page = 4096
        free = os.statvfs(out).f_bavail * os.statvfs(out).f_frsize
        filler.write_bytes(b"\0" * (free - ((npz + page - 1) // page) * page))
        proc = run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("No space left on device", proc.stderr)
        self.assertIn(f"{out}/bloodmnist.json", proc.stderr)  # the archive was written; its sidecar was not
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["filler"])

    def test_a_read_only_output_folder_is_named_before_any_image_is_decoded(self):
        out = self.mounted("ro", "ro", "size=64k")
        # A truncated image would stop a build that decoded before opening its outputs.
        bad = sorted(self.src.rglob("*.jpg"))[0]
        bad.write_bytes(bad.read_bytes()[:200])
        proc = run("build", FLAG, "--source", self.src, "--out", out, "--sizes", "28", check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn(f"{out}/bloodmnist.npz", proc.stderr)
        self.assertIn("Read-only file system", proc.stderr)
        self.assertNotIn(bad.name, proc.stderr)
        self.assertEqual(list(out.iterdir()), [])

    def test_an_output_folder_that_cannot_be_created_is_named(self):
        ro = self.mounted("ro", "ro", "size=64k")
        out = ro / "new" / "folder"
        proc = run("build", FLAG, "--source", self.src, "--out", out, check=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn(f"{out}: cannot create the output folder: Read-only file system", proc.stderr)


if __name__ == "__main__":
    unittest.main()
