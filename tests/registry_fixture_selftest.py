#!/usr/bin/env python3
"""Self-test of the registry test fixtures in tests/support (registry_fixture.Registry,
token_server.TokenServer, fault_proxy.FaultProxy), with curl and urllib as the clients: a real
docker-registry in each auth mode with images pushed by skopeo, the Docker token dance, and
every FaultProxy action.

Run by ctest as: registry_fixture_selftest.py --binary build/layersift --corpus build/corpus
--source .  (the binary is not used). Needs docker-registry, skopeo, htpasswd, openssl and curl
(tools/setup.sh installs them); fails, never skips, without them.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from support.fault_proxy import FaultProxy
from support.http_server import assert_no_threads_left
from support.registry_fixture import MANIFEST_ACCEPT, Registry, http_request, require_tools

ARGS = None
REG = None  # the auth="none" registry shared by RegistryTest and FaultProxyTest
STARTED = []  # every Registry started here, to check nothing is left running
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BIG_LAYER = None  # the largest compressed layer of oci-demo (the corpus is redrawn every run)


def corpus(name):
    return os.path.join(ARGS.corpus, name)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def start_registry(**kwargs):
    reg = Registry(**kwargs)
    reg.start()
    STARTED.append((reg.config_path, reg.pid))
    return reg


def read_file(path):
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


class Curl:
    """What one curl run gave: rc, status (last answer), headers (last answer, lower-case
    names), body, stderr."""

    def __init__(self, *args, timeout=30):
        work = tempfile.mkdtemp(prefix="selftest-curl-")
        try:
            head, out = os.path.join(work, "head"), os.path.join(work, "body")
            proc = subprocess.run(
                ["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-D", head, "-o", out,
                 "-w", "%{http_code}", *args], capture_output=True, timeout=timeout)
            self.rc, self.stderr = proc.returncode, proc.stderr.decode(errors="replace")
            self.status = int(proc.stdout.decode() or 0)
            self.body = read_file(out)
            blocks = read_file(head).decode("latin-1").split("\r\n\r\n")
            blocks = [b for b in blocks if b.strip()]
            self.headers = {}
            for line in (blocks[-1].split("\r\n")[1:] if blocks else []):
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def __repr__(self):
        return (f"curl rc={self.rc} status={self.status} headers={self.headers} "
                f"stderr={self.stderr!r} body={self.body[:200]!r}")


def parse_bearer_challenge(value):
    scheme, _, params = value.partition(" ")
    assert scheme.lower() == "bearer", value
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def largest_compressed_layer(layout, tag):
    """Digest of the largest gzip/zstd layer of the layout's image `tag` (kept as is by a push)."""
    def blob(digest):
        with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
            return json.load(f)
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    descriptor = next(m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    layers = [layer for layer in blob(descriptor["digest"])["layers"]
              if layer["mediaType"].endswith(("+gzip", "+zstd"))]
    return max(layers, key=lambda layer: layer["size"])["digest"]


def setUpModule():
    global REG, BIG_LAYER
    require_tools()  # a missing tool fails every test here, naming tools/setup.sh
    BIG_LAYER = largest_compressed_layer(corpus("oci-demo"), "demo")
    REG = start_registry()
    REG.push(corpus("oci-demo") + ":demo", "demo:latest")
    REG.push(corpus("oci-demo") + ":demo", "demo-zstd:latest", zstd=True)
    REG.push(corpus("oci-multiarch") + ":multi", "multi:latest", all_platforms=True)


def tearDownModule():
    if REG is not None:
        REG.stop()
    # Nothing left running: no registry process, no fixture thread.
    for config_path, pid in STARTED:
        if os.path.exists(f"/proc/{pid}"):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if config_path.encode() in f.read():
                    raise AssertionError(f"registry pid {pid} ({config_path}) still running")
        pgrep = subprocess.run(["pgrep", "-f", config_path], capture_output=True, text=True)
        if pgrep.stdout.strip():
            raise AssertionError(f"docker-registry left running: {pgrep.stdout}")
    assert_no_threads_left()


class RegistryTest(unittest.TestCase):
    """auth="none": pushes (gzip, zstd, all platforms), manifests and blobs over plain HTTP."""

    def manifest(self, repo, ref, accept=MANIFEST_ACCEPT):
        c = Curl("-H", f"Accept: {accept}", f"{REG.url}/v2/{repo}/manifests/{ref}")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.headers["docker-content-digest"], sha256(c.body))
        return c

    def test_gzip_push_keeps_blobs(self):
        c = self.manifest("demo", "latest")
        self.assertEqual(c.headers["content-type"], OCI_MANIFEST)
        doc = json.loads(c.body)
        digests = [layer["digest"] for layer in doc["layers"]]
        self.assertIn(BIG_LAYER, digests)
        for digest in digests + [doc["config"]["digest"]]:
            with open(REG.blob_path(digest), "rb") as f:
                self.assertEqual(sha256(f.read()), digest)
        body, content_type = REG.manifest("demo", "latest")
        self.assertEqual((body, content_type), (c.body, OCI_MANIFEST))

    def test_zstd_push_recompresses_every_layer(self):
        doc = json.loads(self.manifest("demo-zstd", "latest").body)
        self.assertEqual(len(doc["layers"]), 4)
        for layer in doc["layers"]:
            self.assertEqual(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd")
            with open(REG.blob_path(layer["digest"]), "rb") as f:
                self.assertEqual(f.read(4), b"\x28\xb5\x2f\xfd")  # zstd frame magic

    def test_zstd_push_over_gzip_blobs_is_refused(self):
        with self.assertRaisesRegex(RuntimeError, "fresh repository"):
            REG.push(corpus("oci-demo") + ":demo", "demo:zstd-over-gzip", zstd=True)

    def test_all_platforms_push_serves_an_index(self):
        c = self.manifest("multi", "latest")
        self.assertEqual(c.headers["content-type"], OCI_INDEX)
        doc = json.loads(c.body)
        platforms = {(m["platform"]["os"], m["platform"]["architecture"])
                     for m in doc["manifests"]}
        self.assertLessEqual({("linux", "amd64"), ("linux", "arm64")}, platforms)
        for child in doc["manifests"]:
            self.assertEqual(self.manifest("multi", child["digest"]).body and True, True)

    def test_range_request_gets_206(self):
        with open(REG.blob_path(BIG_LAYER), "rb") as f:
            data = f.read()
        c = Curl("-r", "100-199", f"{REG.url}/v2/demo/blobs/{BIG_LAYER}")
        self.assertEqual(c.status, 206, c)
        self.assertEqual(c.headers["content-range"], f"bytes 100-199/{len(data)}")
        self.assertEqual(c.body, data[100:200])
        status, headers, body = REG.blob("demo", BIG_LAYER)
        self.assertEqual((status, sha256(body)), (200, BIG_LAYER))

    def test_upload_layout_keeps_every_digest(self):
        demo = json.loads(read_file(corpus("oci-demo") + "/index.json"))["manifests"][0]
        self.assertEqual(REG.upload_layout(corpus("oci-demo") + ":demo", "raw-demo:demo"),
                         demo["digest"])
        c = self.manifest("raw-demo", "demo")
        self.assertEqual(c.headers["docker-content-digest"], demo["digest"])
        self.assertIn("application/vnd.oci.image.layer.v1.tar",
                      [layer["mediaType"] for layer in json.loads(c.body)["layers"]])
        multi = json.loads(read_file(corpus("oci-multiarch") + "/index.json"))["manifests"][0]
        self.assertEqual(REG.upload_layout(corpus("oci-multiarch"), "raw-multi"),
                         multi["digest"])
        c = self.manifest("raw-multi", "latest")
        self.assertEqual((c.headers["docker-content-digest"], c.headers["content-type"]),
                         (multi["digest"], OCI_INDEX))
        self.assertEqual(len(json.loads(c.body)["manifests"]), 3)

    def test_push_failure_raises_with_skopeo_stderr(self):
        with self.assertRaisesRegex(RuntimeError, "skopeo copy failed"):
            REG.push(corpus("oci-demo") + ":no-such-tag", "nope:latest")


class BasicAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = start_registry(auth="basic")
        cls.reg.push(corpus("oci-demo") + ":demo", "demo:latest")

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()

    def test_manifest_needs_the_password(self):
        url = f"{self.reg.url}/v2/demo/manifests/latest"
        c = Curl("-H", f"Accept: {MANIFEST_ACCEPT}", url)
        self.assertEqual(c.status, 401, c)
        self.assertTrue(c.headers["www-authenticate"].startswith("Basic "), c)
        c = Curl("-u", f"{self.reg.username}:wrong", url)
        self.assertEqual(c.status, 401, c)
        c = Curl("-u", f"{self.reg.username}:{self.reg.password}", "-H",
                 f"Accept: {MANIFEST_ACCEPT}", url)
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.headers["content-type"], OCI_MANIFEST)
        self.assertEqual(self.reg.manifest("demo", "latest")[0], c.body)

    def test_upload_layout(self):
        digest = self.reg.upload_layout(corpus("oci-semantics") + ":semantics", "sem:raw")
        body, _ = self.reg.manifest("sem", "raw")
        self.assertEqual(sha256(body), digest)


class TokenAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = start_registry(auth="token")
        cls.reg.push(corpus("oci-demo") + ":demo", "demo:latest")

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()

    def test_skopeo_got_a_push_token(self):
        pushes = [r for r in self.reg.token_requests
                  if "repository:demo:pull,push" in r["scopes"]]
        self.assertTrue(pushes, self.reg.token_requests)
        self.assertTrue(all(r["had_credentials"] and r["authorized"] for r in pushes))

    def test_token_dance_with_curl(self):
        reg = self.reg
        url = f"{reg.url}/v2/demo/manifests/latest"
        c = Curl("-H", f"Accept: {MANIFEST_ACCEPT}", url)
        self.assertEqual(c.status, 401, c)
        challenge = parse_bearer_challenge(c.headers["www-authenticate"])
        self.assertEqual(challenge["realm"], reg.token_server.realm)
        self.assertEqual(challenge["scope"], "repository:demo:pull")
        token_url = challenge["realm"] + "?" + urllib.parse.urlencode(
            {"service": challenge["service"], "scope": challenge["scope"]})
        before = len(reg.token_requests)
        c = Curl(token_url)
        self.assertEqual(c.status, 401, c)
        c = Curl("-u", f"{reg.username}:nope", token_url)
        self.assertEqual(c.status, 401, c)
        c = Curl("-u", f"{reg.username}:{reg.password}", token_url)
        self.assertEqual(c.status, 200, c)
        answer = json.loads(c.body)
        self.assertEqual(set(answer), {"token", "expires_in", "issued_at"})
        self.assertEqual(answer["expires_in"], 300)
        log = reg.token_requests[before:]
        self.assertEqual([(r["had_credentials"], r["authorized"], r["status"]) for r in log],
                         [(False, False, 401), (True, False, 401), (True, True, 200)])
        self.assertEqual(log[-1]["scopes"], ["repository:demo:pull"])
        header = json.loads(base64.urlsafe_b64decode(answer["token"].split(".")[0] + "=="))
        self.assertEqual((header["alg"], len(header["x5c"])), ("RS256", 1))
        claims = json.loads(base64.urlsafe_b64decode(answer["token"].split(".")[1] + "=="))
        self.assertEqual(claims["aud"], challenge["service"])
        self.assertEqual(claims["access"],
                         [{"type": "repository", "name": "demo", "actions": ["pull"]}])
        c = Curl("-H", f"Accept: {MANIFEST_ACCEPT}", "-H", f"Authorization: Bearer "
                 f"{answer['token']}", url)
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.headers["content-type"], OCI_MANIFEST)

    def test_token_dance_with_urllib(self):
        reg = self.reg
        url = f"{reg.url}/v2/demo/blobs/{BIG_LAYER}"
        status, headers, _ = http_request(url)
        self.assertEqual(status, 401)
        challenge = parse_bearer_challenge(headers["WWW-Authenticate"])
        query = urllib.parse.urlencode([("service", challenge["service"]),
                                        ("scope", challenge["scope"]),
                                        ("scope", "registry:catalog:*"),
                                        ("account", reg.username)])
        basic = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
        status, _, body = http_request(f"{challenge['realm']}?{query}",
                                       headers={"Authorization": "Basic " + basic})
        self.assertEqual(status, 200, body)
        token = json.loads(body)["token"]
        status, _, body = http_request(url, headers={"Authorization": "Bearer " + token})
        self.assertEqual((status, sha256(body)), (200, BIG_LAYER))
        status, _, body = http_request(f"{reg.url}/v2/_catalog",
                                       headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)
        self.assertIn("demo", json.loads(body)["repositories"])
        self.assertEqual(reg.token_requests[-1]["scopes"],
                         ["repository:demo:pull", "registry:catalog:*"])

    def test_upload_layout(self):
        digest = self.reg.upload_layout(corpus("oci-semantics") + ":semantics", "sem:raw")
        body, _ = self.reg.manifest("sem", "raw")
        self.assertEqual(sha256(body), digest)

    def test_token_for_another_repository_is_refused(self):
        token = self.reg.token(["repository:other:pull"])
        status, headers, _ = http_request(f"{self.reg.url}/v2/demo/manifests/latest",
                                          headers={"Authorization": "Bearer " + token,
                                                   "Accept": MANIFEST_ACCEPT})
        self.assertEqual(status, 401)
        self.assertIn('error="insufficient_scope"', headers["WWW-Authenticate"])
        status, _, _ = http_request(f"{self.reg.url}/v2/demo/manifests/latest",
                                    headers={"Authorization": "Bearer not.a.token"})
        self.assertEqual(status, 401)

    def test_token_dance_through_the_proxy(self):
        with FaultProxy(self.reg.host, blob_path=self.reg.blob_path) as proxy:
            url = f"{proxy.url}/v2/demo/manifests/latest"
            c = Curl(url)
            self.assertEqual(c.status, 401, c)
            challenge = parse_bearer_challenge(c.headers["www-authenticate"])
            token = self.reg.token([challenge["scope"]])
            c = Curl("-H", f"Authorization: Bearer {token}", "-H",
                     f"Accept: {MANIFEST_ACCEPT}", url)
            self.assertEqual(c.status, 200, c)
            seen = proxy.requests
            self.assertEqual([r["status"] for r in seen], [401, 200])
            self.assertNotIn("Authorization", seen[0]["headers"])
            self.assertEqual(seen[1]["headers"]["Authorization"], f"Bearer {token}")


class TokenVariantsTest(unittest.TestCase):
    """token_field, token_expires_in=None, jwt_header="kid" and token_hard_expiry."""

    def catalog(self, reg, token):
        return http_request(f"{reg.url}/v2/_catalog",
                            headers={"Authorization": "Bearer " + token})[0]

    def token_answer(self, reg):
        basic = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
        query = urllib.parse.urlencode({"service": reg.token_server.service,
                                        "scope": "registry:catalog:*"})
        status, _, body = http_request(f"{reg.token_server.realm}?{query}",
                                       headers={"Authorization": "Basic " + basic})
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_access_token_without_expiry_and_kid_header(self):
        reg = start_registry(auth="token", token_field="access_token", token_expires_in=None,
                             jwt_header="kid")
        try:
            answer = self.token_answer(reg)
            self.assertEqual(set(answer), {"access_token", "issued_at"})
            token = answer["access_token"]
            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            self.assertEqual(header["kid"], reg.token_server.key_id)
            self.assertNotIn("x5c", header)
            self.assertEqual(self.catalog(reg, token), 200)
        finally:
            reg.stop()

    def test_both_fields_and_hard_expiry(self):
        reg = start_registry(auth="token", token_field="both", token_expires_in=2,
                             token_hard_expiry=True)
        try:
            answer = self.token_answer(reg)
            self.assertEqual(answer["token"], answer["access_token"])
            self.assertEqual(answer["expires_in"], 2)
            self.assertEqual(self.catalog(reg, answer["token"]), 200)
            time.sleep(3.2)
            self.assertEqual(self.catalog(reg, answer["token"]), 401)
            self.assertEqual(self.catalog(reg, self.token_answer(reg)["token"]), 200)
        finally:
            reg.stop()


class FaultProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = FaultProxy(REG.host, blob_path=REG.blob_path)
        cls.proxy.start()
        with open(REG.blob_path(BIG_LAYER), "rb") as f:
            cls.blob = f.read()
        cls.blob_url = f"{cls.proxy.url}/v2/demo/blobs/{BIG_LAYER}"

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def setUp(self):
        self.proxy.clear_faults()
        self.proxy.clear_log()

    def fault(self, **rule):
        rule.setdefault("match", r"/blobs/sha256:")
        self.proxy.set_faults([rule])

    def assert_blob_passes(self):
        c = Curl(self.blob_url)
        self.assertEqual((c.rc, c.status, sha256(c.body)), (0, 200, BIG_LAYER), c)

    def test_forwards_with_keep_alive_and_records(self):
        conn = http.client.HTTPConnection(self.proxy.host, timeout=10)
        try:
            for _ in range(2):
                conn.request("GET", "/v2/demo/manifests/latest",
                             headers={"Accept": MANIFEST_ACCEPT, "X-Trace": "abc"})
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual(resp.status, 200)
                self.assertEqual(body, REG.manifest("demo", "latest")[0])
                self.assertEqual(resp.getheader("Docker-Content-Digest"), sha256(body))
            conn.request("HEAD", f"/v2/demo/blobs/{BIG_LAYER}")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(int(resp.getheader("Content-Length")), len(self.blob))
            # An upload: request bodies go upstream, and the registry's Location names the
            # proxy (Host is kept).
            data = b"uploaded through the proxy"
            conn.request("POST", "/v2/upload/blobs/uploads/", body=b"")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 202)
            location = resp.getheader("Location")
            self.assertTrue(location.startswith(self.proxy.url + "/v2/upload/blobs/uploads/"),
                            location)
            sep = "&" if "?" in location else "?"
            conn.request("PUT", location[len(self.proxy.url):] + sep + "digest=" + sha256(data),
                         body=data, headers={"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 201)
        finally:
            conn.close()
        self.assertEqual(REG.blob("upload", sha256(data))[2], data)
        seen = self.proxy.requests
        self.assertEqual([(r["method"], r["status"]) for r in seen],
                         [("GET", 200), ("GET", 200), ("HEAD", 200), ("POST", 202),
                          ("PUT", 201)])
        self.assertEqual(seen[0]["headers"]["x-trace"], "abc")
        self.assertEqual(seen[0]["path"], "/v2/demo/manifests/latest")
        self.assertEqual(self.proxy.faults_applied, [])
        self.assert_blob_passes()

    def test_reset(self):
        self.fault(action="reset", after_bytes=1000)
        c = Curl(self.blob_url)
        self.assertEqual(c.rc, 56, c)
        self.assertRegex(c.stderr, r"[Rr]eset by peer", c)
        self.assertEqual(c.body, self.blob[:1000])
        self.assertEqual(self.proxy.faults_applied,
                         [("reset", f"/v2/demo/blobs/{BIG_LAYER}")])
        self.assert_blob_passes()

    def test_truncate(self):
        self.fault(action="truncate", after_bytes=100)
        c = Curl(self.blob_url)
        self.assertEqual(c.rc, 18, c)
        self.assertIn(f"transfer closed with {len(self.blob) - 100} bytes remaining", c.stderr)
        self.assertEqual(c.headers["content-length"], str(len(self.blob)))
        self.assertEqual(c.body, self.blob[:100])
        self.assert_blob_passes()

    def test_status_with_retry_after(self):
        self.fault(action="status", code=429, retry_after=7)
        c = Curl(self.blob_url)
        self.assertEqual((c.rc, c.status, c.headers["retry-after"]), (0, 429, "7"), c)
        self.assertEqual(int(c.headers["content-length"]), len(c.body))
        self.assertEqual(json.loads(c.body)["errors"][0]["code"], "TOOMANYREQUESTS")
        self.assertEqual(self.proxy.requests[0]["status"], 429)
        self.assert_blob_passes()

    def test_times_and_method(self):
        self.fault(action="status", code=503, method="HEAD", times=2)
        self.assert_blob_passes()
        statuses = [Curl("-I", self.blob_url).status for _ in range(3)]
        self.assertEqual(statuses, [503, 503, 200])
        self.fault(action="status", code=500, times=-1)
        self.assertEqual([Curl(self.blob_url).status for _ in range(3)], [500, 500, 500])
        self.assertEqual(len(self.proxy.faults_applied), 5)

    def test_stall(self):
        self.fault(action="stall", after_bytes=100, seconds=1.5)
        start = time.monotonic()
        c = Curl(self.blob_url)
        elapsed = time.monotonic() - start
        self.assertEqual(c.rc, 18, c)
        self.assertGreaterEqual(elapsed, 1.4)
        self.assertEqual(c.body, self.blob[:100])

    def test_ignore_range(self):
        self.fault(action="ignore_range")
        c = Curl("-r", "0-99", self.blob_url)
        self.assertEqual((c.status, sha256(c.body)), (200, BIG_LAYER), c)
        self.assertNotIn("content-range", c.headers)
        self.assertEqual(self.proxy.requests[0]["headers"]["range"], "bytes=0-99")

    def test_bad_content_range(self):
        self.fault(action="bad_content_range")
        c = Curl("-r", "1000-1999", self.blob_url)
        self.assertEqual(c.status, 206, c)
        self.assertEqual(c.headers["content-range"], f"bytes 1001-2000/{len(self.blob)}")
        self.assertEqual(c.body, self.blob[1000:2000])

    def test_corrupt(self):
        self.fault(action="corrupt", offset=12345)
        c = Curl(self.blob_url)
        self.assertEqual((c.rc, c.status, len(c.body)), (0, 200, len(self.blob)), c)
        self.assertNotEqual(sha256(c.body), BIG_LAYER)
        diff = [i for i in range(len(c.body)) if c.body[i] != self.blob[i]]
        self.assertEqual(diff, [12345])
        self.assertEqual(c.body[12345], self.blob[12345] ^ 0xFF)
        self.fault(action="corrupt", offset=12345)
        c = Curl("-r", "12000-12999", self.blob_url)
        self.assertEqual(c.status, 206, c)
        expected = bytearray(self.blob[12000:13000])
        expected[345] ^= 0xFF
        self.assertEqual(c.body, bytes(expected))

    def test_redirect(self):
        self.fault(action="redirect", method="GET")
        c = Curl(self.blob_url)
        self.assertEqual(c.status, 307, c)
        location = c.headers["location"]
        self.assertRegex(location, rf"^http://{re.escape(self.proxy.redirect_host)}/s3/"
                                   rf"{BIG_LAYER}\?X-Amz-Signature=[0-9a-f]+&n=\d+$")
        self.fault(action="redirect", method="GET", times=-1)
        c = Curl("-L", "-H", "X-Trace: xyz", self.blob_url)
        self.assertEqual((c.status, sha256(c.body)), (200, BIG_LAYER), c)
        c = Curl("-r", "10-19", location)
        self.assertEqual((c.status, c.headers["content-range"], c.body),
                         (206, f"bytes 10-19/{len(self.blob)}", self.blob[10:20]), c)
        tail = len(self.blob) - 1000  # the blob's size depends on the corpus drawn this run
        c = Curl("-r", f"{tail}-", location)
        self.assertEqual((c.status, c.body), (206, self.blob[tail:]), c)
        c = Curl("-r", f"{len(self.blob)}-", location)
        self.assertEqual((c.status, c.headers["content-range"]),
                         (416, f"bytes */{len(self.blob)}"), c)
        c = Curl("-I", location)
        self.assertEqual((c.status, c.headers["content-length"]), (200, str(len(self.blob))))
        targets = self.proxy.redirect_requests
        self.assertEqual([r["status"] for r in targets], [200, 206, 206, 416, 200])
        self.assertEqual(targets[0]["headers"]["x-trace"], "xyz")
        self.assertEqual(targets[1]["headers"]["range"], "bytes=10-19")
        self.assertTrue(targets[0]["path"].startswith(f"/s3/{BIG_LAYER}?X-Amz-Signature="))
        self.assertEqual([a for a, _ in self.proxy.faults_applied], ["redirect", "redirect"])

    def test_relative_redirect(self):
        self.fault(action="redirect", relative=True, method="GET")
        c = Curl(self.blob_url)
        self.assertEqual(c.status, 307, c)
        self.assertRegex(c.headers["location"], rf"^/redirected/{BIG_LAYER}\?X-Amz-Signature=")
        self.fault(action="redirect", relative=True, method="GET")
        c = Curl("-L", self.blob_url)
        self.assertEqual((c.status, sha256(c.body)), (200, BIG_LAYER), c)
        self.assertEqual(len(self.proxy.redirect_requests), 1)
        self.assertTrue(self.proxy.redirect_requests[0]["path"].startswith("/redirected/"))
        self.assertEqual([r["status"] for r in self.proxy.requests], [307, 307, 200])

    def test_redirect_expires_once(self):
        self.fault(action="redirect", method="GET", times=-1, expire_once=True)
        c = Curl("-L", self.blob_url)
        self.assertEqual(c.status, 403, c)
        self.assertIn(b"<Code>AccessDenied</Code><Message>Request has expired</Message>",
                      c.body)
        c = Curl("-L", self.blob_url)
        self.assertEqual((c.status, sha256(c.body)), (200, BIG_LAYER), c)
        self.assertEqual([a for a, _ in self.proxy.faults_applied],
                         ["redirect", "expired", "redirect"])

    def test_redirect_target_can_reject_authorization(self):
        self.fault(action="redirect", method="GET", reject_authorization=True)
        location = Curl(self.blob_url).headers["location"]
        c = Curl("-H", "Authorization: Bearer abc", location)
        self.assertEqual(c.status, 400, c)
        self.assertIn(b"InvalidArgument", c.body)
        self.assertEqual(Curl(location).status, 200)


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
