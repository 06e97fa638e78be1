#!/usr/bin/env python3
"""End-to-end tests of the report formats made for other tools: SARIF 2.1.0, validated against the
OASIS schema shipped in tests/data/third_party/sarif (nothing is fetched), and gitleaks' JSON
report shape. Both are checked against `--format json` of the same scan, finding by finding.

Run by ctest as: report_formats_test.py --binary build/layersift --corpus build/corpus --source .
"""
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest
import urllib.parse
import zipfile

import cli_harness  # tests/cli_harness.py: the command line of these scripts

try:
    import jsonschema
except ImportError:
    sys.exit("report_formats_test.py needs jsonschema: Debian's python3-jsonschema "
             "(tools/setup.sh installs it)")

ARGS = None

# Corpus targets with findings that every SARIF and gitleaks check runs on; targets named
# "multiarch" or "semantics" join them when the corpus has them.
FINDING_TARGETS = ("oci-demo", "docker-archive", "dir-demo")
# Corpus targets whose scan must fail in part (golden.json lists their errors).
ERROR_TARGETS = ("layer-truncated-gz", "oci-broken")

LEVEL_OF_CONFIDENCE = {"high": "error", "medium": "warning", "low": "note"}

# Finding fields of the json report that SARIF results carry as properties, unchanged.
SHARED_PROPERTIES = (
    "target", "image_digest", "platform", "layer_index", "layer_digest", "present_in_final_image",
    "removed_by", "created_by", "secret_redacted", "secret_sha256", "confidence", "validation",
)

GITLEAKS_KEYS = {
    "RuleID": str, "Description": str, "StartLine": int, "EndLine": int, "StartColumn": int,
    "EndColumn": int, "Match": str, "Secret": str, "File": str, "SymlinkFile": str,
    "Commit": str, "Entropy": float, "Author": str, "Email": str, "Date": str, "Message": str,
    "Tags": list, "Fingerprint": str,
}

# RFC 3986: the characters a URI reference may hold, and a scheme. jsonschema checks the "uri"
# and "uri-reference" formats only when the optional rfc3987 package is installed; these checks
# stand in for it otherwise, so that the formats are always checked.
_URI_CHARACTERS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def is_uri_reference(value):
    if not isinstance(value, str):
        return True
    if not _URI_CHARACTERS.fullmatch(value) or value.count("#") > 1:
        return False
    scheme = _SCHEME.match(value)
    rest = value[scheme.end():] if scheme else value
    # In a relative reference, a ':' in the first segment would make it a scheme.
    if not scheme and ":" in re.split(r"[/?#]", rest, maxsplit=1)[0]:
        return False
    if rest.startswith("//"):
        rest = rest[2 + len(re.split(r"[/?#]", rest[2:], maxsplit=1)[0]):]
    # Brackets belong to an authority's IP literal only.
    return "[" not in rest and "]" not in rest


def is_uri(value):
    return not isinstance(value, str) or (bool(_SCHEME.match(value)) and is_uri_reference(value))


def run(*args, codes=None):
    proc = subprocess.run([ARGS.binary, *args], capture_output=True, timeout=300)
    if codes is not None and proc.returncode not in codes:
        raise AssertionError(f"exit {proc.returncode} for {args}\n"
                             f"stdout:{proc.stdout[-2000:]!r}\nstderr:{proc.stderr[-2000:]!r}")
    return proc


def scan(fmt, *args, codes=(0, 1, 3)):
    """The report of `layersift scan --format fmt`, parsed, and the exit code."""
    proc = run("scan", "--quiet", "--format", fmt, *args, codes=codes)
    return json.loads(proc.stdout), proc.returncode


def golden():
    with open(os.path.join(ARGS.corpus, "golden.json")) as f:
        return json.load(f)


def target(name):
    return golden()["targets"][name].replace("OUTDIR", ARGS.corpus)


def finding_target_names():
    names = list(FINDING_TARGETS)
    names += [n for n in golden()["targets"] if ("multiarch" in n or "semantics" in n)
              and n not in names]
    return names


def sarif_validator():
    path = os.path.join(ARGS.source, "tests", "data", "third_party", "sarif",
                        "sarif-schema-2.1.0.json")
    with open(path) as f:
        schema = json.load(f)
    # The schema declares draft-04; validate with the draft it is written in.
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = jsonschema.FormatChecker()  # every format this jsonschema installation knows
    for name, check in (("uri", is_uri), ("uri-reference", is_uri_reference)):
        if name not in checker.checkers:
            checker.checks(name)(check)
    return cls(schema, format_checker=checker)


def strings_in(value):
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def position_after(line, column, data):
    """The 1-based line and column (in bytes) just past `data` when it starts at line:column."""
    if b"\n" not in data:
        return line, column + len(data)
    return line + data.count(b"\n"), len(data) - data.rindex(b"\n")


def utf8(text):
    return text.encode("utf-8", "surrogateescape")


def shannon_entropy(text):
    data = utf8(text)
    counts = [data.count(bytes([b])) for b in set(data)]
    return -sum(c / len(data) * math.log2(c / len(data)) for c in counts)


def sha256(text):
    return hashlib.sha256(utf8(text)).hexdigest()


class ReportFormatsTest(unittest.TestCase):
    """Scans run once per class: the same targets in every format, with and without secrets."""

    @classmethod
    def setUpClass(cls):
        cls.validator = sarif_validator()
        cls.targets = [target(n) for n in finding_target_names()]
        cls.json_doc, cls.json_code = scan("json", *cls.targets)
        cls.json_shown, _ = scan("json", "--show-secrets", *cls.targets)
        cls.sarif, cls.sarif_code = scan("sarif", *cls.targets)
        cls.sarif_shown, _ = scan("sarif", "--show-secrets", *cls.targets)
        cls.gitleaks, cls.gitleaks_code = scan("gitleaks-json", *cls.targets)
        cls.gitleaks_shown, _ = scan("gitleaks-json", "--show-secrets", *cls.targets)

    def assert_valid_sarif(self, log):
        errors = sorted(self.validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        self.assertFalse(errors, "\n".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]))

    def assert_no_raw_secrets(self, doc, findings, raw_secrets, what):
        hashes = {f["secret_sha256"] for f in findings}
        for s in strings_in(doc):
            self.assertNotIn(sha256(s), hashes, f"a raw secret is a whole string in {what}")
            for secret in raw_secrets:
                # Short secrets could occur in other text by chance; the corpus' are longer.
                if len(secret) >= 8:
                    self.assertNotIn(secret, s, f"a raw secret is inside a string in {what}")

    def test_corpus_has_findings_in_every_target(self):
        findings = self.json_doc["findings"]
        self.assertEqual(self.json_code, 1)
        for spec in self.targets:
            self.assertTrue(any(f["target"] == spec for f in findings), spec)
        self.assertEqual(len(self.json_shown["findings"]), len(findings))

    # --- SARIF --------------------------------------------------------------------------------

    def test_sarif_validates_against_the_schema(self):
        self.assert_valid_sarif(self.sarif)
        self.assert_valid_sarif(self.sarif_shown)
        self.assertEqual(self.sarif_code, self.json_code)
        self.assertEqual(self.sarif["version"], "2.1.0")
        self.assertEqual(self.sarif["$schema"], "https://json.schemastore.org/sarif-2.1.0.json")
        self.assertEqual(len(self.sarif["runs"]), 1)
        run_ = self.sarif["runs"][0]
        self.assertEqual(run_["tool"]["driver"]["name"], "layersift")
        self.assertEqual(run_["tool"]["driver"]["version"], self.json_doc["version"])
        self.assertEqual(run_["properties"]["rule_set_hash"], self.json_doc["rule_set_hash"])
        self.assertEqual(len(run_["invocations"]), 1)
        self.assertTrue(run_["invocations"][0]["executionSuccessful"])
        # No errors here; a skip (an archive nested too deep, say) is a warning.
        notes = run_["invocations"][0]["toolExecutionNotifications"]
        self.assertEqual([n["level"] for n in notes], ["warning"] * len(self.json_doc["skipped"]))

    def test_schema_check_catches_a_broken_log(self):
        # The validator is worth something only if it rejects what the schema forbids.
        broken = json.loads(json.dumps(self.sarif))
        broken["runs"][0]["results"][0]["level"] = "critical"
        self.assertTrue(list(self.validator.iter_errors(broken)))
        broken = json.loads(json.dumps(self.sarif))
        broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
            "uri"] = "config:Env[3]"
        self.assertTrue(list(self.validator.iter_errors(broken)))

    def test_sarif_results_match_json_findings_one_to_one(self):
        run_ = self.sarif["runs"][0]
        rules = run_["tool"]["driver"]["rules"]
        results = run_["results"]
        findings = self.json_doc["findings"]
        shown = self.json_shown["findings"]
        self.assertEqual(len(results), len(findings))
        self.assertTrue(results)
        for r, f, s in zip(results, findings, shown):
            where = f"{f['target']} {f['layer_index']} {f['path']}"
            self.assertEqual(r["ruleId"], f["rule_id"], where)
            self.assertEqual(rules[r["ruleIndex"]]["id"], f["rule_id"], where)
            self.assertEqual(r["level"], LEVEL_OF_CONFIDENCE[f["confidence"]], where)
            self.assertEqual(r["partialFingerprints"]["layersift/v1"], f["fingerprint"], where)
            self.assertEqual(r["partialFingerprints"]["secretSha256/v1"], f["secret_sha256"])
            for key in SHARED_PROPERTIES:
                self.assertIn(key, f, f"the json report lacks {key}")
                self.assertEqual(r["properties"][key], f[key], f"{where}: {key}")
            self.assertEqual(len(r["locations"]), 1)
            physical = r["locations"][0]["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            self.assertFalse(_SCHEME.match(uri), f"{uri} is not a relative reference")
            self.assertEqual(urllib.parse.unquote(uri), f["path"], where)
            region = physical["region"]
            self.assertEqual((region["startLine"], region["startColumn"]), (f["line"], f["column"]))
            self.assertEqual(region["byteOffset"], f["offset"], where)
            self.assertEqual(region["byteLength"], len(utf8(s["secret"])), where)
            self.assertEqual((region["endLine"], region["endColumn"]),
                             position_after(f["line"], f["column"], utf8(s["secret"])), where)
            self.assertIn(f["rule_name"], r["message"]["text"])
            self.assertIn(f["path"], r["message"]["text"])
            self.assertIn(f["secret_redacted"], r["message"]["text"])
            self.assertNotIn("snippet", region)
        # The paths that a URI cannot hold as they are: image config virtual files
        # ("config:Env[1]") and archive members ("app.jar!BOOT-INF/...") when the corpus has them.
        if any("semantics" in name for name in finding_target_names()):
            self.assertTrue(any(f["path"].startswith("config:") for f in findings))
            self.assertTrue(any("!" in f["path"] for f in findings))
        # Multi-line secrets (PEM keys) end on a later line.
        self.assertTrue(any(r["locations"][0]["physicalLocation"]["region"]["endLine"]
                            > r["locations"][0]["physicalLocation"]["region"]["startLine"]
                            for r in results))

    def test_sarif_rules_are_those_with_results(self):
        run_ = self.sarif["runs"][0]
        rules = run_["tool"]["driver"]["rules"]
        ids = [r["id"] for r in rules]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(ids), {f["rule_id"] for f in self.json_doc["findings"]})
        names = {f["rule_id"]: (f["rule_name"], f["kind"], f["vendor"])
                 for f in self.json_doc["findings"]}
        for rule in rules:
            name, kind, vendor = names[rule["id"]]
            self.assertEqual(rule["name"], name)
            self.assertEqual(rule["shortDescription"]["text"], name)
            self.assertIn(rule["defaultConfiguration"]["level"], LEVEL_OF_CONFIDENCE.values())
            self.assertEqual(rule["properties"]["kind"], kind)
            self.assertEqual(rule["properties"]["vendor"], vendor)
            self.assertIn(rule["properties"]["confidence"], LEVEL_OF_CONFIDENCE)
            self.assertIn("security", rule["properties"]["tags"])
            if "fullDescription" in rule:
                self.assertTrue(rule["fullDescription"]["text"])
                self.assertTrue(rule["help"]["text"].startswith(rule["fullDescription"]["text"]))
        self.assertTrue(any("fullDescription" in rule for rule in rules))

    def test_sarif_never_holds_raw_secrets_unless_asked(self):
        raw = [f["secret"] for f in self.json_shown["findings"]]
        self.assert_no_raw_secrets(self.sarif, self.json_doc["findings"], raw, "sarif")
        results = self.sarif_shown["runs"][0]["results"]
        self.assertEqual(len(results), len(raw))
        for r, f in zip(results, self.json_shown["findings"]):
            region = r["locations"][0]["physicalLocation"]["region"]
            self.assertEqual(region["snippet"]["text"], f["secret"])
            self.assertIn(f["secret"], r["message"]["text"])
            self.assertEqual(r["properties"]["created_by"], f["created_by"])

    def test_sarif_with_errors_and_skips(self):
        for name in ERROR_TARGETS:
            self.assertIn(name, golden()["targets"])
        specs = [target(n) for n in ERROR_TARGETS]
        with tempfile.TemporaryDirectory() as tmp:
            layer = self.archive_layer(tmp)
            args = ["--max-archive-depth", "1", *specs, f"layer:{layer}"]
            doc, code = scan("json", *args)
            log, sarif_code = scan("sarif", *args)
        self.assert_valid_sarif(log)
        self.assertEqual((code, sarif_code), (3, 3))
        self.assertTrue(doc["errors"])
        self.assertTrue(doc["skipped"], "the nested zip deeper than --max-archive-depth")
        invocation = log["runs"][0]["invocations"][0]
        self.assertFalse(invocation["executionSuccessful"])
        notes = invocation["toolExecutionNotifications"]
        errors = [n for n in notes if n["level"] == "error"]
        warnings = [n for n in notes if n["level"] == "warning"]
        self.assertEqual(len(notes), len(errors) + len(warnings))
        self.assertEqual(len(errors), len(doc["errors"]))
        for n, e in zip(errors, doc["errors"]):
            self.assertIn(e["message"], n["message"]["text"])
            self.assertIn(e["target"], n["message"]["text"])
            for key in ("target", "image_digest", "layer_index", "layer_digest"):
                self.assertEqual(n["properties"][key], e[key], key)
        for expected in golden()["expected_errors"]:
            if expected["target"] in ERROR_TARGETS:
                self.assertTrue(any(
                    n["properties"]["target"] == target(expected["target"])
                    and n["properties"]["layer_index"] == expected["layer_index"]
                    and expected["contains"] in n["message"]["text"] for n in errors), expected)
        self.assertEqual(len(warnings), len(doc["skipped"]))
        for n, s in zip(warnings, doc["skipped"]):
            self.assertIn(s["reason"], n["message"]["text"])
            self.assertEqual(n["properties"]["path"], s["path"])
            uri = n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            self.assertEqual(urllib.parse.unquote(uri), s["path"])
        # Findings in archive members ("outer.zip!.env") get URIs that still read back as the path.
        results = log["runs"][0]["results"]
        self.assertEqual(len(results), len(doc["findings"]))
        member_paths = [f["path"] for f in doc["findings"] if "!" in f["path"]]
        self.assertTrue(member_paths)
        for r, f in zip(results, doc["findings"]):
            uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            self.assertEqual(urllib.parse.unquote(uri), f["path"])

    def archive_layer(self, tmp):
        """A layer whose zip holds a file with secrets (from dir-demo) and a zip in a zip: with
        --max-archive-depth 1 the innermost one is skipped."""
        dir_demo = target("dir-demo").split(":", 1)[1]
        secrets = next(f for f in self.json_doc["findings"]
                       if f["target"] == target("dir-demo") and "/" not in f["path"])["path"]
        with open(os.path.join(dir_demo, secrets), "rb") as f:
            secret_file = f.read()
        inner, middle, outer = io.BytesIO(), io.BytesIO(), io.BytesIO()
        with zipfile.ZipFile(inner, "w") as z:
            z.writestr("deep.txt", b"nothing here\n")
        with zipfile.ZipFile(middle, "w") as z:
            z.writestr("inner.zip", inner.getvalue())
        with zipfile.ZipFile(outer, "w") as z:
            z.writestr(secrets, secret_file)
            z.writestr("middle.zip", middle.getvalue())
        path = os.path.join(tmp, "archive-layer.tar")
        with tarfile.open(path, "w") as t:
            info = tarfile.TarInfo("app/bundle.zip")
            info.size = len(outer.getvalue())
            t.addfile(info, io.BytesIO(outer.getvalue()))
        return path

    # --- gitleaks -----------------------------------------------------------------------------

    def test_gitleaks_report_shape_and_values(self):
        report, findings = self.gitleaks, self.json_doc["findings"]
        shown = self.json_shown["findings"]
        self.assertEqual(self.gitleaks_code, self.json_code)
        self.assertIsInstance(report, list)
        self.assertEqual(len(report), len(findings))
        self.assertTrue(report)
        for g, f, s in zip(report, findings, shown):
            where = f"{f['target']} {f['layer_index']} {f['path']}"
            self.assertEqual(set(g), set(GITLEAKS_KEYS), where)
            for key, kind in GITLEAKS_KEYS.items():
                self.assertIsInstance(g[key], kind, f"{where}: {key}")
                if kind is int:
                    self.assertNotIsInstance(g[key], bool, key)
            self.assertTrue(all(isinstance(t, str) for t in g["Tags"]))
            self.assertEqual(g["RuleID"], f["rule_id"], where)
            self.assertEqual(g["Description"], f["rule_name"], where)
            self.assertEqual(g["File"], f["path"], where)
            self.assertEqual((g["StartLine"], g["StartColumn"]), (f["line"], f["column"]), where)
            # gitleaks' end column is that of the secret's last byte.
            last = position_after(f["line"], f["column"], utf8(s["secret"])[:-1])
            self.assertEqual((g["EndLine"], g["EndColumn"]), last, where)
            self.assertEqual(g["Secret"], f["secret_redacted"], where)
            self.assertEqual(g["Match"], f["secret_redacted"], where)
            self.assertEqual(g["Fingerprint"], f["fingerprint"], where)
            self.assertAlmostEqual(g["Entropy"], shannon_entropy(s["secret"]), places=5)
            self.assertEqual(g["Message"], f["created_by"] or "", where)
            if f["layer_index"] is not None:
                self.assertEqual(g["Commit"], f["layer_digest"], where)
            elif f["image_digest"] is None:
                self.assertEqual(g["Commit"], "", where)  # a directory
            else:
                self.assertTrue(g["Commit"].startswith("sha256:"), where)  # the image config
        self.assertTrue(any(g["Tags"] for g in report))

    def test_gitleaks_secrets_only_when_asked(self):
        raw = [f["secret"] for f in self.json_shown["findings"]]
        self.assert_no_raw_secrets(self.gitleaks, self.json_doc["findings"], raw, "gitleaks-json")
        self.assertEqual(len(self.gitleaks_shown), len(raw))
        for g, secret in zip(self.gitleaks_shown, raw):
            self.assertEqual(g["Secret"], secret)
            self.assertEqual(g["Match"], secret)

    def test_gitleaks_report_of_a_failed_scan_is_still_an_array(self):
        report, code = scan("gitleaks-json", target("oci-broken"))
        doc, _ = scan("json", target("oci-broken"))
        self.assertEqual(code, 3)
        self.assertTrue(doc["errors"])
        self.assertIsInstance(report, list)
        self.assertEqual(len(report), len(doc["findings"]))

    # --- the flag -----------------------------------------------------------------------------

    def test_unknown_format_exits_2(self):
        proc = run("scan", "--format", "bogus", target("dir-demo"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"bogus", proc.stderr)
        self.assertEqual(proc.stdout, b"")
        help_text = run("scan", "--help", codes=[0]).stdout
        self.assertIn(b"sarif", help_text)
        self.assertIn(b"gitleaks-json", help_text)


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
