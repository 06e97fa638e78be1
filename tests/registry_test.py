#!/usr/bin/env python3
"""Registry pulls end to end: the layersift binary against a real registry (Debian's
docker-registry, started here on 127.0.0.1), in its three auth modes, and behind a
fault-injecting proxy.

- Every corpus image scanned from the registry gives exactly the findings of its OCI layout:
  anonymous, htpasswd Basic and token auth; gzip and zstd layers; single and multi-platform.
- Credentials from the command line, docker's config.json and credential helpers; tokens cached
  and renewed on 401.
- Under each injected fault (connection resets, truncated bodies, 429/503, stalls, servers that
  ignore Range or lie in Content-Range, redirects to a storage host that expire, corrupted
  bytes) a scan either gives the clean run's findings or exits 3 naming the layer and the
  fault, and no layer is ever missing from both the findings and the errors.
- `layersift ls` over the catalog and tag lists, with Link pagination.

Run by ctest as: registry_test.py --binary build/layersift --corpus build/corpus --source .
"""
import base64
import hashlib
import json
import os
import pathlib
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from support.fault_proxy import FaultProxy
from support.registry_fixture import Registry, require_tools

ARGS = None
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"

# Small retry waits and a short stall window keep fault runs quick; 1 MiB ranges make the
# multi-megabyte test layer several ranges (4 in flight: the default).
FAST_FETCH = ["--retry-backoff", "0.05", "--stall-timeout", "2", "--range-size", "1MiB",
              "--max-retries", "3"]


def corpus(name):
    return os.path.join(ARGS.corpus, name)


def run_scan(targets, *flags, registry=None, env=None, stdin=None, timeout=180):
    """Runs `layersift scan --format json` and returns (exit code, report, stderr)."""
    args = [ARGS.binary, "scan", "--format", "json", "--no-ignore-file", "--stats", *flags]
    if registry is not None and registry.username:
        args += ["--username", registry.username, "--password-stdin"]
        stdin = registry.password
    args += targets
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout,
                            env=env)
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report, result.stderr


def finding_keys(report, with_digests=True, with_presence=True):
    """What must be identical between two scans of the same image: every finding's rule, place
    and secret, with its presence (unknown when a later layer failed) and attribution."""
    keys = []
    for f in report["findings"]:
        key = [f["rule_id"], f["platform"], f["layer_index"], f["path"], f["line"], f["column"],
               f["offset"], f["secret_sha256"], f["created_by"]]
        if with_presence:
            key += [f["present_in_final_image"], json.dumps(f["removed_by"], sort_keys=True)]
        if with_digests:
            key += [f["image_digest"], f["layer_digest"]]
        keys.append(tuple(map(str, key)))
    return sorted(keys)


def skip_keys(report):
    """The deliberate skips, wherever the target was read from."""
    return sorted(str(sorted((k, v) for k, v in skip.items() if k != "target"))
                  for skip in report["skipped"])


def layers_of(report):
    """(digest, complete) of every layer of every image in the report."""
    return [(layer["digest"], layer["complete"])
            for target in report["targets"] for image in target.get("images", [])
            for layer in image["layers"]]


def build_large_image(root, seed):
    """An OCI layout with a multi-megabyte gzip layer (secrets planted before, between and after
    large incompressible files, so they sit in different ranges), a zstd layer and an
    uncompressed one. Made with the corpus generator's own pieces, fresh secrets each run."""
    sys.path.insert(0, os.path.join(ARGS.source, "corpus"))
    import generate as gen  # corpus/generate.py
    rng = random.Random(seed)
    maker = gen.SecretMaker(rng, gen.builtin_min_entropy())
    filler = gen.Filler(rng)

    def secrets_file(path, *rules):
        plants = [maker.token(rule) for rule in rules]
        text = filler.config(40) + "".join(f"key_{i} = {p.secret}\n" + filler.config(5)
                                            for i, p in enumerate(plants))
        return gen.text_file(path, text, plants)

    big = [
        secrets_file("etc/app/first.env", "github-pat", "aws-access-key-id"),
        gen.Member("data/random-1.bin", rng.randbytes(3 << 20)),
        secrets_file("etc/app/middle.env", "gitlab-pat"),
        gen.Member("data/random-2.bin", rng.randbytes(3 << 20)),
        secrets_file("opt/app/last.conf", "slack-bot-token", "stripe-secret-key"),
    ]
    layers = [
        gen.Layer(gen.with_parent_dirs(big), "gzip", "COPY data /"),
        gen.Layer(gen.with_parent_dirs([secrets_file("srv/zstd.env", "digitalocean-token")]),
                  "zstd", "COPY srv /srv"),
        gen.Layer(gen.with_parent_dirs([secrets_file("srv/plain.env", "hashicorp-vault-token")]),
                  "none", "COPY plain /srv"),
    ]
    config = gen.config_dict(gen.history_of([layer.created_by for layer in layers]))
    gen.write_oci_image(pathlib.Path(root), "large", layers, config)


def setUpModule():
    require_tools()


class RegistryMatchesLayoutTest(unittest.TestCase):
    """Each corpus image from the registry gives exactly the findings of its OCI layout."""

    IMAGES = [("oci-demo", "demo"), ("oci-semantics", "semantics"), ("oci-multiarch", "multi")]

    @classmethod
    def setUpClass(cls):
        cls.registries = {}
        for mode in ("none", "basic", "token"):
            reg = Registry(auth=mode)
            reg.start()
            cls.registries[mode] = reg
            for layout, tag in cls.IMAGES:
                reg.upload_layout(corpus(layout) + ":" + tag, f"{tag}:latest")
            # skopeo recompresses every layer to zstd (a fresh repository, so no blob is reused)
            reg.push(corpus("oci-demo") + ":demo", "zstd-demo:latest", zstd=True)
            reg.push(corpus("oci-multiarch") + ":multi", "zstd-multi:latest", zstd=True,
                     all_platforms=True)
        cls.local = {}
        for layout, _ in cls.IMAGES:
            rc, report, err = run_scan([corpus(layout)])
            assert rc in (0, 1) and not report["errors"], err
            cls.local[layout] = report

    @classmethod
    def tearDownClass(cls):
        for reg in cls.registries.values():
            reg.stop()

    def scan_registry(self, mode, reference, *flags):
        reg = self.registries[mode]
        rc, report, err = run_scan([f"docker://{reg.host}/{reference}"], "--plain-http", *flags,
                                   registry=reg)
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(report["errors"], [], err)
        return report

    def check_mode(self, mode):
        for layout, tag in self.IMAGES:
            with self.subTest(image=layout):
                report = self.scan_registry(mode, f"{tag}:latest")
                local = self.local[layout]
                self.assertGreater(len(local["findings"]), 0)
                self.assertEqual(finding_keys(report), finding_keys(local))
                self.assertEqual(skip_keys(report), skip_keys(local))
                self.assertEqual(report["targets"][0]["kind"], "docker")
                self.assertEqual(layers_of(report), layers_of(local))
                # every blob came through the downloader, verified against its digest
                self.assertGreater(report["stats"]["registry"]["blob_requests"], 0)

    def test_anonymous(self):
        self.check_mode("none")

    def test_basic_auth(self):
        self.check_mode("basic")

    def test_token_auth(self):
        self.check_mode("token")

    def test_zstd_layers(self):
        for mode in ("none", "basic", "token"):
            for repo, layout in (("zstd-demo", "oci-demo"), ("zstd-multi", "oci-multiarch")):
                with self.subTest(mode=mode, repo=repo):
                    report = self.scan_registry(mode, f"{repo}:latest")
                    layers = [layer for target in report["targets"] for image in target["images"]
                              for layer in image["layers"]]
                    self.assertTrue(all(layer["media_type"] == ZSTD_LAYER and
                                        layer["compression"] == "zstd" for layer in layers))
                    # recompression changes the blob digests, never what is found where
                    self.assertEqual(finding_keys(report, with_digests=False),
                                     finding_keys(self.local[layout], with_digests=False))

    def test_platform_selection_and_pinned_digest(self):
        reg = self.registries["token"]
        _, content_type = reg.manifest("multi", "latest")
        self.assertEqual(content_type, OCI_INDEX)
        rc, local, _ = run_scan([corpus("oci-multiarch")], "--platform", "linux/arm64")
        report = self.scan_registry("token", "multi:latest", "--platform", "linux/arm64")
        self.assertEqual(finding_keys(report), finding_keys(local))
        self.assertEqual({f["platform"] for f in report["findings"]}, {"linux/arm64/v8"})
        # an index entry of another platform is not even fetched: one image, one config
        self.assertEqual(len(report["targets"][0]["images"]), 1)
        # pinned by digest: the same image, and the digest it was asked for is the one verified
        digest = report["targets"][0]["images"][0]["image_digest"]
        pinned = self.scan_registry("token", f"multi@{digest}")
        self.assertEqual(finding_keys(pinned), finding_keys(local))

    def test_unknown_platform_names_the_ones_there(self):
        reg = self.registries["none"]
        rc, report, err = run_scan([f"docker://{reg.host}/multi:latest"], "--plain-http",
                                   "--platform", "windows/amd64")
        self.assertEqual(rc, 3)
        self.assertIn("linux/amd64", report["errors"][0]["message"])
        self.assertIn("linux/arm64", report["errors"][0]["message"])

    def test_bare_reference_without_transport(self):
        reg = self.registries["none"]
        report = self.scan_registry("none", "demo")  # tag defaults to latest
        rc, bare, err = run_scan([f"{reg.host}/demo"], "--plain-http")
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(finding_keys(bare), finding_keys(report))

    def test_unknown_tag_and_repository(self):
        reg = self.registries["basic"]
        for reference, expected in (("demo:nope", "not found"), ("nothing:latest", "not found")):
            with self.subTest(reference=reference):
                rc, report, err = run_scan([f"docker://{reg.host}/{reference}"], "--plain-http",
                                           registry=reg)
                self.assertEqual(rc, 3)
                self.assertIn(expected, report["errors"][0]["message"])
                self.assertIn(reference.split(":")[0], report["errors"][0]["message"])

    def test_https_by_default(self):
        reg = self.registries["none"]
        rc, report, err = run_scan([f"docker://{reg.host}/demo:latest"], "--max-retries", "0")
        self.assertEqual(rc, 3)
        self.assertIn("--plain-http", report["errors"][0]["message"])


class CredentialsTest(unittest.TestCase):
    """Where credentials come from, and what happens when they are missing or wrong."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(auth="token")
        cls.reg.start()
        cls.reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
        cls.basic = Registry(auth="basic")
        cls.basic.start()
        cls.basic.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
        rc, cls.local, _ = run_scan([corpus("oci-demo")])
        cls.tmp = tempfile.mkdtemp(prefix="layersift-creds-")

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        cls.basic.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def env_with_config(self, config, helpers=None):
        """An environment whose DOCKER_CONFIG holds `config`, with `helpers` (name -> script)
        on PATH."""
        home = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(home, "config.json"), "w") as f:
            json.dump(config, f)
        env = dict(os.environ, DOCKER_CONFIG=home)
        if helpers:
            bin_dir = os.path.join(home, "bin")
            os.mkdir(bin_dir)
            for name, script in helpers.items():
                path = os.path.join(bin_dir, "docker-credential-" + name)
                with open(path, "w") as f:
                    f.write(script)
                os.chmod(path, stat.S_IRWXU)
            env["PATH"] = bin_dir + os.pathsep + env["PATH"]
        return env, home

    def scan(self, reg, env=None, *flags, stdin=None):
        return run_scan([f"docker://{reg.host}/demo:latest"], "--plain-http", *flags, env=env,
                        stdin=stdin)

    def test_no_credentials_is_an_error_that_says_how_to_give_them(self):
        for reg in (self.reg, self.basic):
            with self.subTest(auth=reg.auth):
                env, _ = self.env_with_config({})
                rc, report, err = self.scan(reg, env)
                self.assertEqual(rc, 3)
                message = report["errors"][0]["message"]
                self.assertIn("--password-stdin", message)
                self.assertNotIn(reg.password, err + json.dumps(report))

    def test_wrong_password_is_refused(self):
        for reg in (self.reg, self.basic):
            with self.subTest(auth=reg.auth):
                env, _ = self.env_with_config({})
                rc, report, err = self.scan(reg, env, "--username", reg.username,
                                            "--password-stdin", stdin="not-the-password\n")
                self.assertEqual(rc, 3)
                self.assertRegex(report["errors"][0]["message"], "refused")
                self.assertNotIn("not-the-password", err + json.dumps(report))

    def test_docker_config_auths(self):
        for reg in (self.reg, self.basic):
            with self.subTest(auth=reg.auth):
                auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
                env, _ = self.env_with_config({"auths": {reg.host: {"auth": auth}}})
                rc, report, err = self.scan(reg, env)
                self.assertIn(rc, (0, 1), err)
                self.assertEqual(finding_keys(report), finding_keys(self.local))

    def test_credential_helper(self):
        log = os.path.join(self.tmp, "helper.log")
        script = ("#!/bin/sh\n"
                  f'[ "$1" = get ] || exit 2\nread server\necho "$server" >> {log}\n'
                  f'printf \'{{"ServerURL":"%s","Username":"{self.reg.username}",'
                  f'"Secret":"{self.reg.password}"}}\' "$server"\n')
        for config in ({"credHelpers": {self.reg.host: "fake"}}, {"credsStore": "fake"}):
            with self.subTest(config=config):
                env, _ = self.env_with_config(config, {"fake": script})
                rc, report, err = self.scan(self.reg, env)
                self.assertIn(rc, (0, 1), err)
                self.assertEqual(finding_keys(report), finding_keys(self.local))
        with open(log) as f:
            self.assertEqual(f.read().split(), [self.reg.host, self.reg.host])

    def test_identity_token_is_exchanged_by_oauth2(self):
        # `docker login` against an OAuth2 token service stores a refresh token: it is posted
        # as a refresh_token grant, never sent to the registry.
        env, _ = self.env_with_config(
            {"auths": {self.reg.host: {"auth": "", "identitytoken": self.reg.token_server.identity_token}}})
        self.reg.token_server.clear_token_requests()
        rc, report, err = self.scan(self.reg, env)
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(finding_keys(report), finding_keys(self.local))
        grants = [r.get("grant") for r in self.reg.token_requests]
        self.assertEqual(grants, ["refresh_token"])

    def test_access_token_field_and_default_lifetime(self):
        # OAuth2-style answers: "access_token" only, no expires_in (60 s is assumed).
        reg = Registry(auth="token", token_field="access_token", token_expires_in=None)
        reg.start()
        try:
            reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
            reg.token_server.clear_token_requests()
            rc, report, err = run_scan([f"docker://{reg.host}/demo:latest"], "--plain-http", registry=reg)
            self.assertIn(rc, (0, 1), err)
            self.assertEqual(finding_keys(report), finding_keys(self.local))
            self.assertEqual(len(reg.token_requests), 1)
        finally:
            reg.stop()

    def test_helper_without_credentials_means_anonymous(self):
        script = "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n"
        env, _ = self.env_with_config({"credHelpers": {self.reg.host: "empty"}}, {"empty": script})
        rc, report, err = self.scan(self.reg, env)
        self.assertEqual(rc, 3)
        self.assertIn("anonymous", report["errors"][0]["message"])

    def test_one_token_per_scope_and_renewal_after_401(self):
        self.reg.token_server.clear_token_requests()
        rc, report, err = run_scan([f"docker://{self.reg.host}/demo:latest"], "--plain-http",
                                   registry=self.reg)
        self.assertIn(rc, (0, 1), err)
        # manifests, the config and four layers, all under one cached token
        self.assertEqual(len(self.reg.token_requests), 1, self.reg.token_requests)
        self.assertEqual(self.reg.token_requests[0]["scopes"], ["repository:demo:pull"])
        self.assertEqual(report["stats"]["registry"]["auth_renewals"], 0)

    def test_expired_token_is_renewed(self):
        # Tokens that the registry stops accepting after 2 s: a blob request retried after a
        # 3 s wait carries an expired token, gets 401 and must renew the token, not fail.
        reg = Registry(auth="token", token_expires_in=2, token_hard_expiry=True)
        reg.start()
        try:
            reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
            with FaultProxy(reg.host) as proxy:
                proxy.set_faults([{"match": r"^/v2/demo/blobs/", "method": "GET", "times": 1,
                                   "action": "status", "code": 503, "retry_after": 3}])
                rc, report, err = run_scan([f"docker://{proxy.host}/demo:latest"], "--plain-http",
                                           "--retry-backoff", "0.05", registry=reg)
            self.assertIn(rc, (0, 1), err)
            self.assertEqual(finding_keys(report), finding_keys(self.local))
            self.assertGreaterEqual(report["stats"]["registry"]["auth_renewals"], 1)
            self.assertGreaterEqual(len(reg.token_requests), 2)
        finally:
            reg.stop()


class FaultInjectionTest(unittest.TestCase):
    """Every fault either costs a retry (same findings as the clean run) or fails the layer by
    name (exit 3); never a silently missing layer."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="layersift-faults-")
        layout = os.path.join(cls.tmp, "large")
        build_large_image(layout, seed=random.randrange(1 << 30))
        cls.reg = Registry(auth="token")
        cls.reg.start()
        cls.reg.upload_layout(layout + ":large", "large:latest")
        cls.proxy = FaultProxy(cls.reg.host, blob_path=cls.reg.blob_path)
        cls.proxy.start()
        rc, cls.local, err = run_scan([layout])
        assert rc == 1 and not cls.local["errors"], err
        cls.layers = [digest for digest, _ in layers_of(cls.local)]
        cls.big_layer = cls.layers[0]
        cls.big_size = os.path.getsize(cls.reg.blob_path(cls.big_layer))
        assert cls.big_size > (6 << 20), cls.big_size

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.reg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scan(self, faults, *flags):
        self.proxy.clear_log()
        self.proxy.set_faults(faults)
        try:
            rc, report, err = run_scan([f"docker://{self.proxy.host}/large:latest"], "--plain-http",
                                       *FAST_FETCH, *flags, registry=self.reg)
        finally:
            self.proxy.clear_faults()
        self.assertIsNotNone(report, err)
        # No layer is ever missing from both the findings and the errors.
        for digest, complete in layers_of(report):
            if not complete:
                self.assertTrue(any(e.get("layer_digest") == digest for e in report["errors"]),
                                (digest, report["errors"]))
        return rc, report, err

    def assert_clean(self, faults, *flags, expect_fault=True):
        rc, report, err = self.scan(faults, *flags)
        self.assertEqual(rc, 1, err)
        self.assertEqual(report["errors"], [])
        self.assertEqual(finding_keys(report), finding_keys(self.local))
        if expect_fault:
            self.assertTrue(self.proxy.faults_applied, "the fault never fired")
        return report

    def assert_layer_fails(self, faults, layer, *fragments):
        rc, report, err = self.scan(faults)
        self.assertEqual(rc, 3, err)
        errors = [e for e in report["errors"] if e.get("layer_digest") == layer]
        self.assertEqual(len(errors), 1, report["errors"])
        for fragment in fragments:
            self.assertIn(fragment, errors[0]["message"])
        # the other layers are scanned completely (presence in the final image becomes unknown
        # for the layers below the failed one)
        others = [k for k in finding_keys(self.local, with_presence=False) if layer not in k]
        self.assertTrue(set(others) <= set(finding_keys(report, with_presence=False)))
        return report

    def blob_rule(self, action, layer=None, times=1, **params):
        return {"match": r"^/v2/large/blobs/" + (layer or self.big_layer), "method": "GET",
                "times": times, "action": action, **params}

    def test_parallel_ranges_clean(self):
        report = self.assert_clean([], expect_fault=False)
        ranged = [r for r in self.proxy.requests if self.big_layer in r["path"]]
        self.assertGreaterEqual(len(ranged), 6)  # 1 MiB ranges of a 6+ MiB blob
        self.assertTrue(all(r["headers"].get("range", "").startswith("bytes=") for r in ranged))
        # never a byte past the end of the blob
        for r in ranged:
            last = int(r["headers"]["range"].split("-")[1])
            self.assertLess(last, self.big_size)
        stats = report["stats"]["registry"]
        self.assertEqual(stats["retries"], 0)
        # connections are reused across ranges, layers and the config
        self.assertGreaterEqual(stats["blob_requests"], 10)
        self.assertLessEqual(stats["blob_connections"], 5, stats)

    def test_connection_reset_resumes(self):
        report = self.assert_clean([self.blob_rule("reset", after_bytes=300000, times=2)])
        self.assertGreaterEqual(report["stats"]["registry"]["retries"], 2)
        # resumed where the bytes stopped, not from the start of the range
        resumed = [r["headers"]["range"] for r in self.proxy.requests
                   if self.big_layer in r["path"] and r["headers"].get("range")]
        self.assertTrue(any(not rng.startswith("bytes=0-") and int(rng[6:].split("-")[0]) % (1 << 20)
                            for rng in resumed), resumed)

    def test_truncated_body_resumes(self):
        report = self.assert_clean([self.blob_rule("truncate", after_bytes=100000)])
        self.assertGreaterEqual(report["stats"]["registry"]["retries"], 1)

    def test_throttled_429_honours_retry_after(self):
        start = time.monotonic()
        report = self.assert_clean([self.blob_rule("status", code=429, retry_after=1)])
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertGreaterEqual(report["stats"]["registry"]["retries"], 1)

    def test_503_then_success(self):
        self.assert_clean([self.blob_rule("status", code=503, times=2)])

    def test_manifest_503_is_retried(self):
        self.assert_clean([{"match": r"^/v2/large/manifests/", "method": "GET", "times": 1,
                            "action": "status", "code": 503}])

    def test_manifest_that_stays_unavailable_fails_the_target_by_name(self):
        rc, report, err = self.scan([{"match": r"^/v2/large/manifests/", "method": "GET",
                                      "times": -1, "action": "status", "code": 503}])
        self.assertEqual(rc, 3, err)
        message = report["errors"][0]["message"]
        for fragment in ("large:latest", "HTTP 503", "after 3 retries"):
            self.assertIn(fragment, message)

    def test_stalled_transfer_is_broken_off_and_resumed(self):
        start = time.monotonic()
        report = self.assert_clean([self.blob_rule("stall", after_bytes=1000, seconds=30)])
        self.assertLess(time.monotonic() - start, 20)
        self.assertGreaterEqual(report["stats"]["registry"]["retries"], 1)

    def test_server_ignoring_range_falls_back_to_one_stream(self):
        report = self.assert_clean([self.blob_rule("ignore_range", times=-1)])
        self.assertGreaterEqual(report["stats"]["registry"]["range_fallbacks"], 1)

    def test_mismatched_content_range_falls_back(self):
        report = self.assert_clean([self.blob_rule("bad_content_range")])
        self.assertGreaterEqual(report["stats"]["registry"]["range_fallbacks"], 1)

    def test_ignored_range_and_a_reset_resume_by_skipping(self):
        self.assert_clean([self.blob_rule("ignore_range", times=1),
                           self.blob_rule("reset", after_bytes=2500000, times=1)])

    def test_single_stream_resumes_with_a_range(self):
        # --fetch-connections 1 streams the blob with one request; a broken stream resumes where
        # it stopped with an open-ended range.
        report = self.assert_clean([self.blob_rule("reset", after_bytes=2500000)],
                                   "--fetch-connections", "1")
        self.assertGreaterEqual(report["stats"]["registry"]["retries"], 1)
        gets = [r["headers"].get("range") for r in self.proxy.requests if self.big_layer in r["path"]]
        self.assertIsNone(gets[0])
        self.assertRegex(gets[1], r"^bytes=\d+-$")
        self.assertGreaterEqual(int(gets[1][6:-1]), 1 << 20)

    def test_redirect_to_storage_without_credentials(self):
        report = self.assert_clean([self.blob_rule("redirect", times=-1, reject_authorization=True)])
        self.assertGreaterEqual(report["stats"]["registry"]["redirects"], 1)
        targets = self.proxy.redirect_requests
        self.assertGreater(len(targets), 1)
        self.assertFalse([r for r in targets if "authorization" in r["headers"]])
        # the registry itself did get credentials
        registry_gets = [r for r in self.proxy.requests if "/blobs/" in r["path"]
                         and not r["path"].startswith("/s3/")]
        self.assertTrue(all("authorization" in r["headers"] for r in registry_gets))

    def test_relative_redirect(self):
        self.assert_clean([self.blob_rule("redirect", times=-1, relative=True)])

    def test_expired_redirect_is_asked_for_again(self):
        report = self.assert_clean([self.blob_rule("redirect", times=-1, expire_once=True,
                                                   expired_requests=2)])
        self.assertGreaterEqual(report["stats"]["registry"]["redirect_renewals"], 2)

    def test_corrupted_bytes_fail_the_layer_and_discard_its_findings(self):
        report = self.assert_layer_fails([self.blob_rule("corrupt", offset=5 << 20, times=-1)], self.big_layer,
                                         "digest mismatch", "findings discarded")
        self.assertFalse([f for f in report["findings"] if f["layer_digest"] == self.big_layer])

    def test_persistent_503_fails_the_layer_by_name(self):
        self.assert_layer_fails([self.blob_rule("status", code=503, times=-1)], self.big_layer,
                                "HTTP 503", "gave up after 3 retries")

    def test_missing_blob_fails_the_layer(self):
        self.assert_layer_fails([self.blob_rule("status", code=404, times=-1, layer=self.layers[1])],
                                self.layers[1], "HTTP 404")

    def test_repeated_resets_exhaust_retries(self):
        self.assert_layer_fails([self.blob_rule("reset", after_bytes=0, times=-1)], self.big_layer,
                                "gave up after 3 retries")


class TlsTest(unittest.TestCase):
    """A registry over HTTPS (self-signed): certificates are verified unless told otherwise, and
    HTTP/2 is used where the server offers it."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(auth="basic", tls=True)
        cls.reg.start()
        cls.reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
        rc, cls.local, _ = run_scan([corpus("oci-demo")])

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()

    def test_certificate_is_verified_by_default(self):
        rc, report, err = run_scan([f"docker://{self.reg.host}/demo:latest"], "--max-retries", "0",
                                   registry=self.reg)
        self.assertEqual(rc, 3)
        self.assertIn("certificate", report["errors"][0]["message"])

    def test_insecure_tls_over_http2(self):
        rc, report, err = run_scan([f"docker://{self.reg.host}/demo:latest"], "--insecure-tls",
                                   registry=self.reg)
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(finding_keys(report), finding_keys(self.local))
        stats = report["stats"]["registry"]
        self.assertGreater(stats["blob_requests"], 0)
        self.assertEqual(stats["blob_http2_requests"], stats["blob_requests"])
        self.assertEqual(stats["blob_connections"], 1)  # every blob multiplexed on one connection


class ListTest(unittest.TestCase):
    """layersift ls: the catalog and tag lists, every page."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(auth="token")
        cls.reg.start()
        cls.repos = ["alpha", "beta", "gamma/one", "gamma/two", "zeta"]
        for repo in cls.repos:
            cls.reg.upload_layout(corpus("oci-demo") + ":demo", f"{repo}:v1")
        cls.reg.upload_layout(corpus("oci-demo") + ":demo", "alpha:v2")
        cls.proxy = FaultProxy(cls.reg.host)
        cls.proxy.start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.reg.stop()

    def ls(self, what, *flags, host=None):
        args = [ARGS.binary, "ls", "--plain-http", "--username", self.reg.username,
                "--password-stdin", *flags, f"{host or self.reg.host}/{what}".rstrip("/")]
        return subprocess.run(args, input=self.reg.password, capture_output=True, text=True,
                              timeout=60)

    def test_catalog_text_and_json(self):
        result = self.ls("")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), self.repos)
        result = self.ls("", "--format", "json")
        self.assertEqual(json.loads(result.stdout),
                         {"registry": self.reg.host, "repositories": self.repos})

    def test_catalog_pages_relative_and_absolute_links(self):
        for faults in ([], [{"match": r"^/v2/_catalog", "times": -1, "action": "absolute_link"}]):
            with self.subTest(faults=faults):
                self.proxy.clear_log()
                self.proxy.set_faults(faults)
                result = self.ls("", "--page-size", "2", host=self.proxy.host)
                self.proxy.clear_faults()
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout.split(), self.repos)
                pages = [r for r in self.proxy.requests if r["path"].startswith("/v2/_catalog")]
                self.assertEqual(len(pages), 3)

    def test_tags(self):
        result = self.ls("alpha", "--format", "json")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout),
                         {"registry": self.reg.host, "repository": "alpha", "tags": ["v1", "v2"]})
        self.assertEqual(self.ls("gamma/two").stdout.split(), ["v1"])

    def test_unknown_repository_and_bad_reference(self):
        result = self.ls("nothing")
        self.assertEqual(result.returncode, 3)
        self.assertIn("nothing", result.stderr)
        result = self.ls("alpha:v1")
        self.assertEqual(result.returncode, 2)
        self.assertIn("not a tag", result.stderr)


class ProtocolTest(unittest.TestCase):
    """What a registry may send that must be refused or handled."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(auth="none")
        cls.reg.start()
        cls.digest = cls.reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
        cls.proxy = FaultProxy(cls.reg.host, blob_path=cls.reg.blob_path)
        cls.proxy.start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.reg.stop()

    def scan_with(self, faults, reference="demo:latest"):
        self.proxy.set_faults(faults)
        try:
            return run_scan([f"docker://{self.proxy.host}/{reference}"], "--plain-http")
        finally:
            self.proxy.clear_faults()

    def test_schema1_manifest_is_refused(self):
        schema1 = json.dumps({"schemaVersion": 1, "name": "demo", "tag": "latest",
                              "fsLayers": [], "history": []})
        rc, report, err = self.scan_with([{"match": r"/manifests/latest", "action": "status",
                                           "code": 200, "body": schema1,
                                           "content_type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}])
        self.assertEqual(rc, 3)
        self.assertIn("schema 1", report["errors"][0]["message"])

    def test_manifest_not_matching_the_pinned_digest_is_refused(self):
        other = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": {}, "layers": []})
        rc, report, err = self.scan_with(
            [{"match": r"/manifests/sha256:", "action": "status", "code": 200, "body": other,
              "content_type": "application/vnd.oci.image.manifest.v1+json"}],
            reference="demo@" + self.digest)
        self.assertEqual(rc, 3)
        self.assertIn("not what was asked for", report["errors"][0]["message"])

    def test_foreign_layer_comes_from_its_urls(self):
        # A non-distributable layer is not in the registry: it is read from its descriptor's
        # urls (here the proxy's storage server), without the registry's credentials.
        body, content_type = self.reg.manifest("demo", "latest")
        manifest = json.loads(body)
        layer = manifest["layers"][1]
        layer["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        layer["urls"] = [f"http://{self.proxy.redirect_host}/s3/{layer['digest']}"]
        rc, clean, err = self.scan_with([])
        self.proxy.clear_log()
        rc, report, err = self.scan_with([{"match": r"/manifests/latest", "action": "status",
                                           "code": 200, "body": json.dumps(manifest),
                                           "content_type": content_type}])
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(report["errors"], [])
        self.assertEqual(finding_keys(report, with_digests=False), finding_keys(clean, with_digests=False))
        self.assertEqual([r["path"].split("?")[0] for r in self.proxy.redirect_requests],
                         [f"/s3/{layer['digest']}"])
        self.assertFalse([r for r in self.proxy.requests if layer["digest"] in r["path"]
                          and not r["path"].startswith("/s3/")])

    def test_docker_content_digest_is_optional(self):
        # The fault proxy's own answers carry no Docker-Content-Digest: serve the real manifest
        # bytes that way and the scan must still work.
        body, content_type = self.reg.manifest("demo", "latest")
        rc, report, err = self.scan_with([{"match": r"/manifests/latest", "action": "status",
                                           "code": 200, "body": body.decode(),
                                           "content_type": content_type}])
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(report["errors"], [])
        self.assertEqual(report["targets"][0]["images"][0]["image_digest"], self.digest)


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
