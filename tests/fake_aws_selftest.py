#!/usr/bin/env python3
"""Self-test of tests/support/fake_aws.py (FakeAws) with botocore as an independent, real AWS
client: STS (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity), SigV4 failures, expiry of
temporary credentials, ECR against a real docker-registry (pagination, images, manifests,
layers, tokens the registry accepts and then refuses), throttling, denials, IMDSv2 and the
container credential endpoint (urllib).

Run by ctest as: fake_aws_selftest.py --binary build/layersift --corpus build/corpus --source .
(the binary is not used). Needs botocore (Debian python3-botocore), docker-registry and htpasswd
(tools/setup.sh installs them); fails, never skips, without them. Works with Debian 12's
botocore 1.29 and newer ones.
"""
import base64
import hashlib
import json
import math
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET
from email.utils import formatdate

for _name in list(os.environ):  # botocore must see only what each test gives it
    if _name.startswith("AWS_") or _name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from support.fake_aws import FakeAws
from support.http_server import assert_no_threads_left
from support.registry_fixture import MANIFEST_ACCEPT, INDEX_TYPES, Registry, http_request, \
    require_tools

try:
    import botocore
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
except ImportError as e:  # fail (not skip), naming the package
    raise SystemExit(f"fake_aws_selftest needs botocore (Debian python3-botocore; "
                     f"tools/setup.sh installs it): {e}")

ARGS = None
REG = None
AWS = None
SESSION = None
EXPECTED = None  # repository -> {digest: sorted tags}, read from the registry itself
UNTAGGED = None  # the manifest uploaded by digest only into "demo"
CLIENTS = []  # botocore clients made by the running test, closed after it
NO_RETRY = {"max_attempts": 0}
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."


def corpus(name):
    return os.path.join(ARGS.corpus, name)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def client(service, region="us-east-1", keys=None, token=None, unsigned=False):
    if keys is None:
        keys = AWS.default_keys
    config = Config(retries=dict(NO_RETRY),
                    signature_version=botocore.UNSIGNED if unsigned else None)
    made = SESSION.create_client(service, endpoint_url=AWS.url, region_name=region,
                                 aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                                 aws_session_token=token, config=config)
    CLIENTS.append(made)
    return made


def signed(method, url, service, region, keys=None, token=None, headers=None, body=b"",
           auth=SigV4Auth):
    """A request signed by botocore's own SigV4 signer, sent with urllib:
    (status, headers, body)."""
    keys = keys or AWS.default_keys
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if auth is not None:
        auth(Credentials(keys[0], keys[1], token), service, region).add_auth(request)
    prepared = request.prepare()
    return http_request(prepared.url, method=method, headers=dict(prepared.headers.items()),
                        body=prepared.body if method != "GET" else None)


def ecr_raw(action, payload, region="us-east-1", headers=None, body=None, **kwargs):
    """A raw ECR JSON 1.1 call: (status, decoded JSON body)."""
    all_headers = {"Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": ECR_TARGET + action}
    all_headers.update(headers or {})
    all_headers = {k: v for k, v in all_headers.items() if v is not None}
    data = body if body is not None else json.dumps(payload).encode()
    status, _, answer = signed("POST", AWS.url + "/", "ecr", region, headers=all_headers,
                               body=data, **kwargs)
    return status, json.loads(answer)


def sts_error(body):
    root = ET.fromstring(body)
    assert root.tag == STS_NS + "ErrorResponse", body
    error = root.find(STS_NS + "Error")
    return (error.findtext(STS_NS + "Type"), error.findtext(STS_NS + "Code"),
            error.findtext(STS_NS + "Message"), root.findtext(STS_NS + "RequestId"))


class SkewedSigV4(SigV4Auth):
    """botocore's signer with its clock moved by `skew` seconds."""
    skew = 0

    def _modify_request_before_signing(self, request):
        request.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ",
                                                     time.gmtime(time.time() + self.skew))
        super()._modify_request_before_signing(request)


class NoHostSigV4(SigV4Auth):
    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def registry_expectation():
    """repository -> {digest: sorted tags} from the registry API (HEAD of every tag), plus the
    untagged manifests: UNTAGGED in demo and the platform manifests of indexes."""
    status, _, body = REG.request("GET", "/v2/_catalog")
    assert status == 200, body
    expected = {}
    for repo in json.loads(body)["repositories"]:
        images = {}
        status, _, body = REG.request("GET", f"/v2/{repo}/tags/list")
        for tag in json.loads(body)["tags"] or []:
            status, headers, _ = REG.request("HEAD", f"/v2/{repo}/manifests/{tag}",
                                             headers={"Accept": MANIFEST_ACCEPT})
            assert status == 200
            images.setdefault(headers["Docker-Content-Digest"], []).append(tag)
        for digest in list(images):
            body, content_type = REG.manifest(repo, digest)
            if content_type in INDEX_TYPES:
                for child in json.loads(body)["manifests"]:
                    images.setdefault(child["digest"], [])
        if repo == "demo":
            images[UNTAGGED] = []
        expected[repo] = {d: sorted(t) for d, t in images.items()}
    return expected


def setUpModule():
    global REG, AWS, SESSION, EXPECTED, UNTAGGED
    require_tools("docker-registry", "htpasswd")
    SESSION = botocore.session.get_session()
    REG = Registry(auth="basic")
    REG.start()
    digest = REG.upload_layout(corpus("oci-demo") + ":demo", "demo:latest")
    body, content_type = REG.manifest("demo", digest)
    status, _, answer = REG.request("PUT", "/v2/demo/manifests/v2", body=body,
                                    headers={"Content-Type": content_type})
    assert status == 201, answer
    # An untagged image: the same blobs, another manifest, uploaded by digest only.
    doc = json.loads(body)
    doc.setdefault("annotations", {})["org.example.untagged"] = "yes"
    untagged = json.dumps(doc).encode()
    UNTAGGED = sha256(untagged)
    status, _, answer = REG.request("PUT", f"/v2/demo/manifests/{UNTAGGED}", body=untagged,
                                    headers={"Content-Type": content_type})
    assert status == 201, answer
    REG.upload_layout(corpus("oci-multiarch"), "multi:latest")
    REG.upload_layout(corpus("oci-demo") + ":demo", "team/app:1.0")
    REG.upload_layout(corpus("oci-demo") + ":demo", "team/tools:1.0")
    AWS = FakeAws(registry=REG)
    AWS.start()
    AWS.add_untagged("demo", UNTAGGED)
    EXPECTED = registry_expectation()


def tearDownModule():
    if AWS is not None:
        AWS.stop()
    if REG is not None:
        REG.stop()
    assert_no_threads_left()


class FakeAwsCase(unittest.TestCase):
    def setUp(self):
        AWS.credential_lifetime_s = 3600
        AWS.ecr_token_lifetime_s = 43200
        AWS.page_size = 100
        AWS.archived = set()
        AWS.pushed_at = {}
        AWS.imds_role = AWS.container_role = AWS.container_authorization_token = None
        AWS.clear_denials()
        AWS.clear_throttles()
        AWS.clear_requests()

    def tearDown(self):
        while CLIENTS:
            CLIENTS.pop().close()

    def assertClientError(self, call, code, status, message=None, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            call(**kwargs)
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], code, ctx.exception.response)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        if message is not None:
            self.assertEqual(error["Message"], message)
        return error


class StsTest(FakeAwsCase):
    def test_get_caller_identity(self):
        answer = client("sts", region="eu-west-1").get_caller_identity()
        self.assertEqual(answer["Arn"], "arn:aws:iam::123456789012:user/scanner")
        self.assertEqual(answer["Account"], "123456789012")
        self.assertRegex(answer["UserId"], r"^AIDA[A-Z2-7]{16}$")
        self.assertRegex(AWS.default_keys[0], r"^AKIA[A-Z2-7]{16}$")
        self.assertEqual(len(AWS.default_keys[1]), 40)
        entry = AWS.requests[-1]
        self.assertEqual((entry["service"], entry["action"], entry["region"], entry["status"],
                          entry["access_key_id"], entry["signed"]),
                         ("sts", "GetCallerIdentity", "eu-west-1", 200, AWS.default_keys[0],
                          True))
        self.assertEqual(AWS.count("GetCallerIdentity"), 1)
        self.assertEqual(AWS.count("sts:GetCallerIdentity"), 1)
        self.assertEqual(AWS.count("ecr:GetCallerIdentity"), 0)

    def test_wrong_secret_unknown_and_inactive_keys(self):
        akid, secret = AWS.add_user("alice")
        bad = client("sts", keys=(akid, secret[:-1] + ("A" if secret[-1] != "A" else "B")))
        error = self.assertClientError(bad.get_caller_identity, "SignatureDoesNotMatch", 403)
        self.assertTrue(error["Message"].startswith("The request signature we calculated does "
                                                    "not match"), error)
        self.assertIn("POST\n/\n\n", AWS.requests[-1]["detail"])
        unknown = client("sts", keys=("AKIAAAAAAAAAAAAAAAAA", secret))
        self.assertClientError(unknown.get_caller_identity, "InvalidClientTokenId", 403,
                               "The security token included in the request is invalid.")
        good = client("sts", keys=(akid, secret))
        self.assertEqual(good.get_caller_identity()["Arn"],
                         "arn:aws:iam::123456789012:user/alice")
        AWS.deactivate(akid)
        self.assertClientError(good.get_caller_identity, "InvalidClientTokenId", 403,
                               "The security token included in the request is invalid.")
        self.assertClientError(client("ecr", keys=(akid, secret)).describe_repositories,
                               "UnrecognizedClientException", 400,
                               "The security token included in the request is invalid.")

    def test_missing_authentication_and_error_shape(self):
        status, headers, body = http_request(
            AWS.url + "/", method="POST", body=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        self.assertEqual(status, 403)
        self.assertEqual(headers["Content-Type"], "text/xml")
        kind, code, message, request_id = sts_error(body)
        self.assertEqual((kind, code, message), ("Sender", "MissingAuthenticationToken",
                                                 "Request is missing Authentication Token"))
        self.assertEqual(request_id, headers["x-amzn-RequestId"])
        status, body = ecr_raw("DescribeRepositories", {}, auth=None)
        self.assertEqual((status, body), (400, {"__type": "MissingAuthenticationTokenException",
                                                "message": "Missing Authentication Token"}))

    def test_get_query_date_header_and_path_normalization(self):
        query = "Action=GetCallerIdentity&Version=2011-06-15&Note=a%20b~c&Note=0"
        for path in ("/", "/x/./y//../z/"):
            status, _, body = signed("GET", f"{AWS.url}{path}?{query}", "sts", "us-east-2")
            self.assertEqual(status, 200, body)
            self.assertIn(b"<Arn>arn:aws:iam::123456789012:user/scanner</Arn>", body)
        # Signed with the Date header instead of X-Amz-Date
        status, _, body = signed("POST", AWS.url + "/", "sts", "us-east-1",
                                 headers={"Date": formatdate(usegmt=True),
                                          "Content-Type": "application/x-www-form-urlencoded"},
                                 body=b"Action=GetCallerIdentity&Version=2011-06-15")
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, STS_NS + "GetCallerIdentityResponse")
        result = root.find(STS_NS + "GetCallerIdentityResult")
        self.assertEqual(result.findtext(STS_NS + "Account"), "123456789012")
        self.assertTrue(root.find(STS_NS + "ResponseMetadata").findtext(STS_NS + "RequestId"))
        # The body is signed: change it after signing and the signature fails
        request = AWSRequest(method="POST", url=AWS.url + "/",
                             data=b"Action=GetCallerIdentity&Version=2011-06-15",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(*AWS.default_keys), "sts", "us-east-1").add_auth(request)
        prepared = request.prepare()
        headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
        status, _, body = http_request(prepared.url, "POST", headers,
                                       b"Action=GetCallerIdentity&Version=2011-06-15&X=1")
        self.assertEqual((status, sts_error(body)[1]), (403, "SignatureDoesNotMatch"))

    def test_clock_skew_scope_and_host(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        body = b"Action=GetCallerIdentity&Version=2011-06-15"

        class Past(SkewedSigV4):
            skew = -20 * 60

        class Future(SkewedSigV4):
            skew = 20 * 60

        class Slightly(SkewedSigV4):
            skew = -10 * 60

        status, _, answer = signed("POST", AWS.url + "/", "sts", "us-east-1", headers=form,
                                   body=body, auth=Past)
        _, code, message, _ = sts_error(answer)
        self.assertEqual((status, code), (403, "SignatureDoesNotMatch"))
        self.assertRegex(message, r"^Signature expired: \d{8}T\d{6}Z is now earlier than "
                                  r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$")
        status, _, answer = signed("POST", AWS.url + "/", "sts", "us-east-1", headers=form,
                                   body=body, auth=Future)
        self.assertRegex(sts_error(answer)[2], r"^Signature not yet current: .* \+ 15 min\.\)$")
        status, _, answer = signed("POST", AWS.url + "/", "sts", "us-east-1", headers=form,
                                   body=body, auth=Slightly)
        self.assertEqual(status, 200, answer)
        status, _, answer = signed("POST", AWS.url + "/", "ecr", "us-east-1", headers=form,
                                   body=body)
        self.assertEqual((status, sts_error(answer)[1:3]),
                         (403, ("SignatureDoesNotMatch",
                                "Credential should be scoped to correct service: 'sts'. ")))
        status, _, answer = signed("POST", AWS.url + "/", "sts", "us-east-1", headers=form,
                                   body=body, auth=NoHostSigV4)
        self.assertEqual((status, sts_error(answer)[1:3]),
                         (400, ("IncompleteSignature", "'Host' or ':authority' must be a "
                                "'SignedHeader' in the AWS Authorization.")))
        status, answer = ecr_raw("DescribeRepositories", {}, region="us-west-2")
        self.assertEqual((status, answer["__type"]), (400, "InvalidSignatureException"))
        self.assertEqual(answer["message"],
                         "Credential should be scoped to a valid region, not 'us-west-2'. ")

    def test_assume_role_external_id(self):
        role = AWS.add_role("scanner-role", external_id="ext-123")
        sts = client("sts", region="us-west-2")
        denied = ("User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: "
                  f"sts:AssumeRole on resource: {role}")
        self.assertClientError(sts.assume_role, "AccessDenied", 403, denied, RoleArn=role,
                               RoleSessionName="s1")
        self.assertClientError(sts.assume_role, "AccessDenied", 403, denied, RoleArn=role,
                               RoleSessionName="s1", ExternalId="wrong")
        self.assertClientError(sts.assume_role, "AccessDenied", 403,
                               denied.replace("scanner-role", "nope"),
                               RoleArn=role.replace("scanner-role", "nope"),
                               RoleSessionName="s1")
        start = time.time()
        answer = sts.assume_role(RoleArn=role, RoleSessionName="s1", ExternalId="ext-123")
        creds = answer["Credentials"]
        self.assertRegex(creds["AccessKeyId"], r"^ASIA[A-Z2-7]{16}$")
        self.assertAlmostEqual(creds["Expiration"].timestamp(), start + 3600, delta=3)
        self.assertEqual(answer["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::123456789012:assumed-role/scanner-role/s1")
        self.assertRegex(answer["AssumedRoleUser"]["AssumedRoleId"], r"^AROA[A-Z2-7]{16}:s1$")
        self.assertEqual(AWS.requests[-1]["region"], "us-west-2")
        temp = client("sts", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                      token=creds["SessionToken"])
        identity = temp.get_caller_identity()
        self.assertEqual(identity["Arn"], answer["AssumedRoleUser"]["Arn"])
        self.assertEqual(identity["UserId"], answer["AssumedRoleUser"]["AssumedRoleId"])
        # Without the session token, or with another one, the key is not recognized
        for token in (None, creds["SessionToken"][:-4] + "AAAA"):
            bad = client("sts", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                         token=token)
            self.assertClientError(bad.get_caller_identity, "InvalidClientTokenId", 403)
        # A long-term key with a session token neither
        bad = client("sts", token=creds["SessionToken"])
        self.assertClientError(bad.get_caller_identity, "InvalidClientTokenId", 403)

    def test_assume_role_trust_and_duration(self):
        bob = AWS.add_user("bob")
        role = AWS.add_role("bob-only", trusted=["arn:aws:iam::123456789012:user/bob"])
        self.assertClientError(client("sts").assume_role, "AccessDenied", 403, RoleArn=role,
                               RoleSessionName="x1")
        start = time.time()
        creds = client("sts", keys=bob).assume_role(
            RoleArn=role, RoleSessionName="x1", DurationSeconds=900)["Credentials"]
        self.assertAlmostEqual(creds["Expiration"].timestamp(), start + 900, delta=3)
        AWS.credential_lifetime_s = 5
        creds = client("sts", keys=bob).assume_role(
            RoleArn=role, RoleSessionName="x1", DurationSeconds=900)["Credentials"]
        self.assertAlmostEqual(creds["Expiration"].timestamp(), start + 5, delta=3)
        error = self.assertClientError(client("sts", keys=bob).assume_role, "ValidationError",
                                       400, RoleArn=role, RoleSessionName="x1",
                                       DurationSeconds=7200)
        self.assertIn("MaxSessionDuration", error["Message"])

    def test_assume_role_with_web_identity(self):
        role = AWS.add_role("web-role")
        sts = client("sts", unsigned=True)
        answer = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="pod",
                                                   WebIdentityToken=AWS.web_identity_token)
        self.assertEqual(answer["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::123456789012:assumed-role/web-role/pod")
        entry = AWS.requests[-1]
        self.assertEqual((entry["action"], entry["signed"], entry["status"]),
                         ("AssumeRoleWithWebIdentity", False, 200))
        creds = answer["Credentials"]
        temp = client("sts", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                      token=creds["SessionToken"])
        self.assertEqual(temp.get_caller_identity()["Arn"], answer["AssumedRoleUser"]["Arn"])
        self.assertClientError(sts.assume_role_with_web_identity, "InvalidIdentityToken", 400,
                               RoleArn=role, RoleSessionName="pod",
                               WebIdentityToken=AWS.web_identity_token + "x")
        # Other actions need a signature
        self.assertClientError(sts.get_caller_identity, "MissingAuthenticationToken", 403)

    def test_expired_temporary_credentials(self):
        role = AWS.add_role("short")
        AWS.credential_lifetime_s = 2
        creds = client("sts").assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
        keys = (creds["AccessKeyId"], creds["SecretAccessKey"])
        sts = client("sts", keys=keys, token=creds["SessionToken"])
        ecr = client("ecr", keys=keys, token=creds["SessionToken"])
        sts.get_caller_identity()
        ecr.describe_repositories()
        time.sleep(max(0.0, creds["Expiration"].timestamp() - time.time()) + 0.05)
        self.assertClientError(sts.get_caller_identity, "ExpiredToken", 403,
                               "The security token included in the request is expired")
        self.assertClientError(ecr.describe_repositories, "ExpiredTokenException", 400,
                               "The security token included in the request is expired")
        issued = AWS.issued_credentials[-1]
        self.assertEqual((issued["access_key_id"], issued["source"], issued["role"]),
                         (creds["AccessKeyId"], "AssumeRole", "short"))

    def test_throttling_and_denial(self):
        AWS.throttle("sts:GetCallerIdentity", 1)
        sts = client("sts")
        self.assertClientError(sts.get_caller_identity, "Throttling", 400, "Rate exceeded")
        self.assertEqual(AWS.count("GetCallerIdentity"), 1)  # botocore did not retry
        sts.get_caller_identity()
        role = AWS.add_role("denied-role")
        AWS.deny("sts:AssumeRole", reason="scp")
        self.assertClientError(
            sts.assume_role, "AccessDenied", 403,
            "User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: "
            f"sts:AssumeRole on resource: {role} with an explicit deny in a service control "
            "policy", RoleArn=role, RoleSessionName="s1")


class EcrTest(FakeAwsCase):
    def test_describe_repositories_paginated(self):
        AWS.page_size = 2
        ecr = client("ecr")
        repos = [r for page in ecr.get_paginator("describe_repositories").paginate()
                 for r in page["repositories"]]
        self.assertEqual([r["repositoryName"] for r in repos], sorted(EXPECTED))
        self.assertEqual(AWS.count("ecr:DescribeRepositories"), math.ceil(len(EXPECTED) / 2))
        app = next(r for r in repos if r["repositoryName"] == "team/app")
        self.assertEqual(app["repositoryUri"], f"{REG.host}/team/app")
        self.assertEqual(app["repositoryArn"],
                         "arn:aws:ecr:us-east-1:123456789012:repository/team/app")
        self.assertEqual(app["registryId"], "123456789012")
        AWS.clear_requests()
        pages = list(ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"PageSize": 1}))
        self.assertEqual(len(pages), len(EXPECTED))
        named = ecr.describe_repositories(repositoryNames=["demo", "multi"])["repositories"]
        self.assertEqual([r["repositoryName"] for r in named], ["demo", "multi"])
        self.assertClientError(
            ecr.describe_repositories, "RepositoryNotFoundException", 400,
            "The repository with name 'nope' does not exist in the registry with id "
            "'123456789012'", repositoryNames=["demo", "nope"])

    def test_list_images_paginated_equals_registry(self):
        AWS.page_size = 3
        ecr = client("ecr")
        for repo, images in EXPECTED.items():
            AWS.clear_requests()
            ids = [i for page in ecr.get_paginator("list_images").paginate(repositoryName=repo)
                   for i in page["imageIds"]]
            expected = [{"imageDigest": d, "imageTag": t} for d, tags in images.items()
                        for t in tags] + [{"imageDigest": d} for d, t in images.items() if not t]
            key = lambda i: (i["imageDigest"], i.get("imageTag", ""))
            self.assertEqual(sorted(ids, key=key), sorted(expected, key=key), repo)
            self.assertEqual(AWS.count("ListImages"), max(1, math.ceil(len(expected) / 3)))
        demo = EXPECTED["demo"]
        tagged = ecr.list_images(repositoryName="demo", filter={"tagStatus": "TAGGED"})
        self.assertEqual(len(tagged["imageIds"]), sum(len(t) for t in demo.values()))
        untagged = ecr.list_images(repositoryName="demo", filter={"tagStatus": "UNTAGGED"})
        self.assertEqual(untagged["imageIds"], [{"imageDigest": UNTAGGED}])
        self.assertEqual(len(demo[next(d for d, t in demo.items() if t)]), 2)  # latest, v2

    def test_describe_images_paginated_equals_registry(self):
        AWS.page_size = 3
        ecr = client("ecr")
        AWS.pushed_at = {UNTAGGED: 1234567890.5}
        for repo, images in EXPECTED.items():
            details = [d for page in ecr.get_paginator("describe_images").paginate(
                repositoryName=repo) for d in page["imageDetails"]]
            self.assertEqual(sorted(d["imageDigest"] for d in details), sorted(images), repo)
            for detail in details:
                digest = detail["imageDigest"]
                self.assertEqual(sorted(detail.get("imageTags", [])), images[digest])
                body, content_type = REG.manifest(repo, digest)
                self.assertEqual(detail["imageManifestMediaType"], content_type)
                self.assertEqual((detail["registryId"], detail["repositoryName"]),
                                 ("123456789012", repo))
                # (botocore 1.29 predates imageStatus and drops it)
                self.assertEqual(detail.get("imageStatus", "ACTIVE"), "ACTIVE")
                doc = json.loads(body)
                if content_type in INDEX_TYPES:
                    sizes = []
                    for child in doc["manifests"]:
                        child_doc = json.loads(REG.manifest(repo, child["digest"])[0])
                        sizes.append(child_doc["config"]["size"] +
                                     sum(x["size"] for x in child_doc["layers"]))
                    self.assertEqual(detail["imageSizeInBytes"], max(sizes))
                    self.assertNotIn("artifactMediaType", detail)
                else:
                    self.assertEqual(detail["imageSizeInBytes"], doc["config"]["size"] +
                                     sum(x["size"] for x in doc["layers"]))
                    self.assertEqual(detail["artifactMediaType"], doc["config"]["mediaType"])
        untagged = ecr.describe_images(repositoryName="demo", imageIds=[
            {"imageDigest": UNTAGGED}])["imageDetails"]
        self.assertEqual(untagged[0]["imagePushedAt"].timestamp(), 1234567890.5)
        self.assertNotIn("imageTags", untagged[0])
        by_tag = ecr.describe_images(repositoryName="demo", imageIds=[{"imageTag": "v2"}])
        self.assertEqual(sorted(by_tag["imageDetails"][0]["imageTags"]), ["latest", "v2"])
        self.assertClientError(
            ecr.describe_images, "ImageNotFoundException", 400,
            "The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within "
            "the repository with name 'demo' in the registry with id '123456789012'",
            repositoryName="demo", imageIds=[{"imageTag": "nope"}])

    def test_archived_images_and_timestamp_format(self):
        AWS.archived = {UNTAGGED}
        ecr = client("ecr")
        digests = {d["imageDigest"] for d in
                   ecr.describe_images(repositoryName="demo")["imageDetails"]}
        self.assertNotIn(UNTAGGED, digests)
        status, answer = ecr_raw("DescribeImages", {"repositoryName": "demo",
                                                    "filter": {"imageStatus": "ANY"}})
        self.assertEqual(status, 200, answer)
        statuses = {d["imageDigest"]: d["imageStatus"] for d in answer["imageDetails"]}
        self.assertEqual(statuses[UNTAGGED], "ARCHIVED")
        status, answer = ecr_raw("ListImages", {"repositoryName": "demo",
                                                "filter": {"imageStatus": "ARCHIVED"}})
        self.assertEqual(answer["imageIds"], [{"imageDigest": UNTAGGED}])
        failures = ecr.batch_get_image(repositoryName="demo",
                                       imageIds=[{"imageDigest": UNTAGGED}])["failures"]
        self.assertEqual(failures[0]["failureCode"], "ImageNotFound")
        # Timestamps are written as AWS writes them: epoch seconds in Java double notation
        status, _, body = signed("POST", AWS.url + "/", "ecr", "us-east-1", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": ECR_TARGET + "DescribeRepositories"}, body=b"{}")
        self.assertRegex(body.decode(), r'"createdAt":1\.7E9[,}]')

    def test_batch_get_image_download_url_and_layers(self):
        ecr = client("ecr")
        body, content_type = REG.manifest("demo", "latest")
        answer = ecr.batch_get_image(repositoryName="demo", imageIds=[
            {"imageTag": "latest"}, {"imageTag": "nope"}, {"imageDigest": sha256(body)}],
            acceptedMediaTypes=[content_type])
        self.assertEqual([i["imageManifest"].encode() for i in answer["images"]], [body, body])
        self.assertEqual(answer["images"][0]["imageId"],
                         {"imageDigest": sha256(body), "imageTag": "latest"})
        self.assertEqual(answer["images"][1]["imageId"], {"imageDigest": sha256(body)})
        self.assertEqual(answer["images"][0]["imageManifestMediaType"], content_type)
        self.assertEqual(answer["failures"], [{"imageId": {"imageTag": "nope"},
                                               "failureCode": "ImageNotFound",
                                               "failureReason": "Requested image not found"}])
        other = ecr.batch_get_image(repositoryName="demo", imageIds=[{"imageTag": "latest"}],
                                    acceptedMediaTypes=["application/x-unknown"])
        self.assertEqual((other["images"], other["failures"][0]["failureCode"]),
                         ([], "ImageNotFound"))
        layer = json.loads(body)["layers"][0]["digest"]
        url = ecr.get_download_url_for_layer(repositoryName="demo", layerDigest=layer)
        self.assertEqual(url["downloadUrl"], f"{REG.url}/v2/demo/blobs/{layer}")
        status, _, data = REG.request("GET", url["downloadUrl"][len(REG.url):])
        self.assertEqual((status, sha256(data)), (200, layer))
        missing = "sha256:" + "0" * 64
        self.assertClientError(ecr.get_download_url_for_layer, "LayersNotFoundException", 400,
                               repositoryName="demo", layerDigest=missing)
        check = ecr.batch_check_layer_availability(repositoryName="demo",
                                                   layerDigests=[layer, missing])
        self.assertEqual(check["layers"][0]["layerDigest"], layer)
        self.assertEqual(check["layers"][0]["layerAvailability"], "AVAILABLE")
        self.assertEqual(check["layers"][0]["layerSize"], len(data))
        self.assertEqual(check["failures"][0]["failureCode"], "MissingLayerDigest")
        self.assertClientError(
            ecr.batch_get_image, "RepositoryNotFoundException", 400,
            "The repository with name 'nope' does not exist in the registry with id "
            "'123456789012'", repositoryName="nope", imageIds=[{"imageTag": "x"}])

    def test_malformed_requests(self):
        cases = [
            (dict(headers={"Content-Type": "application/json"}), "SerializationException"),
            (dict(headers={"X-Amz-Target": None}), "UnknownOperationException"),
            (dict(headers={"X-Amz-Target": ECR_TARGET + "NoSuchOp"}),
             "UnknownOperationException"),
            (dict(body=b"[]"), "SerializationException"),
            (dict(body=b"{not json"), "SerializationException"),
            (dict(payload={"repositoryName": "demo", "maxResults": "3"}),
             "SerializationException"),
            (dict(payload={"repositoryName": 5}), "SerializationException"),
            (dict(payload={"repositoryName": "demo", "filter": "TAGGED"}),
             "SerializationException"),
            (dict(payload={"repositoryName": "demo", "maxResults": 0}),
             "InvalidParameterException"),
            (dict(payload={"repositoryName": "demo", "maxResults": 1001}),
             "InvalidParameterException"),
            (dict(payload={"repositoryName": "Demo"}), "InvalidParameterException"),
            (dict(payload={}), "ValidationException"),
            (dict(payload={"repositoryName": "demo", "filter": {"tagStatus": "SOME"}}),
             "ValidationException"),
            (dict(payload={"repositoryName": "demo", "nextToken": "garbage"}),
             "InvalidParameterException"),
        ]
        for kwargs, code in cases:
            payload = kwargs.pop("payload", {"repositoryName": "demo"})
            status, answer = ecr_raw("ListImages", payload, **kwargs)
            self.assertEqual((status, answer["__type"]), (400, code), (kwargs, payload, answer))
        status, answer = ecr_raw("ListImages", {"repositoryName": "demo", "maxResults": 1})
        self.assertEqual(status, 200, answer)
        token = answer["nextToken"]
        status, answer = ecr_raw("ListImages", {"repositoryName": "multi", "nextToken": token})
        self.assertEqual((status, answer["__type"]), (400, "InvalidParameterException"))
        self.assertEqual(answer["message"], "Invalid parameter at 'nextToken' failed to satisfy "
                                            "constraint: 'Invalid NextToken'")
        status, answer = ecr_raw("ListImages", {"repositoryName": "demo", "nextToken": token})
        self.assertEqual(status, 200, answer)

    def test_throttling(self):
        AWS.throttle("DescribeImages", 2)
        ecr = client("ecr")
        for _ in range(2):
            self.assertClientError(ecr.describe_images, "ThrottlingException", 400,
                                   "Rate exceeded", repositoryName="demo")
        ecr.describe_images(repositoryName="demo")
        self.assertEqual(AWS.count("DescribeImages"), 3)
        self.assertEqual([r["error"] for r in AWS.requests],
                         ["ThrottlingException", "ThrottlingException", None])

    def test_deny_reasons(self):
        ecr = client("ecr")
        user = "arn:aws:iam::123456789012:user/scanner"
        resource = "arn:aws:ecr:us-east-1:123456789012:repository/demo"
        base = (f"User: {user} is not authorized to perform: ecr:DescribeImages on resource: "
                f"{resource}")
        for reason, suffix in [
                ("identity", " because no identity-based policy allows the ecr:DescribeImages "
                             "action"),
                ("scp", " with an explicit deny in a service control policy"),
                ("resource", " because no resource-based policy allows the ecr:DescribeImages "
                             "action")]:
            AWS.clear_denials()
            AWS.deny("ecr:DescribeImages", reason=reason)
            self.assertClientError(ecr.describe_images, "AccessDeniedException", 400,
                                   base + suffix, repositoryName="demo")
        AWS.clear_denials()
        AWS.deny("ecr:DescribeImages", principal="arn:aws:iam::123456789012:user/other")
        AWS.deny("ecr:DescribeImages", repository="multi")
        ecr.describe_images(repositoryName="demo")
        self.assertClientError(ecr.describe_images, "AccessDeniedException", 400,
                               repositoryName="multi")
        AWS.deny("ecr:GetAuthorizationToken", principal=user)
        error = self.assertClientError(ecr.get_authorization_token, "AccessDeniedException", 400)
        self.assertIn("on resource: * because", error["Message"])

    def test_authorization_token_is_a_registry_password(self):
        ecr = client("ecr")
        before = AWS.tokens_issued

        def password_of(answer):
            data = answer["authorizationData"][0]
            self.assertEqual(data["proxyEndpoint"], REG.url)
            user, _, password = base64.b64decode(data["authorizationToken"]).decode() \
                .partition(":")
            self.assertEqual(user, "AWS")
            return password, data["expiresAt"].timestamp()

        def registry_status(password):
            basic = base64.b64encode(f"AWS:{password}".encode()).decode()
            return http_request(REG.url + "/v2/", headers={"Authorization": "Basic " + basic})[0]

        start = time.time()
        first, expires = password_of(ecr.get_authorization_token())
        self.assertAlmostEqual(expires, start + 43200, delta=5)
        self.assertEqual(registry_status(first), 200)
        self.assertEqual(AWS.ecr_password, first)
        second, _ = password_of(ecr.get_authorization_token())
        self.assertNotEqual(first, second)
        self.assertEqual((registry_status(first), registry_status(second)), (401, 200))
        self.assertEqual(AWS.tokens_issued, before + 2)
        # The registry's own test user is untouched
        self.assertEqual(REG.manifest("demo", "latest")[0][:1], b"{")
        AWS.ecr_token_lifetime_s = 2
        third, expires = password_of(ecr.get_authorization_token())
        self.assertEqual(registry_status(third), 200)
        time.sleep(max(0.0, expires - time.time()) + 0.5)
        self.assertEqual(registry_status(third), 401)
        self.assertIsNone(AWS.ecr_password)
        # ECR Public: scope service ecr-public, region us-east-1 only
        public = client("ecr-public")
        data = public.get_authorization_token()["authorizationData"]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        self.assertEqual((user, registry_status(password)), ("AWS", 200))
        self.assertEqual(AWS.requests[-1]["service"], "ecr-public")
        self.assertClientError(client("ecr-public", region="us-west-2").get_authorization_token,
                               "InvalidSignatureException", 400)


class ImdsTest(FakeAwsCase):
    def imds(self, method, path, headers=None):
        return http_request(AWS.url + path, method=method, headers=headers or {})

    def test_token_flow_and_credentials(self):
        AWS.add_role("instance-role")
        AWS.imds_role = "instance-role"
        base = "/latest/meta-data/iam/security-credentials/"
        self.assertEqual(self.imds("PUT", "/latest/api/token")[0], 400)
        for ttl in ("0", "21601", "abc"):
            self.assertEqual(self.imds("PUT", "/latest/api/token",
                                       {"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0], 400)
        self.assertEqual(self.imds("PUT", "/latest/api/token", {
            "X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})[0], 403)
        self.assertEqual(self.imds("GET", base)[0], 401)
        self.assertEqual(self.imds("GET", base, {"X-aws-ec2-metadata-token": "bogus"})[0], 401)
        status, headers, token = self.imds("PUT", "/latest/api/token",
                                           {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        self.assertEqual((status, headers["X-aws-ec2-metadata-token-ttl-seconds"]), (200, "60"))
        auth = {"X-aws-ec2-metadata-token": token.decode()}
        status, _, body = self.imds("GET", base, auth)
        self.assertEqual((status, body), (200, b"instance-role"))
        status, _, body = self.imds("GET", base + "instance-role", auth)
        self.assertEqual(status, 200)
        creds = json.loads(body)
        self.assertEqual((creds["Code"], creds["Type"]), ("Success", "AWS-HMAC"))
        self.assertRegex(creds["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(self.imds("GET", base + "other-role", auth)[0], 404)
        self.assertTrue(AWS.requests[-2]["token_used"])
        self.assertEqual(AWS.requests[-2]["access_key_id"], creds["AccessKeyId"])
        again = json.loads(self.imds("GET", base + "instance-role", auth)[2])
        self.assertEqual(again["AccessKeyId"], creds["AccessKeyId"])  # cached, as IMDS does
        sts = client("sts", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                     token=creds["Token"])
        self.assertEqual(sts.get_caller_identity()["Arn"],
                         f"arn:aws:sts::123456789012:assumed-role/instance-role/"
                         f"{AWS.instance_id}")
        status, _, body = self.imds("GET", "/latest/dynamic/instance-identity/document", auth)
        self.assertEqual((status, json.loads(body)["region"]), (200, "us-east-1"))
        self.assertEqual(self.imds("GET", "/latest/meta-data/placement/region", auth)[2],
                         b"us-east-1")
        status, _, short = self.imds("PUT", "/latest/api/token",
                                     {"X-aws-ec2-metadata-token-ttl-seconds": "1"})
        time.sleep(1.1)
        self.assertEqual(self.imds("GET", base, {"X-aws-ec2-metadata-token":
                                                 short.decode()})[0], 401)
        AWS.imds_role = None
        self.assertEqual(self.imds("GET", base, auth)[0], 404)

    def test_container_credentials(self):
        role = AWS.add_role("task-role")
        AWS.container_role = "task-role"
        for path in ("/container-credentials/ecs-task", "/v2/credentials/0a1b2c",
                     "/v1/credentials"):
            status, headers, body = http_request(AWS.url + path)
            self.assertEqual(status, 200, path)
            creds = json.loads(body)
            self.assertEqual(creds["RoleArn"], role)
        self.assertEqual(set(creds) >= {"AccessKeyId", "SecretAccessKey", "Token",
                                        "Expiration", "RoleArn"}, True)
        sts = client("sts", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                     token=creds["Token"])
        self.assertIn(":assumed-role/task-role/", sts.get_caller_identity()["Arn"])
        AWS.container_authorization_token = "Bearer pod-identity-token"
        url = AWS.url + "/v1/credentials"
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "pod-identity-token"}):
            status, _, body = http_request(url, headers=headers)
            self.assertEqual(status, 401, headers)
            self.assertIn("message", json.loads(body))
        status, _, body = http_request(url, headers={"Authorization":
                                                     "Bearer pod-identity-token"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["AccessKeyId"], creds["AccessKeyId"])
        AWS.container_role = None
        self.assertEqual(http_request(url, headers={"Authorization":
                                                    "Bearer pod-identity-token"})[0], 404)


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
