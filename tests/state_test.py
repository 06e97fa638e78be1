#!/usr/bin/env python3
"""The state store end to end: the layersift binary against a real registry (Debian's
docker-registry on 127.0.0.1, behind a recording proxy) holding 20 images that share base layers
(corpus/shared_base.py).

- Incremental scans: the first scan of the whole registry (registry://HOST --tags all) downloads
  each unique layer once; a second one with nothing changed downloads no blob and asks for each
  manifest once; after one new image is pushed, the third downloads only its new layers and
  config; a changed rule set reads everything again. Each scan's findings equal those of the
  images' OCI layouts scanned without state, and `layersift report` gives them back.
- Crash safety: scans killed with SIGKILL at random points, then run again, end with exactly the
  findings of an uninterrupted run, with no duplicate in the database; SIGINT stops a scan with
  exit code 130 and keeps what was done.
- Sharding: shards 1, 2 and 3 merged give identical reports, equal to the unsharded one; merging
  again changes nothing.
- No raw secret ever reaches a state file (the planted values are searched in every file the
  runs wrote, write-ahead logs included).

Run by ctest as: state_test.py --binary build/layersift --corpus build/corpus --source .
"""
import collections
import json
import os
import pathlib
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from support.fault_proxy import FaultProxy
from support.registry_fixture import Registry, require_tools

ARGS = None
IMAGES = 20
BLOB_GET = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})")
MANIFEST_GET = re.compile(r"^/v2/(.+)/manifests/([^?]+)")
# Each blob in one request, so that "downloaded once" is one GET.
FETCH = ["--plain-http", "--range-size", "64MiB"]


def finding_keys(report):
    """What a finding says, without the target's spelling (a scan names the spec it was given, a
    report from the store its canonical reference)."""
    keys = [(f["rule_id"], f["image_digest"], f["platform"], f["layer_index"], f["layer_digest"],
             f["path"], f["line"], f["column"], f["offset"], f["present_in_final_image"],
             json.dumps(f["removed_by"]), f["created_by"], f["secret_sha256"],
             f["secret_redacted"], f["fingerprint"], f["confidence"])
            for f in report["findings"]]
    return sorted(keys)


class Env:
    """The shared fixture: the images, the registry and the proxy in front of it."""

    def __init__(self):
        sys.path.insert(0, os.path.join(ARGS.source, "corpus"))
        import shared_base
        self.tmp = tempfile.TemporaryDirectory(prefix="layersift-state-test-")
        self.root = pathlib.Path(self.tmp.name)
        self.images = shared_base.SharedBaseImages(self.root / "layouts", IMAGES, seed=20261130,
                                                   base_files=120)
        self.images.write()
        self.registry = Registry(auth="none")
        self.registry.start()
        self.proxy = FaultProxy(self.registry.host)
        self.proxy.start()
        for image in self.images.images:
            self.push(image)
        self.layout_report = self.scan_layouts(self.images.images)

    def push(self, image):
        self.registry.upload_layout(f"{image.layout}:{image.tag}",
                                    f"team/app{image.index:02d}:{image.tag}")

    def close(self):
        self.proxy.stop()
        self.registry.stop()
        self.tmp.cleanup()

    @property
    def perimeter(self):
        return f"registry://{self.proxy.host}"

    def run(self, *args, timeout=300):
        result = subprocess.run([ARGS.binary, *args], capture_output=True, text=True,
                                timeout=timeout)
        report = None
        if result.stdout.strip().startswith("{"):
            report = json.loads(result.stdout)
        return result.returncode, report, result.stderr

    def scan(self, state, *flags, targets=None):
        return self.run("scan", "--format", "json", "--no-ignore-file", "--state", str(state),
                        "--tags", "all", *FETCH, *flags, *(targets or [self.perimeter]))

    def report(self, state, *flags):
        return self.run("report", "--format", "json", "--state", str(state), *flags)

    def scan_layouts(self, images, *flags):
        """The truth: every image's OCI layout scanned without state."""
        rc, report, err = self.run("scan", "--format", "json", "--no-ignore-file", "--no-state",
                                   *flags, *[f"oci:{i.layout}:{i.tag}" for i in images])
        assert rc == 1 and not report["errors"], err
        return report

    def blob_gets(self):
        counts = collections.Counter()
        for request in self.proxy.requests:
            m = BLOB_GET.match(request["path"])
            if m and request["method"] == "GET":
                counts[m.group(2)] += 1
        return counts

    def manifest_gets(self):
        return [r["path"] for r in self.proxy.requests
                if r["method"] == "GET" and MANIFEST_GET.match(r["path"])]


ENV = None


def setUpModule():
    global ENV
    require_tools()
    ENV = Env()


def tearDownModule():
    ENV.close()


def db_rows(path, sql):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def committed_layers(state):
    """Scan records committed so far; 0 before the file and its schema exist (a kill can land
    while the first run creates them)."""
    try:
        return db_rows(state, "SELECT count(*) FROM layer_scans")[0][0] if state.exists() else 0
    except sqlite3.OperationalError:
        return 0


class IncrementalScanTest(unittest.TestCase):
    """One state file through four scans: first, unchanged, one image pushed, rules changed."""

    def test_incremental_scans(self):
        env = ENV
        state = env.root / "incremental.db"
        images = list(env.images.images)
        layers = env.images.unique_layers(images)
        configs = {i.config_digest for i in images}
        self.assertEqual(len(layers), 3 + IMAGES)  # base-os, two runtimes, one app layer each

        # 1. First scan: every unique layer and config downloaded exactly once.
        env.proxy.clear_log()
        rc, first, err = env.scan(state)
        self.assertEqual(rc, 1, err)
        self.assertEqual(first["errors"], [], err)
        gets = env.blob_gets()
        self.assertEqual(set(gets), layers | configs)
        self.assertEqual(set(gets.values()), {1}, gets)
        self.assertEqual(finding_keys(first), finding_keys(env.layout_report))
        self.assertEqual(len(first["targets"]), IMAGES)

        # 2. Nothing changed: no blob, one manifest request per image, the same findings.
        env.proxy.clear_log()
        rc, second, err = env.scan(state)
        self.assertEqual(rc, 1, err)
        self.assertEqual(env.blob_gets(), collections.Counter())
        self.assertEqual(len(env.manifest_gets()), IMAGES, env.manifest_gets())
        self.assertEqual(finding_keys(second), finding_keys(first))
        self.assertEqual(second["stats"]["stored_bytes"], 0)
        self.assertIn(f"{len(layers)} of {len(layers)} layers recalled", err)

        # 3. One image pushed: only its new layer and config are downloaded.
        new = env.images.add_image(IMAGES)
        env.push(new)
        env.proxy.clear_log()
        rc, third, err = env.scan(state)
        self.assertEqual(rc, 1, err)
        self.assertEqual(third["errors"], [], err)
        self.assertEqual(set(env.blob_gets()), set(new.layer_digests) - layers | {new.config_digest})
        self.assertEqual(len(set(new.layer_digests) - layers), 1)  # shares its base layers
        all_images = images + [new]
        self.assertEqual(finding_keys(third), finding_keys(env.scan_layouts(all_images)))

        # The store reports the same, without scanning; filters narrow it.
        rc, stored, err = env.report(state)
        self.assertEqual(rc, 1, err)
        self.assertEqual(finding_keys(stored), finding_keys(third))
        rc, one_repo, _ = env.report(state, "--repo", "team/app00")
        self.assertEqual({f["image_digest"] for f in one_repo["findings"]}, {images[0].manifest_digest})
        rc, present, _ = env.report(state, "--present-only", "--rule", "aws-access-key-id")
        self.assertTrue(present["findings"])
        self.assertTrue(all(f["rule_id"] == "aws-access-key-id" and f["present_in_final_image"]
                            for f in present["findings"]))
        # runtime-b deletes etc/base.env: only the even images still have it.
        self.assertEqual(len(present["findings"]), (IMAGES + 2) // 2)
        status = env.run("status", "--format", "json", "--state", str(state))[1]
        self.assertEqual(status["runs"], 3)
        self.assertEqual(status["runs_unfinished"], 0)
        self.assertEqual(status["images"], IMAGES + 1)
        self.assertEqual(status["layers_scanned"], len(layers) + 1 + IMAGES + 1)  # layers + configs
        self.assertEqual(status["layers_failed"], 0)

        # 4. A changed rule set: every blob read again (once), findings of the new rules only.
        env.proxy.clear_log()
        rc, fewer, err = env.scan(state, "--disable-rule", "stripe-secret-key")
        self.assertEqual(rc, 1, err)
        gets = env.blob_gets()
        self.assertEqual(set(gets), env.images.unique_layers(all_images) | configs | {new.config_digest})
        self.assertEqual(set(gets.values()), {1})
        expected = [k for k in finding_keys(third) if k[0] != "stripe-secret-key"]
        self.assertEqual(finding_keys(fewer), expected)
        # ...and --rescan reads everything again even with unchanged rules.
        env.proxy.clear_log()
        rc, again, err = env.scan(state, "--disable-rule", "stripe-secret-key", "--rescan")
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(env.blob_gets()), len(gets))
        self.assertEqual(finding_keys(again), expected)
        # Rescans replace, never add: each blob's findings once per rule set.
        dupes = db_rows(state, "SELECT digest, rule_set_hash, path, offset, rule_id, count(*) FROM findings "
                               "GROUP BY 1,2,3,4,5 HAVING count(*) > 1")
        self.assertEqual(dupes, [])


class CrashSafetyTest(unittest.TestCase):

    def uninterrupted(self):
        state = ENV.root / "uninterrupted.db"
        rc, report, err = ENV.scan(state, "--threads", "1")
        self.assertEqual(rc, 1, err)
        rc, stored, err = ENV.report(state)
        return finding_keys(stored)

    def test_sigkill_at_random_points_then_resume(self):
        expected = self.uninterrupted()
        rng = random.Random(int(os.environ.get("LAYERSIFT_TEST_SEED", "811")))
        # How long a whole scan takes here, to spread the kills over it.
        start = time.monotonic()
        ENV.scan(ENV.root / "timing.db", "--threads", "1")
        duration = time.monotonic() - start
        for trial in range(3):
            with self.subTest(trial=trial):
                state = ENV.root / f"killed-{trial}.db"
                kills, committed = 0, []
                for attempt in range(8):
                    args = [ARGS.binary, "scan", "--format", "json", "--no-ignore-file", "--quiet",
                            "--state", str(state), "--tags", "all", "--threads", "1", *FETCH,
                            ENV.perimeter]
                    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(rng.uniform(0.05, duration * 0.9))
                    if process.poll() is None:
                        process.send_signal(signal.SIGKILL)
                        process.wait()
                        kills += 1
                        committed.append(committed_layers(state))
                    if attempt >= 2 and process.returncode in (0, 1):
                        break
                self.assertGreater(kills, 0)
                # What was committed before each kill is never lost.
                self.assertEqual(committed, sorted(committed))
                rc, final, err = ENV.scan(state, "--threads", "1")
                self.assertEqual(rc, 1, err)
                self.assertEqual(finding_keys(final), expected)
                rc, stored, err = ENV.report(state)
                self.assertEqual(finding_keys(stored), expected)
                dupes = db_rows(state, "SELECT digest, rule_set_hash, path, offset, rule_id, count(*) "
                                       "FROM findings GROUP BY 1,2,3,4,5 HAVING count(*) > 1")
                self.assertEqual(dupes, [])
                # Killed runs stay unfinished (a kill before the run was recorded leaves none).
                runs, ended = db_rows(state, "SELECT count(*), count(ended_at) FROM runs")[0]
                self.assertLessEqual(runs - ended, kills)
                self.assertGreaterEqual(ended, 1)

    def test_sigint_stops_cleanly_and_keeps_what_was_done(self):
        expected = self.uninterrupted()
        state = ENV.root / "sigint.db"
        args = [ARGS.binary, "scan", "--format", "json", "--no-ignore-file", "--state", str(state),
                "--tags", "all", "--threads", "1", "--plain-http", ENV.perimeter]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait until some layer is committed, then interrupt.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if state.exists():
                try:
                    if db_rows(state, "SELECT count(*) FROM layer_scans WHERE kind='layer'")[0][0] > 0:
                        break
                except sqlite3.Error:
                    pass
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        if process.returncode in (0, 1):
            self.skipTest("the scan finished before the signal arrived")
        self.assertEqual(process.returncode, 130, err)
        self.assertIn("stopping", err)
        report = json.loads(out)
        self.assertTrue(any("stopped" in e["message"] for e in report["errors"]), report["errors"])
        ended = db_rows(state, "SELECT exit_status FROM runs WHERE ended_at IS NOT NULL")
        self.assertEqual(ended, [(130,)])
        done = db_rows(state, "SELECT count(*) FROM layer_scans WHERE status='complete'")[0][0]
        self.assertGreater(done, 0)
        self.assertEqual(db_rows(state, "SELECT count(*) FROM layer_scans WHERE status='error'")[0][0], 0)
        rc, final, err = ENV.scan(state)
        self.assertEqual(rc, 1, err)
        self.assertGreaterEqual(int(re.search(r"(\d+) of \d+ layers recalled", err).group(1)), 1)
        self.assertEqual(finding_keys(final), expected)


class ShardingTest(unittest.TestCase):

    def merged_report(self, n):
        shards = []
        for i in range(n):
            state = ENV.root / f"shard-{n}-{i}.db"
            rc, report, err = ENV.scan(state, "--shard", f"{i}/{n}")
            self.assertIn(rc, (0, 1), err)
            self.assertEqual(report["errors"], [], err)
            shards.append(state)
        merged = ENV.root / f"merged-{n}.db"
        rc, _, err = ENV.run("merge", str(merged), *map(str, shards))
        self.assertEqual(rc, 0, err)
        rc, report, err = ENV.report(merged)
        self.assertEqual(rc, 1, err)
        self.assertEqual(report["errors"], [], err)
        return merged, shards, report

    def test_shards_merged_give_identical_reports(self):
        reports = {}
        for n in (1, 2, 3):
            merged, shards, report = self.merged_report(n)
            reports[n] = report
            # Each layer read by exactly one shard.
            scanned = [set(r[0] for r in db_rows(s, "SELECT digest FROM layer_scans WHERE kind='layer'"))
                       for s in shards]
            self.assertEqual(sum(map(len, scanned)), len(set().union(*scanned)))
            if n == 3:
                # Merging the same files again changes nothing.
                before = db_rows(merged, "SELECT count(*) FROM findings")
                rc, _, err = ENV.run("merge", str(merged), *map(str, shards))
                self.assertEqual(rc, 0, err)
                self.assertEqual(db_rows(merged, "SELECT count(*) FROM findings"), before)
                self.assertEqual(ENV.report(merged)[1]["findings"], report["findings"])
        self.assertEqual(reports[2]["findings"], reports[1]["findings"])
        self.assertEqual(reports[3]["findings"], reports[1]["findings"])
        self.assertEqual(finding_keys(reports[1]), finding_keys(ENV.scan_layouts(ENV.images.images)))


class NoRawSecretTest(unittest.TestCase):

    def test_no_state_file_holds_a_planted_secret(self):
        state = ENV.root / "secrets.db"
        rc, _, err = ENV.scan(state)
        self.assertEqual(rc, 1, err)
        files = [p for p in ENV.root.glob("*.db*")]
        self.assertIn(state, files)
        secrets = {p.secret.encode() for p in ENV.images.plants}
        self.assertGreater(len(secrets), 40)
        for path in files:
            data = path.read_bytes()
            for secret in secrets:
                self.assertNotIn(secret, data, f"a raw secret is in {path.name}")
        # The check can fail: the secrets are in the layouts the images came from.
        config = ENV.images.images[0].layout / "blobs" / "sha256" / ENV.images.images[0].config_digest[7:]
        self.assertTrue(any(s in config.read_bytes() for s in secrets))


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
