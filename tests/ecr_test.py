#!/usr/bin/env python3
"""Amazon ECR end to end: the layersift binary against the fake AWS endpoint
(support/fake_aws.py: STS, ECR, IMDS and container credentials, every SigV4 signature checked)
and a real docker-registry (htpasswd user AWS, whose password the fake rotates with every ECR
token it hands out, so the registry really refuses expired tokens).

- Each credential source (environment, profile, profile with role + external ID, --aws-role-arn,
  web identity, ECS and EKS Pod Identity container credentials, IMDSv2) ends in a scan of an
  ECR image whose findings equal the local OCI layout's.
- Tokens and temporary credentials that expire in the middle of a scan are renewed.
- `ecr repos` / `ecr images` page through nextToken and survive throttling; `ecr verify`
  prints the right table for full, partial and invalid credentials.
- A perimeter scan of 20 repositories with include/exclude globs scans exactly the chosen ones;
  --tags all, --untagged and archived images; --since keeps the images pushed at or after it.

Run by ctest as: ecr_test.py --binary build/layersift --corpus build/corpus --source .
"""
import fnmatch
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from registry_test import finding_keys, layers_of
from support.fake_aws import FakeAws
from support.fault_proxy import FaultProxy
from support.registry_fixture import Registry, require_tools

ARGS = None
ACCOUNT = "123456789012"
REGION = "us-east-1"
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

# Twenty repositories for the perimeter test: names with '/' and look-alikes for the globs.
PERIMETER_REPOS = [
    "team-a/api", "team-a/worker", "team-a/legacy-api", "team-a/tools/cli",
    "team-b/api", "team-b/web", "team-b/legacy-web",
    "platform/base", "platform/base-debug", "platform/proxy",
    "svc-1", "svc-2", "svc-10", "svc-x",
    "data/etl", "data/legacy-etl", "ml/trainer", "ml/serving",
    "sandbox/tmp", "demo",
]


def corpus(name):
    return os.path.join(ARGS.corpus, name)


def setUpModule():
    require_tools()


class EcrTestBase(unittest.TestCase):
    """One registry and one fake AWS per test class; every test gets a clean environment
    (no AWS_* from the caller, a HOME without ~/.aws, no instance metadata)."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(auth="basic")
        cls.reg.start()
        cls.aws = FakeAws(registry=cls.reg, account=ACCOUNT, region=REGION)
        cls.aws.start()
        cls.reg.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
        cls.tmp = tempfile.mkdtemp(prefix="layersift-ecr-test-")
        rc, cls.local, err = cls.run_cli(["scan", "--format", "json", "--no-ignore-file", corpus("oci-demo")],
                                         env=os.environ.copy())
        assert rc == 1 and cls.local["findings"], err

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()
        cls.reg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.aws.clear_requests()
        self.aws.clear_denials()
        self.aws.clear_throttles()
        self.aws.credential_lifetime_s = 3600
        self.aws.ecr_token_lifetime_s = 43200
        self.aws.page_size = 100
        self.aws.proxy_endpoint = None
        self.home = tempfile.mkdtemp(dir=self.tmp)

    def env(self, keys=True, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=self.home, AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=self.aws.url,
                   AWS_REGION=REGION)
        if keys:
            env.update(AWS_ACCESS_KEY_ID=self.aws.default_keys[0],
                       AWS_SECRET_ACCESS_KEY=self.aws.default_keys[1])
        for name, value in extra.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    @staticmethod
    def run_cli(args, env, timeout=180):
        result = subprocess.run([ARGS.binary, *args], capture_output=True, text=True, env=env,
                                timeout=timeout)
        parsed = None
        if result.stdout.strip().startswith(("{", "[")):
            parsed = json.loads(result.stdout)
        return result.returncode, parsed, result.stdout + result.stderr

    def scan(self, targets, env, *flags):
        return self.run_cli(["scan", "--format", "json", "--no-ignore-file", "--stats", *flags, *targets],
                            env=env)

    def write(self, name, text):
        path = os.path.join(self.home, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_scan_equals_local(self, env, *flags, reference=f"docker://{ECR_HOST}/demo:latest"):
        rc, report, out = self.scan([reference], env, *flags)
        self.assertEqual(rc, 1, out)
        self.assertEqual(report["errors"], [], out)
        self.assertEqual(finding_keys(report), finding_keys(self.local))
        self.assertEqual(layers_of(report), layers_of(self.local))
        # the image is named by its ECR host, whatever endpoint served it
        self.assertEqual(report["targets"][0]["images"][0]["reference"], f"{ECR_HOST}/demo:latest")
        self.assertGreaterEqual(self.aws.count("ecr:GetAuthorizationToken"), 1)
        return report

    def calls(self, action):
        service, _, name = action.partition(":")
        return [r for r in self.aws.requests if r["service"] == service and r["action"] == name]


class CredentialSourcesTest(EcrTestBase):
    """Every source of the credential chain, each ending in a scan equal to the local layout's."""

    def test_environment_keys(self):
        self.assert_scan_equals_local(self.env())
        (token_call,) = self.calls("ecr:GetAuthorizationToken")
        self.assertEqual(token_call["access_key_id"], self.aws.default_keys[0])
        self.assertEqual(token_call["region"], REGION)

    def test_environment_session_token(self):
        self.aws.add_role("env-session")
        creds = self.aws.issue_credentials("env-session")
        self.assert_scan_equals_local(self.env(keys=False, AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                                               AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                                               AWS_SESSION_TOKEN=creds["SessionToken"]))
        (token_call,) = self.calls("ecr:GetAuthorizationToken")
        self.assertEqual(token_call["access_key_id"], creds["AccessKeyId"])

    def test_profile_static_keys(self):
        akid, secret = self.aws.add_user("profile-user")
        credentials = self.write("creds", f"[prod]\naws_access_key_id = {akid}\n"
                                          f"aws_secret_access_key = {secret}\n")
        config = self.write("config", "[profile prod]\nregion = us-east-1\n")
        env = self.env(keys=False, AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=config,
                       AWS_REGION=None)
        # AWS_PROFILE, and --aws-profile (which wins over keys in the environment)
        self.assert_scan_equals_local(dict(env, AWS_PROFILE="prod"))
        self.aws.clear_requests()
        self.assert_scan_equals_local(dict(env, AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG1",
                                           AWS_SECRET_ACCESS_KEY="x" * 40), "--aws-profile", "prod")
        self.assertEqual({r["access_key_id"] for r in self.aws.requests}, {akid})

    def test_profile_missing_is_named(self):
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], self.env(keys=False),
                               "--aws-profile", "nope")
        self.assertEqual(rc, 3, out)
        self.assertIn("AWS profile nope not found", out)

    def test_profile_role_with_external_id(self):
        akid, secret = self.aws.add_user("base-user")
        role = self.aws.add_role("cross-account-scanner", external_id="ext-4242")
        credentials = self.write("creds", f"[base]\naws_access_key_id = {akid}\n"
                                          f"aws_secret_access_key = {secret}\n")
        config = self.write("config", f"[profile scanner]\nrole_arn = {role}\nsource_profile = base\n"
                                      "external_id = ext-4242\nrole_session_name = audit-run\n"
                                      "region = eu-west-1\n")
        env = self.env(keys=False, AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=config,
                       AWS_PROFILE="scanner", AWS_REGION=None)
        self.assert_scan_equals_local(env)
        (assume,) = self.calls("sts:AssumeRole")
        self.assertEqual(assume["access_key_id"], akid)
        self.assertEqual(assume["region"], "eu-west-1")  # the regional STS endpoint of the profile
        (token_call,) = self.calls("ecr:GetAuthorizationToken")
        self.assertTrue(token_call["access_key_id"].startswith("ASIA"))
        self.assertEqual(token_call["principal"], f"arn:aws:sts::{ACCOUNT}:assumed-role/cross-account-scanner/audit-run")
        # a wrong external ID is refused, and the message says what to check
        self.write("config", f"[profile scanner]\nrole_arn = {role}\nsource_profile = base\n"
                             "external_id = wrong\n")
        rc, report, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], env)
        self.assertEqual(rc, 3, out)
        self.assertIn("cannot assume role " + role, out)
        self.assertIn("external ID", out)

    def test_cli_role_arn_and_external_id_on_top_of_the_chain(self):
        role = self.aws.add_role("cli-role", external_id="cli-ext")
        self.assert_scan_equals_local(self.env(), "--aws-role-arn", role, "--aws-external-id", "cli-ext")
        (assume,) = self.calls("sts:AssumeRole")
        self.assertEqual(assume["access_key_id"], self.aws.default_keys[0])
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], self.env(), "--aws-role-arn", role)
        self.assertEqual(rc, 3, out)
        self.assertIn("--aws-external-id", out)

    def test_web_identity(self):
        role = self.aws.add_role("irsa-role")
        token_file = self.write("token", self.aws.web_identity_token + "\n")
        env = self.env(keys=False, AWS_WEB_IDENTITY_TOKEN_FILE=token_file, AWS_ROLE_ARN=role,
                       AWS_ROLE_SESSION_NAME="pod-1")
        self.assert_scan_equals_local(env)
        (assume,) = self.calls("sts:AssumeRoleWithWebIdentity")
        self.assertFalse(assume["signed"])
        (token_call,) = self.calls("ecr:GetAuthorizationToken")
        self.assertEqual(token_call["principal"], f"arn:aws:sts::{ACCOUNT}:assumed-role/irsa-role/pod-1")
        self.write("token", "not-the-token")
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], env)
        self.assertEqual(rc, 3, out)
        self.assertIn("InvalidIdentityToken", out)

    def test_ecs_container_credentials(self):
        self.aws.add_role("ecs-task-role")
        self.aws.container_role = "ecs-task-role"
        self.aws.container_authorization_token = None
        env = self.env(keys=False, AWS_CONTAINER_CREDENTIALS_FULL_URI=self.aws.url + "/v2/credentials/task-1")
        self.assert_scan_equals_local(env)
        self.assertEqual(len(self.calls("container:GetCredentials")), 1)

    def test_eks_pod_identity(self):
        self.aws.add_role("pod-identity-role")
        self.aws.container_role = "pod-identity-role"
        self.aws.container_authorization_token = "pod-identity-token-1"
        token_file = self.write("eks-token", "pod-identity-token-1\n")
        env = self.env(keys=False, AWS_CONTAINER_CREDENTIALS_FULL_URI=self.aws.url + "/v1/credentials",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file)
        self.assert_scan_equals_local(env)
        self.write("eks-token", "stale")
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], env)
        self.assertEqual(rc, 3, out)
        self.assertIn("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", out)

    def test_container_full_uri_must_not_leak_to_other_hosts(self):
        env = self.env(keys=False, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds")
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], env)
        self.assertEqual(rc, 3, out)
        self.assertIn("plain HTTP is allowed only to a loopback address", out)

    def test_imds_v2(self):
        self.aws.add_role("instance-role")
        self.aws.imds_role = "instance-role"
        env = self.env(keys=False, AWS_EC2_METADATA_DISABLED=None,
                       AWS_EC2_METADATA_SERVICE_ENDPOINT=self.aws.url, AWS_REGION=None)
        # the region comes from the instance identity document too (`ecr repos` needs one)
        rc, repos, out = self.run_cli(["ecr", "repos", "--format", "json"], env)
        self.assertEqual(rc, 0, out)
        self.assertEqual(repos["region"], REGION)
        self.assert_scan_equals_local(env)
        imds = [r for r in self.aws.requests if r["service"] == "imds"]
        self.assertTrue(imds and all(r["token_used"] for r in imds if r["method"] == "GET"), imds)

    def test_no_credentials_lists_every_source(self):
        rc, _, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], self.env(keys=False))
        self.assertEqual(rc, 3, out)
        for source in ("environment", "profile default", "web identity", "container credentials",
                       "EC2 instance metadata"):
            self.assertIn(source, out)

    def test_credentials_never_printed(self):
        role = self.aws.add_role("quiet-role")
        rc, report, out = self.scan([f"docker://{ECR_HOST}/demo:latest"], self.env(), "--aws-role-arn", role)
        self.assertEqual(rc, 1, out)
        self.assertNotIn(self.aws.default_keys[1], out)
        for issued in self.aws.issued_credentials:
            self.assertNotIn(issued["secret"], out)
            self.assertNotIn(issued["token"], out)
        self.assertNotIn(self.aws.ecr_password or "no-password", out)


class ExpiryTest(EcrTestBase):
    """Short-lived ECR tokens and role credentials that run out while layers are downloading."""

    def test_token_and_credentials_expire_mid_scan(self):
        role = self.aws.add_role("short-role")
        self.aws.credential_lifetime_s = 3
        self.aws.ecr_token_lifetime_s = 2
        with FaultProxy(self.reg.host, blob_path=self.reg.blob_path) as proxy:
            self.aws.proxy_endpoint = proxy.url
            # Every blob transfer stalls for 3 s after a few bytes and is then cut: each resume
            # happens after the token and the credentials it was made with have expired.
            proxy.set_faults([{"match": r"^/v2/demo/blobs/", "method": "GET", "times": 3,
                               "action": "stall", "after_bytes": 100, "seconds": 3}])
            report = self.assert_scan_equals_local(self.env(), "--aws-role-arn", role,
                                                   "--fetch-connections", "1", "--stall-timeout", "10",
                                                   "--retry-backoff", "0.05")
            self.assertEqual(len([f for f in proxy.faults_applied if f[0] == "stall"]), 3)
            # the registry refused an expired token at least once, and new ones were fetched
            self.assertIn(401, [r["status"] for r in proxy.requests])
        self.assertGreaterEqual(self.aws.count("ecr:GetAuthorizationToken"), 2)
        self.assertGreaterEqual(len(self.calls("sts:AssumeRole")), 2)
        expired = [r for r in self.aws.requests if r["error"] in ("ExpiredToken", "ExpiredTokenException")]
        self.assertEqual(expired, [], "a call was signed with expired credentials")
        self.assertEqual(report["errors"], [])


class BrowseTest(EcrTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("alpha", "beta/one", "beta/two", "gamma", "delta", "epsilon", "zeta"):
            cls.reg.upload_layout(corpus("oci-demo") + ":demo", f"{name}:v1")
        cls.semantics_digest = cls.reg.upload_layout(corpus("oci-semantics") + ":semantics", "alpha:v2")

    def test_repos_pages_and_survives_throttling(self):
        self.aws.page_size = 3
        self.aws.throttle("DescribeRepositories", 2)
        rc, out_json, out = self.run_cli(["ecr", "repos", "--format", "json", "--retry-backoff", "0.05"], self.env())
        self.assertEqual(rc, 0, out)
        names = sorted(r["name"] for r in out_json["repositories"])
        self.assertEqual(names, sorted(["demo", "alpha", "beta/one", "beta/two", "gamma", "delta", "epsilon", "zeta"]))
        calls = self.calls("ecr:DescribeRepositories")
        self.assertEqual(len([c for c in calls if c["error"] == "ThrottlingException"]), 2)
        self.assertEqual(len([c for c in calls if c["status"] == 200]), 3)  # 8 repositories, 3 a page
        uri = {r["name"]: r["uri"] for r in out_json["repositories"]}
        self.assertTrue(uri["alpha"].endswith("/alpha"))
        rc, _, text = self.run_cli(["ecr", "repos"], self.env())
        self.assertEqual(rc, 0, text)
        self.assertIn("beta/two", text)

    def test_images_show_tags_digests_sizes_push_times_and_media_types(self):
        self.aws.page_size = 1
        pushed = 1767225600.5  # 2026-01-01T00:00:00Z
        self.aws.pushed_at[self.semantics_digest] = pushed
        rc, out_json, out = self.run_cli(["ecr", "images", "alpha", "--format", "json",
                                          "--registry", f"ecr://{ACCOUNT}/{REGION}"], self.env())
        self.assertEqual(rc, 0, out)
        by_tag = {tuple(i["tags"]): i for i in out_json["images"]}
        self.assertEqual(set(by_tag), {("v1",), ("v2",)})
        v2 = by_tag[("v2",)]
        self.assertEqual(v2["digest"], self.semantics_digest)
        self.assertEqual(v2["pushed_at"], "2026-01-01T00:00:00Z")
        self.assertGreater(v2["size_bytes"], 0)
        self.assertTrue(v2["manifest_media_type"].startswith("application/vnd."))
        self.assertEqual(v2["status"], "ACTIVE")
        self.assertEqual(len(self.calls("ecr:DescribeImages")), 2)  # one image a page
        rc, _, text = self.run_cli(["ecr", "images", "alpha"], self.env())
        self.assertEqual(rc, 0, text)
        self.assertIn(self.semantics_digest, text)
        self.assertIn("2026-01-01T00:00:00Z", text)

    def test_unknown_repository_names_the_region(self):
        rc, _, out = self.run_cli(["ecr", "images", "nope"], self.env())
        self.assertEqual(rc, 3, out)
        self.assertIn("repository nope not found in us-east-1", out)


class VerifyTest(EcrTestBase):
    def verify(self, env, *flags):
        rc, report, out = self.run_cli(["ecr", "verify", "--format", "json", *flags], env)
        text_rc, _, text = self.run_cli(["ecr", "verify", *flags], env)
        self.assertEqual(rc, text_rc)
        return rc, report, out, text

    def test_full_permissions(self):
        rc, report, out, text = self.verify(self.env())
        self.assertEqual(rc, 0, out)
        self.assertEqual(report["identity"]["arn"], f"arn:aws:iam::{ACCOUNT}:user/scanner")
        self.assertEqual([a["action"] for a in report["actions"]],
                         ["ecr:GetAuthorizationToken", "ecr:DescribeRepositories", "ecr:ListImages",
                          "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
        self.assertTrue(all(a["allowed"] for a in report["actions"]))
        self.assertNotIn("identity_policy", report)
        self.assertIn("all permissions a scan needs are allowed", text)
        self.assertEqual(len(self.calls("sts:GetCallerIdentity")), 2)

    def test_partial_permissions(self):
        self.aws.deny("ecr:BatchGetImage", reason="identity")
        self.aws.deny("ecr:ListImages", reason="identity")
        self.aws.deny("ecr:DescribeImages", reason="scp")
        self.aws.deny("ecr:GetDownloadUrlForLayer", reason="resource")
        rc, report, out, text = self.verify(self.env(), "--repository", "demo")
        self.assertEqual(rc, 1, out)
        denied = {a["action"]: a["denied_by"] for a in report["actions"] if not a["allowed"]}
        self.assertEqual(denied, {"ecr:BatchGetImage": "identity-policy", "ecr:ListImages": "identity-policy",
                                  "ecr:DescribeImages": "service-control-policy",
                                  "ecr:GetDownloadUrlForLayer": "repository-policy"})
        statements = report["identity_policy"]["Statement"]
        self.assertEqual(len(statements), 1)
        self.assertEqual(sorted(statements[0]["Action"]), ["ecr:BatchGetImage", "ecr:ListImages"])
        self.assertEqual(statements[0]["Resource"], f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*")
        repo_policy = report["repository_policy"]["Statement"][0]
        self.assertEqual(repo_policy["Action"], ["ecr:GetDownloadUrlForLayer"])
        self.assertEqual(repo_policy["Principal"]["AWS"], f"arn:aws:iam::{ACCOUNT}:user/scanner")
        for fragment in ("AccessDenied for ecr:ListImages, ecr:BatchGetImage", "service control policy",
                         "repository policy of demo", "denied"):
            self.assertIn(fragment, text)

    def test_registry_wide_denial_and_role(self):
        role = self.aws.add_role("verify-role")
        self.aws.deny("ecr:GetAuthorizationToken", reason="identity")
        rc, report, out, text = self.verify(self.env(), "--aws-role-arn", role)
        self.assertEqual(rc, 1, out)
        self.assertEqual(report["identity"]["arn"].split("/")[:2], [f"arn:aws:sts::{ACCOUNT}:assumed-role", "verify-role"])
        self.assertEqual(report["identity_policy"]["Statement"][0]["Resource"], "*")
        self.assertEqual(report["identity_policy"]["Statement"][0]["Action"], ["ecr:GetAuthorizationToken"])

    def test_invalid_credentials(self):
        akid, secret = self.aws.add_user("former-employee")
        self.aws.deactivate(akid)
        for keys, code in (((akid, secret), "InvalidClientTokenId"),
                           ((self.aws.default_keys[0], "x" * 40), "SignatureDoesNotMatch")):
            env = self.env(keys=False, AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1])
            rc, report, out, text = self.verify(env)
            self.assertEqual(rc, 1, out)
            self.assertFalse(report["credentials_valid"])
            self.assertIn(code, report["error"])
            self.assertTrue(text.startswith("credentials verification failed: "), text)
            self.assertNotIn(keys[1], out + text)

    def test_repository_not_found_in_region(self):
        rc, report, out, text = self.verify(self.env(), "--repository", "missing")
        self.assertEqual(rc, 1, out)
        self.assertFalse(report["repository_found"])
        self.assertIn("repository missing not found in us-east-1", text)


class PerimeterTest(EcrTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in PERIMETER_REPOS:
            if name != "demo":
                cls.demo = cls.reg.upload_layout(corpus("oci-demo") + ":demo", f"{name}:latest")
        # svc-1 also holds an older image under another tag, and an untagged one
        cls.old = cls.reg.upload_layout(corpus("oci-semantics") + ":semantics", "svc-1:v0")
        # an untagged image: its tag moved on to another image (the registry keeps it by digest)
        cls.untagged = cls.reg.upload_layout(corpus("oci-multiarch") + ":multi", "svc-1:tmp")
        cls.reg.upload_layout(corpus("oci-demo") + ":demo", "svc-1:tmp")

    def scanned_repositories(self, report):
        repos = set()
        for target in report["targets"]:
            spec = target["target"]
            self.assertTrue(spec.startswith(f"docker://{ECR_HOST}/"), spec)
            repos.add(spec[len(f"docker://{ECR_HOST}/"):].split("@")[0])
        return repos

    def test_twenty_repositories_with_globs(self):
        self.aws.page_size = 7
        includes = ["team-*", "platform/*", "svc-?"]
        excludes = ["*/legacy-*", "*-debug"]
        expected = {r for r in PERIMETER_REPOS
                    if any(fnmatch.fnmatchcase(r, g) for g in includes)
                    and not any(fnmatch.fnmatchcase(r, g) for g in excludes)}
        self.assertEqual(len(expected), 10)
        flags = []
        for g in includes:
            flags += ["--include-repo", g]
        for g in excludes:
            flags += ["--exclude-repo", g]
        rc, report, out = self.scan([f"ecr://{ACCOUNT}/{REGION}"], self.env(), *flags)
        self.assertEqual(rc, 1, out)
        self.assertEqual(report["errors"], [], out)
        self.assertEqual(self.scanned_repositories(report), expected)
        self.assertEqual(len(report["targets"]), len(expected))  # latest: one image each
        # one blob read once, findings reported for every image that has it
        local_count = len(self.local["findings"])
        self.assertEqual(len(report["findings"]), local_count * len(expected))
        # only the chosen repositories' images were described
        self.assertEqual(len(self.calls("ecr:DescribeImages")), len(expected))

    def test_whole_registry_by_host(self):
        rc, report, out = self.scan([ECR_HOST], self.env())
        self.assertEqual(rc, 1, out)
        self.assertEqual(self.scanned_repositories(report), set(PERIMETER_REPOS))

    def test_tags_all_untagged_and_archived(self):
        self.aws.add_untagged("svc-1", self.untagged)
        self.aws.archived.add(self.old)
        try:
            rc, report, out = self.scan([f"ecr://{ACCOUNT}/{REGION}"], self.env(), "--include-repo", "svc-1",
                                        "--tags", "all", "--untagged")
        finally:
            self.aws.archived.discard(self.old)
        self.assertEqual(rc, 1, out)
        specs = {t["target"] for t in report["targets"]}
        self.assertIn(f"docker://{ECR_HOST}/svc-1@{self.old}", specs)
        skipped = [s for s in report["skipped"] if self.old in s["target"]]
        self.assertEqual(len(skipped), 1, report["skipped"])
        self.assertIn("ARCHIVED", skipped[0]["reason"])
        scanned = {t["target"] for t in report["targets"] if t.get("images")}
        self.assertNotIn(f"docker://{ECR_HOST}/svc-1@{self.old}", scanned)
        self.assertIn(f"docker://{ECR_HOST}/svc-1@{self.untagged}", scanned)
        # --tags latest takes the `latest` tag only
        rc, report, out = self.scan([f"ecr://{ACCOUNT}/{REGION}"], self.env(), "--include-repo", "svc-1")
        self.assertEqual(rc, 1, out)
        self.assertEqual(len(report["targets"]), 1)

    def test_perimeter_flags_need_a_perimeter(self):
        for flag in (["--include-repo", "x"], ["--since", "2026-01-01"]):
            with self.subTest(flag=flag[0]):
                rc, _, out = self.scan([corpus("oci-demo")], self.env(), *flag)
                self.assertEqual(rc, 2, out)
                self.assertIn("apply to perimeters", out)

    def test_since_keeps_images_pushed_at_or_after_it(self):
        # svc-1: `latest` and `tmp` are the demo image, `v0` the older semantics one. Push times
        # are per digest, one second apart around the date.
        self.aws.pushed_at[self.demo] = 1767225600  # 2026-01-01T00:00:00Z
        self.aws.pushed_at[self.old] = 1767225599
        perimeter = [f"ecr://{ACCOUNT}/{REGION}"]
        env = self.env(LAYERSIFT_STATE="off")  # no state store: every scan lists and scans afresh
        svc_1_all = ["--include-repo", "svc-1", "--tags", "all"]
        try:
            rc, report, out = self.scan(perimeter, env, *svc_1_all, "--since", "2026-01-01")
            self.assertEqual(rc, 1, out)
            self.assertEqual(report["errors"], [], out)
            self.assertEqual({t["target"] for t in report["targets"]},
                             {f"docker://{ECR_HOST}/svc-1@{self.demo}"})
            self.assertEqual(finding_keys(report), finding_keys(self.local))
            # older images are not part of the perimeter: neither scanned nor skipped, only counted
            self.assertFalse([s for s in report["skipped"] if self.old in s["target"]], report["skipped"])
            self.assertIn("1 repositories, 1 images to scan, 0 skipped, 1 pushed before --since 2026-01-01",
                          out)
            # an ISO 8601 time one second later leaves the demo image out too
            rc, report, out = self.scan(perimeter, env, *svc_1_all, "--since", "2026-01-01T00:00:01Z")
            self.assertEqual(rc, 0, out)
            self.assertEqual((report["targets"], report["errors"]), ([], []))
            self.assertIn("0 images to scan, 0 skipped, 2 pushed before --since 2026-01-01T00:00:01Z", out)
            # --tags latest stays the image tagged `latest`: when that one is older, the newer `v0`
            # is not taken in its place
            self.aws.pushed_at[self.demo] = 1735689600  # 2025-01-01
            rc, report, out = self.scan(perimeter, env, "--include-repo", "svc-1", "--since", "2025-06-01")
            self.assertEqual(rc, 0, out)
            self.assertEqual(report["targets"], [])
            self.assertIn("1 pushed before --since 2025-06-01", out)
            # without --since both images are in the perimeter again
            rc, report, out = self.scan(perimeter, env, *svc_1_all)
            self.assertEqual(rc, 1, out)
            self.assertEqual(len(report["targets"]), 2)
            self.assertNotIn("pushed before", out)
        finally:
            self.aws.pushed_at.pop(self.demo, None)
            self.aws.pushed_at.pop(self.old, None)

    def test_malformed_since_is_a_usage_error_before_any_listing(self):
        for since in ("2026-13-01", "2026-02-30", "2026-1-1", "01/02/2026", "2026-01-01T12:00:00+02:00"):
            with self.subTest(since=since):
                self.aws.clear_requests()
                rc, _, out = self.scan([f"ecr://{ACCOUNT}/{REGION}"], self.env(LAYERSIFT_STATE="off"),
                                       "--since", since)
                self.assertEqual(rc, 2, out)
                self.assertIn(f"--since {since}: not a date", out)
                self.assertEqual(self.calls("ecr:DescribeRepositories"), [])

    def test_denied_listing_is_an_error_of_that_target_only(self):
        self.aws.deny("ecr:DescribeRepositories", reason="identity")
        rc, report, out = self.scan([f"ecr://{ACCOUNT}/{REGION}", corpus("oci-demo")], self.env())
        self.assertEqual(rc, 3, out)
        self.assertEqual(len(report["errors"]), 1)
        self.assertIn("AccessDeniedException", report["errors"][0]["message"])
        self.assertEqual(len(report["findings"]), len(self.local["findings"]))


class RedirectTest(EcrTestBase):
    def test_blob_redirects_to_storage_get_no_ecr_credentials(self):
        with FaultProxy(self.reg.host, blob_path=self.reg.blob_path) as proxy:
            self.aws.proxy_endpoint = proxy.url
            proxy.set_faults([{"match": r"^/v2/demo/blobs/", "method": "GET", "times": -1,
                               "action": "redirect", "reject_authorization": True}])
            report = self.assert_scan_equals_local(self.env())
            self.assertGreaterEqual(report["stats"]["registry"]["redirects"], 1)
            self.assertTrue(proxy.redirect_requests)
            self.assertFalse([r for r in proxy.redirect_requests if "authorization" in r["headers"]])


if __name__ == "__main__":
    cli_harness.main(__import__(__name__))
