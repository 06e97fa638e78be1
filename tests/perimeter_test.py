#!/usr/bin/env python3
"""Perimeters of plain registries end to end: `layersift scan registry://HOST[/PREFIX]` against a
real docker-registry on 127.0.0.1 (support/registry_fixture.py), corpus images uploaded byte for
byte so that every image scanned from the registry must give exactly its OCI layout's findings.

- The whole catalog, a PREFIX (team-a covers team-a/api, not team-ab/api), --include-repo and
  --exclude-repo globs; repositories pushed after a scan are in the next one.
- --tags latest takes `latest` and reports a repository without it as skipped, with the reason;
  --tags all scans every tag.
- --untagged and --since are usage errors with a registry:// perimeter, found before anything is
  listed; so are malformed perimeters and perimeter flags without a perimeter.
- A registry that cannot be reached is an error of its target (exit code 3) while the other
  targets are still scanned.
- A token-auth registry: the catalog needs its own scope (registry:catalog:*).

(`--since` against ECR perimeters is in ecr_test.py, with the fake ECR that reports push times.)

Run by ctest as: perimeter_test.py --binary build/layersift --corpus build/corpus --source .
"""
import fnmatch
import json
import os
import subprocess
import unittest

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from registry_test import finding_keys
from support.registry_fixture import Registry, free_port, require_tools

ARGS = None

# repository -> {tag: (layout, layout tag)}: look-alike names for the prefix and the globs, a
# repository with several tags, and one without `latest`.
DEMO = ("oci-demo", "demo")
SEMANTICS = ("oci-semantics", "semantics")
REPOSITORIES = {
    "team-a/api": {"latest": DEMO},
    "team-a/worker": {"latest": DEMO},
    "team-a/legacy-api": {"latest": DEMO},
    "team-a/tools/cli": {"latest": SEMANTICS},
    "team-ab/api": {"latest": DEMO},
    "team-b/web": {"latest": SEMANTICS},
    "base": {"latest": DEMO, "v1": SEMANTICS, "v2": DEMO},
    "no-latest": {"v1": SEMANTICS, "v2": DEMO},
}


def corpus(name):
    return os.path.join(ARGS.corpus, name)


def scan(targets, *flags, registry=None, timeout=180):
    """`layersift scan --format json` with registry access over plain HTTP; returns (exit code,
    report or None, stderr)."""
    args = [ARGS.binary, "scan", "--format", "json", "--no-ignore-file", "--plain-http", *flags]
    stdin = None
    if registry is not None and registry.username:
        args += ["--username", registry.username, "--password-stdin"]
        stdin = registry.password
    # No state store between runs: each scan here must list and scan from scratch.
    env = dict(os.environ, LAYERSIFT_STATE="off")
    result = subprocess.run([*args, *targets], input=stdin, capture_output=True, text=True,
                            timeout=timeout, env=env)
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report, result.stderr


def layer_skips(report, target=None):
    """The skips inside images (of `target`, or all), without the target's name."""
    return sorted(json.dumps({k: v for k, v in skip.items() if k != "target"}, sort_keys=True)
                  for skip in report["skipped"]
                  if skip["image_digest"] is not None and target in (None, skip["target"]))


def perimeter_skips(report):
    """{target: reason} of the images or repositories a perimeter left out."""
    return {skip["target"]: skip["reason"] for skip in report["skipped"]
            if skip["image_digest"] is None}


def setUpModule():
    require_tools()


class PerimeterTestBase(unittest.TestCase):
    """Local scans of the layouts: what each image from the registry must give."""

    @classmethod
    def setUpClass(cls):
        cls.local = {}
        for layout, tag in (DEMO, SEMANTICS):
            rc, report, err = scan([f"oci:{corpus(layout)}:{tag}"])
            assert rc == 1 and report["findings"] and not report["errors"], err
            cls.local[(layout, tag)] = report

    @staticmethod
    def upload(reg, repository, tag, image):
        layout, layout_tag = image
        reg.upload_layout(corpus(layout) + ":" + layout_tag, f"{repository}:{tag}")

    def assert_scanned(self, reg, report, err, expected):
        """`expected`: {(repository, tag): (layout, layout tag)}; exactly these images were
        scanned, each with its layout's findings, and nothing failed."""
        self.assertEqual(report["errors"], [], err)
        scanned = {t["target"] for t in report["targets"] if t["images"]}
        self.assertEqual(scanned, {f"docker://{reg.host}/{r}:{t}" for r, t in expected})
        for (repository, tag), image in expected.items():
            with self.subTest(image=f"{repository}:{tag}"):
                target = f"docker://{reg.host}/{repository}:{tag}"
                found = {"findings": [f for f in report["findings"] if f["target"] == target]}
                self.assertEqual(finding_keys(found), finding_keys(self.local[image]))
                # the layouts' own deliberate skips (nested archives too deep, ...) are there too
                self.assertEqual(layer_skips(report, target), layer_skips(self.local[image]))
        self.assertEqual(len(report["findings"]),
                         sum(len(self.local[image]["findings"]) for image in expected.values()))


class RegistryPerimeterTest(PerimeterTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = Registry(auth="none")
        cls.reg.start()
        for repository, tags in REPOSITORIES.items():
            for tag, image in tags.items():
                cls.upload(cls.reg, repository, tag, image)

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()

    def latest_of(self, repositories):
        return {(r, "latest"): REPOSITORIES[r]["latest"]
                for r in repositories if "latest" in REPOSITORIES[r]}

    def test_whole_catalog(self):
        rc, report, err = scan([f"registry://{self.reg.host}"])
        self.assertEqual(rc, 1, err)
        self.assert_scanned(self.reg, report, err, self.latest_of(REPOSITORIES))
        # the repository without `latest` is not scanned, and says why
        skipped = perimeter_skips(report)
        self.assertEqual(set(skipped), {f"docker://{self.reg.host}/no-latest"})
        reason = skipped[f"docker://{self.reg.host}/no-latest"]
        self.assertIn("no latest tag", reason)
        self.assertIn("--tags all", reason)
        self.assertIn(f"registry://{self.reg.host}: 8 repositories, 7 images to scan, 1 skipped",
                      err)

    def test_quiet_has_no_summary(self):
        rc, report, err = scan([f"registry://{self.reg.host}/team-b"], "--quiet")
        self.assertEqual(rc, 1, err)
        self.assertNotIn("repositories", err)

    def test_prefix(self):
        rc, report, err = scan([f"registry://{self.reg.host}/team-a"])
        self.assertEqual(rc, 1, err)
        # team-a/tools/cli is under team-a/ too; team-ab/api is not
        self.assert_scanned(self.reg, report, err, self.latest_of(
            ["team-a/api", "team-a/worker", "team-a/legacy-api", "team-a/tools/cli"]))
        self.assertEqual(perimeter_skips(report), {})
        # a trailing slash and a nested prefix
        rc, report, err = scan([f"registry://{self.reg.host}/team-a/tools/"])
        self.assertEqual(rc, 1, err)
        self.assert_scanned(self.reg, report, err, self.latest_of(["team-a/tools/cli"]))

    def test_prefix_without_repositories(self):
        rc, report, err = scan([f"registry://{self.reg.host}/nobody"])
        self.assertEqual(rc, 0, err)
        self.assertEqual((report["targets"], report["errors"], report["skipped"]), ([], [], []))
        self.assertIn("0 repositories, 0 images to scan, 0 skipped", err)

    def test_include_and_exclude_globs(self):
        includes = ["team-*", "base"]
        excludes = ["*/legacy-*", "*/tools/*"]
        expected = [r for r in REPOSITORIES
                    if any(fnmatch.fnmatchcase(r, g) for g in includes)
                    and not any(fnmatch.fnmatchcase(r, g) for g in excludes)]
        self.assertEqual(sorted(expected),
                         ["base", "team-a/api", "team-a/worker", "team-ab/api", "team-b/web"])
        flags = [arg for g in includes for arg in ("--include-repo", g)]
        flags += [arg for g in excludes for arg in ("--exclude-repo", g)]
        rc, report, err = scan([f"registry://{self.reg.host}"], *flags)
        self.assertEqual(rc, 1, err)
        self.assert_scanned(self.reg, report, err, self.latest_of(expected))
        # globs match whole names, with a prefix too: `*` also matches '/'
        rc, report, err = scan([f"registry://{self.reg.host}/team-a"], "--include-repo", "*api")
        self.assertEqual(rc, 1, err)
        self.assert_scanned(self.reg, report, err,
                            self.latest_of(["team-a/api", "team-a/legacy-api"]))

    def test_tags_latest_skips_a_repository_without_latest(self):
        rc, report, err = scan([f"registry://{self.reg.host}"], "--include-repo", "no-latest")
        # nothing was scanned and nothing failed: a skip alone is a clean run
        self.assertEqual(rc, 0, err)
        self.assertEqual(report["findings"], [])
        self.assertEqual(report["errors"], [])
        self.assertEqual(len(report["skipped"]), 1)
        self.assertEqual(report["skipped"][0]["target"], f"docker://{self.reg.host}/no-latest")
        self.assertIn("(2 other tags); --tags all scans every tag", report["skipped"][0]["reason"])
        self.assertIn("1 repositories, 0 images to scan, 1 skipped", err)

    def test_tags_all_scans_every_tag(self):
        rc, report, err = scan([f"registry://{self.reg.host}"], "--tags", "all",
                               "--include-repo", "base", "--include-repo", "no-latest")
        self.assertEqual(rc, 1, err)
        expected = {(r, t): image for r in ("base", "no-latest")
                    for t, image in REPOSITORIES[r].items()}
        self.assertEqual(len(expected), 5)
        self.assert_scanned(self.reg, report, err, expected)
        self.assertEqual(perimeter_skips(report), {})

    def test_untagged_is_a_usage_error(self):
        # a registry nobody listens on: the usage error comes before any listing
        dead = f"registry://127.0.0.1:{free_port()}"
        rc, report, err = scan([dead], "--untagged")
        self.assertEqual(rc, 2, err)
        self.assertIsNone(report)
        self.assertIn("--untagged", err)
        self.assertIn("untagged manifests", err)

    def test_since_is_a_usage_error(self):
        dead = f"registry://127.0.0.1:{free_port()}"
        for since in ("2026-01-01", "not-a-date"):
            with self.subTest(since=since):
                rc, report, err = scan([dead], "--since", since)
                self.assertEqual(rc, 2, err)
                self.assertIn("--since", err)
                self.assertIn("do not report when an image was pushed", err)
        # also next to an ECR perimeter: the registry:// one cannot honour it
        rc, _, err = scan([dead, "ecr://123456789012/us-east-1"], "--since", "2026-01-01")
        self.assertEqual(rc, 2, err)
        self.assertIn("registry:// perimeter", err)

    def test_malformed_perimeters_and_flags_without_a_perimeter(self):
        for spec, words in (("registry://", "no registry host"),
                            ("registry://myhost/team", "'myhost' is not a registry host"),
                            (f"registry://{self.reg.host}/team:v1", "not a tag or digest")):
            with self.subTest(spec=spec):
                rc, _, err = scan([spec])
                self.assertEqual(rc, 2, err)
                self.assertIn(spec, err)
                self.assertIn(words, err)
        rc, _, err = scan([f"docker://{self.reg.host}/base:v1"], "--tags", "all")
        self.assertEqual(rc, 2, err)
        self.assertIn("apply to perimeters", err)

    def test_unreachable_registry_is_an_error_of_its_target(self):
        dead = f"registry://127.0.0.1:{free_port()}"
        rc, report, err = scan([dead, f"registry://{self.reg.host}/team-b"],
                               "--max-retries", "1", "--retry-backoff", "0.05")
        self.assertEqual(rc, 3, err)
        self.assertEqual(len(report["errors"]), 1, report["errors"])
        error = report["errors"][0]
        self.assertEqual(error["target"], dead)
        self.assertIn("cannot list the registry perimeter", error["message"])
        self.assertIn(dead[len("registry://"):], error["message"])
        # the other perimeter was still scanned, in full
        scanned = {t["target"] for t in report["targets"] if t["images"]}
        self.assertEqual(scanned, {f"docker://{self.reg.host}/team-b/web:latest"})
        self.assertEqual(finding_keys(report), finding_keys(self.local[SEMANTICS]))


class NewRepositoriesTest(PerimeterTestBase):
    """The catalog is listed on every run: a repository pushed after a scan is in the next."""

    def test_new_repository_is_in_the_next_scan(self):
        with Registry(auth="none") as reg:
            self.upload(reg, "app/one", "latest", DEMO)
            rc, report, err = scan([f"registry://{reg.host}"])
            self.assertEqual(rc, 1, err)
            self.assert_scanned(reg, report, err, {("app/one", "latest"): DEMO})
            self.upload(reg, "app/two", "latest", SEMANTICS)
            rc, report, err = scan([f"registry://{reg.host}"])
            self.assertEqual(rc, 1, err)
            self.assert_scanned(reg, report, err, {("app/one", "latest"): DEMO,
                                                   ("app/two", "latest"): SEMANTICS})


class TokenAuthPerimeterTest(PerimeterTestBase):
    """Token auth: the catalog needs the scope registry:catalog:*, each repository its pull
    scope; the credentials come from --username and --password-stdin."""

    def test_catalog_and_tags_with_tokens(self):
        with Registry(auth="token") as reg:
            self.upload(reg, "team-a/api", "latest", DEMO)
            self.upload(reg, "team-a/api", "v1", SEMANTICS)
            rc, report, err = scan([f"registry://{reg.host}/team-a"], "--tags", "all",
                                   registry=reg)
            self.assertEqual(rc, 1, err)
            self.assert_scanned(reg, report, err, {("team-a/api", "latest"): DEMO,
                                                   ("team-a/api", "v1"): SEMANTICS})
            # without credentials the catalog is refused: an error of the target, not a crash
            rc, report, err = scan([f"registry://{reg.host}"])
            self.assertEqual(rc, 3, err)
            self.assertEqual(len(report["errors"]), 1, report["errors"])
            message = report["errors"][0]["message"]
            self.assertIn("cannot list the registry perimeter", message)
            self.assertIn("registry:catalog:*", message)


if __name__ == "__main__":
    cli_harness.main(__import__(__name__))
