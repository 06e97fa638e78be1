#!/usr/bin/env python3
"""End-to-end tests of the layersift command line against the generated corpus.

Run by ctest as: cli_test.py --binary build/layersift --corpus build/corpus --source .
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import cli_harness  # tests/cli_harness.py: the command line of these scripts

ARGS = None
FINDING_FIELDS = {
    "rule_id", "rule_name", "kind", "target", "image_digest", "platform", "layer_index",
    "layer_digest", "path", "line", "column", "offset", "secret_redacted", "secret_sha256",
    "fingerprint", "vendor", "confidence", "validation", "present_in_final_image", "removed_by",
    "created_by",
}


def run(*args, check_codes=None, cwd=None):
    proc = subprocess.run([ARGS.binary, *args], capture_output=True, text=True, timeout=300, cwd=cwd)
    if check_codes is not None and proc.returncode not in check_codes:
        raise AssertionError(f"exit {proc.returncode} for {args}\nstdout:{proc.stdout[-2000:]}\n"
                             f"stderr:{proc.stderr[-2000:]}")
    return proc


def golden():
    with open(os.path.join(ARGS.corpus, "golden.json")) as f:
        return json.load(f)


def target(name):
    return golden()["targets"][name].replace("OUTDIR", ARGS.corpus)


class CliTest(unittest.TestCase):
    def scan_json(self, *args, codes=(0, 1, 3)):
        proc = run("scan", "--quiet", "--format", "json", *args, check_codes=codes)
        return proc.returncode, json.loads(proc.stdout)

    def test_help_explains_targets_and_exit_codes(self):
        proc = run("scan", "--help", check_codes=[0])
        for text in ("oci:DIR", "docker-archive:FILE", "layer:FILE", "dir:PATH", "Exit codes",
                     "--max-memory", "--exclude-path", "--show-secrets"):
            self.assertIn(text, proc.stdout)

    def test_usage_errors_exit_2(self):
        self.assertEqual(run("scan").returncode, 2)
        self.assertEqual(run("scan", "--bogus", "x").returncode, 2)
        self.assertEqual(run("scan", "--engine", "grep", "x").returncode, 2)
        proc = run("scan", "--max-memory", "lots", target("layer-gz"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--max-memory", proc.stderr)
        proc = run("scan", "--max-memory", "1MiB", target("layer-gz"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("at least 32MiB", proc.stderr)
        proc = run("scan", "--exclude-path", "(unclosed", target("layer-gz"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("(unclosed", proc.stderr)

    def test_bad_rule_file_is_named(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("rules:\n  - id: x\n    name: X\n    kind: k\n    pattern: '(?P<secret>[a'\n"
                    "    keywords: [a]\n")
        try:
            proc = run("scan", "--rules", f.name, target("layer-gz"))
            self.assertEqual(proc.returncode, 2)
            self.assertIn(f.name, proc.stderr)
            self.assertIn("'x'", proc.stderr)
        finally:
            os.unlink(f.name)

    def test_json_document_and_redaction(self):
        code, doc = self.scan_json(target("oci-demo"))
        self.assertEqual(code, 1)
        self.assertEqual(set(doc), {"version", "schema_version", "rule_set_hash", "targets", "findings",
                                    "errors", "skipped", "stats"})
        self.assertTrue(doc["findings"])
        for finding in doc["findings"]:
            self.assertTrue(FINDING_FIELDS <= set(finding), FINDING_FIELDS - set(finding))
            self.assertNotIn("secret", finding)
            self.assertIn("\u2026", finding["secret_redacted"])
            self.assertEqual(len(finding["secret_sha256"]), 64)
            self.assertIsInstance(finding["layer_index"], int)
            self.assertTrue(finding["layer_digest"].startswith("sha256:"))
            self.assertTrue(finding["image_digest"].startswith("sha256:"))
            self.assertEqual(finding["platform"], "linux/amd64")
            self.assertGreaterEqual(finding["line"], 1)
            self.assertGreaterEqual(finding["column"], 1)
        # No raw secret anywhere in the default outputs.
        _, shown = self.scan_json("--show-secrets", target("oci-demo"))
        secrets = {f["secret"] for f in shown["findings"]}
        self.assertEqual(len(shown["findings"]), len(doc["findings"]))
        for fmt in ("json", "jsonl", "text"):
            out = run("scan", "--quiet", "--format", fmt, target("oci-demo"), check_codes=[1]).stdout
            for secret in secrets:
                self.assertNotIn(secret, out, f"raw secret in {fmt} output")

    def test_jsonl_streams_findings_errors_and_stats(self):
        proc = run("scan", "--quiet", "--format", "jsonl", target("oci-broken"), check_codes=[3])
        records = [json.loads(line) for line in proc.stdout.splitlines()]
        types = [r["type"] for r in records]
        self.assertIn("finding", types)
        self.assertIn("error", types)
        self.assertEqual(types[-1], "stats")
        self.assertEqual(types, sorted(types, key=["finding", "error", "stats"].index))

    def test_broken_layers_exit_3_and_keep_other_findings(self):
        code, doc = self.scan_json(target("oci-broken"))
        self.assertEqual(code, 3)
        self.assertTrue(doc["findings"])
        self.assertGreaterEqual(len(doc["errors"]), 2)
        for error in doc["errors"]:
            self.assertEqual(error["target"], target("oci-broken"))
            self.assertIsInstance(error["layer_index"], int)
            self.assertTrue(error["layer_digest"].startswith("sha256:"))
            self.assertTrue(error["message"])
        text = run("scan", "--quiet", target("oci-broken"), check_codes=[3]).stdout
        self.assertIn("layer 1", text)
        self.assertIn("Errors", text)

    def test_missing_target_is_reported_and_others_still_scanned(self):
        code, doc = self.scan_json(target("layer-gz"), "/nonexistent/image.tar")
        self.assertEqual(code, 3)
        self.assertTrue(doc["findings"])
        self.assertTrue(any("/nonexistent/image.tar" in e["message"] for e in doc["errors"]))

    def test_bare_paths_are_recognised_by_content(self):
        for name in ("oci-demo", "docker-archive", "layer-gz", "layer-zst", "layer-tar", "dir-demo"):
            spec = target(name)
            bare = spec.split(":", 1)[1]
            if name == "oci-demo":
                bare = bare.rsplit(":", 1)[0]  # the tag belongs to the oci: form
            _, explicit = self.scan_json(spec)
            _, sniffed = self.scan_json(bare)
            self.assertEqual(sniffed["targets"][0]["kind"], explicit["targets"][0]["kind"], name)
            strip = lambda doc: [(f["layer_index"], f["path"], f["rule_id"], f["secret_sha256"])
                                 for f in doc["findings"]]
            self.assertEqual(strip(sniffed), strip(explicit), name)

    def test_unknown_transport_and_tag_are_explained(self):
        proc = run("scan", "--quiet", "containers-storage:x", check_codes=[3])
        self.assertIn("unknown transport", proc.stdout)
        self.assertIn("docker://", proc.stdout)  # the transports there are, listed
        oci = target("oci-demo").rsplit(":", 1)[0]
        proc = run("scan", "--quiet", oci + ":nosuchtag", check_codes=[3])
        self.assertIn("tag 'nosuchtag' not found", proc.stdout)
        self.assertIn("demo", proc.stdout)

    def test_clean_directory_exits_0(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            proc = run("scan", "--quiet", "dir:" + d, check_codes=[0])
            self.assertIn("0 findings", proc.stdout)

    def test_findings_exit_code(self):
        demo, broken = target("oci-demo"), target("oci-broken")
        code, doc = self.scan_json("--findings-exit-code", "0", demo, codes=[0])
        self.assertTrue(doc["findings"])  # the report is the same; only the exit code changes
        self.assertEqual(run("scan", "--quiet", "--findings-exit-code", "7", demo).returncode, 7)
        self.assertEqual(run("scan", "--quiet", "--findings-exit-code", "255", demo).returncode, 255)
        self.assertEqual(run("scan", "--quiet", demo).returncode, 1)
        # No findings (none there, or none left after the exclusions): 0 whatever the code.
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            self.assertEqual(run("scan", "--quiet", "--findings-exit-code", "7", "dir:" + d).returncode, 0)
        self.assertEqual(run("scan", "--quiet", "--findings-exit-code", "7", "--exclude-path", ".", demo).returncode, 0)
        # Incomplete (a corrupt layer) stays 3, findings or not.
        for value in ("0", "7"):
            code, doc = self.scan_json("--findings-exit-code", value, broken, codes=[3])
            self.assertTrue(doc["findings"])
            self.assertTrue(doc["errors"])
        # Out of range or not a number: usage error.
        for value in ("256", "-1", "x", ""):
            with self.subTest(value=value):
                proc = run("scan", "--quiet", "--findings-exit-code", value, demo)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("--findings-exit-code", proc.stderr)
        self.assertIn("--findings-exit-code", run("scan", "--help", check_codes=[0]).stdout)
        self.assertIn("N instead with --findings-exit-code N", run("--help", check_codes=[0]).stdout)

    def test_report_findings_exit_code(self):
        with tempfile.TemporaryDirectory() as d:
            found, broken, clean = (os.path.join(d, name + ".db") for name in ("found", "broken", "clean"))
            # The run's recorded exit status is the one the scan exited with.
            run("scan", "--quiet", "--state", found, "--findings-exit-code", "7", target("oci-demo"),
                check_codes=[7])
            status = json.loads(run("status", "--state", found, "--format", "json", check_codes=[0]).stdout)
            self.assertEqual(status["last_run_exit_status"], 7)
            report = lambda state, *args: run("report", "--quiet", "--state", state, *args)
            self.assertEqual(report(found).returncode, 1)
            proc = report(found, "--findings-exit-code", "0", "--format", "json")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(json.loads(proc.stdout)["findings"])
            self.assertEqual(report(found, "--findings-exit-code", "7").returncode, 7)
            # Findings filtered away: 0.
            self.assertEqual(report(found, "--findings-exit-code", "7", "--rule", "no-such-rule").returncode, 0)
            with open(os.path.join(d, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            run("scan", "--quiet", "--state", clean, "dir:" + d, check_codes=[0])
            self.assertEqual(report(clean, "--findings-exit-code", "7").returncode, 0)
            # A layer with no complete scan: incomplete, 3.
            run("scan", "--quiet", "--state", broken, target("oci-broken"), check_codes=[3])
            for value in ("0", "7"):
                self.assertEqual(report(broken, "--findings-exit-code", value).returncode, 3)
            for value in ("256", "-1", "x"):
                with self.subTest(value=value):
                    proc = report(found, "--findings-exit-code", value)
                    self.assertEqual(proc.returncode, 2, proc.stderr)
                    self.assertIn("--findings-exit-code", proc.stderr)
            self.assertIn("--findings-exit-code", run("report", "--help", check_codes=[0]).stdout)

    def test_exclusions_and_binaries(self):
        _, default = self.scan_json(target("oci-demo"))
        _, everything = self.scan_json("--no-default-excludes", "--scan-binaries", target("oci-demo"))
        self.assertGreater(len(everything["findings"]), len(default["findings"]))
        self.assertGreater(default["stats"]["files_excluded"], 0)
        self.assertGreater(default["stats"]["files_binary_skipped"], 0)
        self.assertEqual(everything["stats"]["files_excluded"], 0)
        self.assertEqual(everything["stats"]["files_binary_skipped"], 0)
        code, none = self.scan_json("--exclude-path", ".", target("oci-demo"), codes=[0])
        self.assertEqual(none["findings"], [])
        # Path exclusions are for paths: the image config's virtual files are still scanned.
        self.assertGreater(none["stats"]["config_files_scanned"], 0)
        self.assertEqual(none["stats"]["files_scanned"], none["stats"]["config_files_scanned"])

    def test_output_file_and_determinism(self):
        with tempfile.TemporaryDirectory() as d:
            outputs = []
            for threads in ("1", "2", "4"):
                path = os.path.join(d, f"t{threads}.json")
                run("scan", "--quiet", "--format", "json", "--threads", threads, "-o", path,
                    target("oci-demo"), target("docker-archive"), target("layer-zst"), check_codes=[1])
                with open(path) as f:
                    outputs.append(json.load(f)["findings"])
            self.assertEqual(outputs[0], outputs[1])
            self.assertEqual(outputs[0], outputs[2])

    def test_text_report_and_stats(self):
        proc = run("scan", "--stats", target("layer-gz"), check_codes=[1])
        self.assertIn("Stages", proc.stdout)
        self.assertIn("redacted", proc.stdout)
        self.assertRegex(proc.stdout, r"\d+ findings? \(\d+ distinct secrets?\), 0 errors, 0 skipped")

    def test_rules_list_and_check(self):
        listing = run("rules", "list", check_codes=[0]).stdout.splitlines()
        self.assertGreaterEqual(len(listing), 20)
        for engine in ("vectorscan", "re2"):
            self.assertIn("0 failures", run("rules", "check", "--engine", engine, check_codes=[0]).stdout)

    def test_rules_check_reports_a_failing_example(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("rules:\n  - id: weak\n    name: Weak\n    kind: k\n"
                    "    pattern: 'weak_(?P<secret>[0-9]{4})'\n    keywords: [weak_]\n"
                    "    examples: ['weak_12']\n    negative_examples: ['weak_1234']\n")
        try:
            proc = run("rules", "check", "--no-builtin-rules", "--rules", f.name, check_codes=[1])
            self.assertIn("does not fire on its example", proc.stdout)
            self.assertIn("fires on its negative example", proc.stdout)
        finally:
            os.unlink(f.name)

    def test_rules_check_files_on_both_engines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("rules:\n  - id: exact\n    name: Exact\n    kind: k\n"
                    "    pattern: 'ex_(?P<secret>[0-9]{4})'\n    keywords: [ex_]\n"
                    "    examples: [{text: 'ex_1234', secret: 'ex_1234'}]\n"
                    "    negative_examples: ['ex_12']\n")
        try:
            proc = run("rules", "check", f.name, check_codes=[1])
            self.assertIn("FAIL [vectorscan] exact: reports", proc.stdout)
            self.assertIn("FAIL [re2] exact: reports", proc.stdout)
            self.assertIn("1 rules", proc.stdout)  # only the file's rule, not the built-in set
        finally:
            os.unlink(f.name)

    def test_rules_list_json_and_the_builtin_set(self):
        rules = json.loads(run("rules", "list", "--format", "json", check_codes=[0]).stdout)
        self.assertGreaterEqual(len(rules), 150)
        ids = [r["id"] for r in rules]
        self.assertEqual(len(ids), len(set(ids)))
        for r in rules:
            self.assertTrue({"id", "name", "kind", "vendor", "confidence", "enabled"} <= set(r))
            self.assertIn(r["confidence"], ("high", "medium", "low"))
            self.assertTrue(r["vendor"], r["id"])
        by_kind = {}
        for r in rules:
            by_kind.setdefault(r["kind"], []).append(r)
        # The generic (vendor-less) password and high-entropy rules exist and are off by default;
        # structured password rules (.netrc, htpasswd, ...) share their kind and are on.
        for kind in ("generic-password", "generic-secret"):
            generic = [r for r in by_kind.get(kind, []) if r["vendor"] == "generic"]
            self.assertTrue(generic, kind)
            self.assertFalse(any(r["enabled"] for r in generic), kind)
        self.assertTrue(all(r["enabled"] for r in by_kind["github"]))

    def test_rule_selection_flags(self):
        code, doc = self.scan_json(target("oci-demo"))
        ids = {f["rule_id"] for f in doc["findings"]}
        chosen = sorted(ids)[0]
        _, only = self.scan_json("--only-rules", chosen, target("oci-demo"))
        self.assertTrue(only["findings"])
        self.assertEqual({f["rule_id"] for f in only["findings"]}, {chosen})
        self.assertNotEqual(only["rule_set_hash"], doc["rule_set_hash"])
        _, without = self.scan_json("--disable-rule", chosen, target("oci-demo"))
        self.assertNotIn(chosen, {f["rule_id"] for f in without["findings"]})
        _, generic = self.scan_json("--enable-kind", "generic-password", target("oci-demo"))
        self.assertNotEqual(generic["rule_set_hash"], doc["rule_set_hash"])
        # A repeatable flag takes one value: the target after it is still a target.
        for flag, value in (("--disable-rule", chosen), ("--enable-kind", "generic-password"),
                            ("--rules", os.path.join(ARGS.source, "rules", "builtin", "keys.yaml"))):
            proc = run("scan", "--quiet", "--no-builtin-rules" if flag == "--rules" else "--quiet",
                       flag, value, target("oci-demo"))
            self.assertIn(proc.returncode, (0, 1), (flag, proc.stderr))
        proc = run("scan", "--disable-rule", "no-such-rule", target("oci-demo"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no-such-rule", proc.stderr)
        # The hash is stable across runs and shown in text reports too.
        _, again = self.scan_json(target("oci-demo"))
        self.assertEqual(again["rule_set_hash"], doc["rule_set_hash"])
        self.assertRegex(doc["rule_set_hash"], r"^sha256:[0-9a-f]{64}$")
        text = run("scan", "--quiet", target("oci-demo"), check_codes=[1]).stdout
        self.assertIn("Rule set " + doc["rule_set_hash"][:19], text)

    def test_rules_eval_counts(self):
        # Invented values: one key of the built-in GitHub format (checksum valid) and misses.
        records = [
            {"text": "token: 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", "label": "positive",
             "kind": "github", "vendor": "github"},
            {"text": "token: ghp_notavalidtoken", "label": "positive", "kind": "github",
             "vendor": "github", "synthetic": True},
            {"text": "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "label": "negative",
             "kind": "github", "vendor": "github"},
            {"text": "nothing here", "label": "positive", "kind": "madeup-kind", "vendor": "x"},
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))
        try:
            out = json.loads(run("rules", "eval", "--format", "json", f.name, check_codes=[0]).stdout)
            rows = {r["kind"]: r for r in out["rows"]}
            gh = rows["github"]
            self.assertTrue(gh["covered"])
            self.assertEqual((gh["positives"], gh["detected"]), (1, 1))
            self.assertEqual((gh["synthetic_positives"], gh["synthetic_detected"]), (1, 0))
            self.assertEqual((gh["negatives"], gh["false_alarms"]), (1, 0))
            self.assertFalse(rows["madeup-kind"]["covered"])
            text = run("rules", "eval", f.name, check_codes=[0]).stdout
            self.assertIn("no rule", text)
            self.assertIn("4 examples", text)
        finally:
            os.unlink(f.name)
        proc = run("rules", "eval", "/nonexistent.jsonl")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("/nonexistent.jsonl", proc.stderr)

    def test_rules_profile(self):
        out = json.loads(run("rules", "profile", "--format", "json", target("dir-demo"),
                             check_codes=[0]).stdout)
        self.assertGreater(out["bytes_scanned"], 0)
        confirmed = sum(r["confirmed"] for r in out["rules"])
        self.assertGreater(confirmed, 0)
        for r in out["rules"]:
            self.assertGreaterEqual(r["candidates"], r["confirmed"])
            self.assertGreaterEqual(r["keyword_hits"], r["candidates"])
        # Sorted by confirm time, shares add up to 1.
        times = [r["confirm_seconds"] for r in out["rules"]]
        self.assertEqual(times, sorted(times, reverse=True))
        self.assertAlmostEqual(sum(r["share"] for r in out["rules"]), 1.0, places=3)
        text = run("rules", "profile", target("dir-demo"), check_codes=[0]).stdout
        self.assertIn("candidates", text)

    def test_gitleaks_default_config_imports_and_reports(self):
        config = os.path.join(ARGS.source, "tests", "data", "third_party", "gitleaks", "gitleaks.toml")
        proc = run("scan", "--quiet", "--format", "json", "--no-builtin-rules",
                   "--rules-gitleaks", config, target("dir-demo"), check_codes=[1])
        summary = re.search(r"gitleaks config .*: (\d+) rules loaded, (\d+) skipped", proc.stderr)
        self.assertIsNotNone(summary, proc.stderr)
        loaded, skipped = int(summary.group(1)), int(summary.group(2))
        self.assertGreaterEqual(loaded, 150)
        self.assertEqual(len(re.findall(r"^layersift:   skipped \S+: ", proc.stderr, re.M)), skipped)
        doc = json.loads(proc.stdout)
        self.assertTrue(doc["findings"])
        for finding in doc["findings"]:
            self.assertTrue(finding["rule_id"].startswith("gitleaks."), finding["rule_id"])
            self.assertTrue(FINDING_FIELDS <= set(finding))
        listing = json.loads(run("rules", "list", "--format", "json", "--no-builtin-rules",
                                 "--rules-gitleaks", config, check_codes=[0]).stdout)
        self.assertEqual(len(listing), loaded)
        proc = run("scan", "--rules-gitleaks", "/nonexistent.toml", target("dir-demo"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("/nonexistent.toml", proc.stderr)


class ImageSemanticsCliTest(unittest.TestCase):
    """Platforms, shared layers, presence, attribution, baselines and the grouped text report."""

    def scan_json(self, *args, codes=(0, 1, 3), cwd=None):
        proc = run("scan", "--quiet", "--format", "json", *args, check_codes=codes, cwd=cwd)
        return proc.returncode, json.loads(proc.stdout)

    def test_every_platform_by_default_and_platform_filter(self):
        _, both = self.scan_json(target("oci-multiarch"))
        platforms = {f["platform"] for f in both["findings"]}
        self.assertEqual(platforms, {"linux/amd64", "linux/arm64/v8"})
        _, arm = self.scan_json("--platform", "linux/arm64", target("oci-multiarch"))
        self.assertTrue(arm["findings"])
        self.assertEqual({f["platform"] for f in arm["findings"]}, {"linux/arm64/v8"})
        self.assertEqual(len(arm["findings"]),
                         sum(1 for f in both["findings"] if f["platform"] == "linux/arm64/v8"))
        proc = run("scan", "--quiet", "--platform", "linux/s390x", target("oci-multiarch"))
        self.assertEqual(proc.returncode, 3)
        self.assertIn("linux/amd64", proc.stdout + proc.stderr)
        self.assertIn("linux/arm64/v8", proc.stdout + proc.stderr)

    def test_a_shared_base_layer_is_read_once_and_reported_per_image(self):
        _, doc = self.scan_json(target("oci-multiarch"))
        stats = doc["stats"]
        self.assertEqual(stats["layer_uses"], 4)
        self.assertEqual(stats["blobs_scanned"], 3)
        by_layer = {}
        for f in doc["findings"]:
            by_layer.setdefault((f["layer_digest"], f["path"], f["rule_id"]), set()).add(f["platform"])
        shared = [k for k, v in by_layer.items() if len(v) == 2]
        self.assertTrue(shared, "the base layer's findings should be reported for both platforms")
        # The same image twice in one run: every blob read once.
        _, twice = self.scan_json(target("oci-demo"), target("oci-demo"))
        self.assertEqual(twice["stats"]["blobs_scanned"], twice["stats"]["layer_uses"] // 2)
        _, once = self.scan_json(target("oci-demo"))
        self.assertEqual(len(twice["findings"]), 2 * len(once["findings"]))

    def test_present_only_drops_removed_findings(self):
        _, everything = self.scan_json(target("oci-semantics"))
        removed = [f for f in everything["findings"] if f["present_in_final_image"] is False]
        self.assertTrue(removed)
        for f in removed:
            self.assertIn(f["removed_by"]["reason"], ("whiteout", "opaque-directory", "overwritten"))
            self.assertGreater(f["removed_by"]["layer_index"], f["layer_index"])
        _, present = self.scan_json("--present-only", target("oci-semantics"))
        self.assertEqual(len(present["findings"]), len(everything["findings"]) - len(removed))
        self.assertEqual(present["stats"]["findings_not_present"], len(removed))
        self.assertFalse([f for f in present["findings"] if f["present_in_final_image"] is False])

    def test_config_findings_and_redacted_attribution(self):
        _, doc = self.scan_json(target("oci-semantics"))
        config = [f for f in doc["findings"] if f["path"].startswith(("config:", "history["))]
        self.assertTrue(config)
        for f in config:
            self.assertIsNone(f["layer_index"])
            self.assertIsNone(f["layer_digest"])
            self.assertTrue(f["present_in_final_image"])
        _, shown = self.scan_json("--show-secrets", target("oci-semantics"))
        history_secrets = {f["secret"] for f in shown["findings"] if f["path"].startswith("history[")}
        self.assertTrue(history_secrets)
        attributed = [f["created_by"] for f in doc["findings"] if f["created_by"]]
        shown_attributed = [f["created_by"] for f in shown["findings"] if f["created_by"]]
        self.assertTrue(any(s in c for c in shown_attributed for s in history_secrets))
        for text in attributed:
            for secret in history_secrets:
                self.assertNotIn(secret, text)
        out = run("scan", "--quiet", target("oci-semantics"), check_codes=[1]).stdout
        for secret in {f["secret"] for f in shown["findings"]}:
            self.assertNotIn(secret, out)

    def test_baseline_suppresses_what_it_reported(self):
        with tempfile.TemporaryDirectory() as d:
            baseline = os.path.join(d, "baseline.json")
            run("scan", "--quiet", "--format", "json", "-o", baseline, target("oci-demo"), check_codes=[1])
            with open(baseline) as f:
                count = len(json.load(f)["findings"])
            code, doc = self.scan_json("--baseline", baseline, target("oci-demo"))
            self.assertEqual(code, 0)
            self.assertEqual(doc["findings"], [])
            self.assertEqual(doc["stats"]["findings_suppressed"], count)
            # Another image's findings are not in the baseline.
            code, doc = self.scan_json("--baseline", baseline, target("oci-demo"), target("layer-gz"))
            self.assertEqual(code, 1)
            self.assertTrue(doc["findings"])
            self.assertEqual({f["target"] for f in doc["findings"]}, {target("layer-gz")})
            with open(os.path.join(d, "bad.json"), "w") as f:
                f.write('{"not": "a report"}')
            proc = run("scan", "--baseline", os.path.join(d, "bad.json"), target("layer-gz"))
            self.assertEqual(proc.returncode, 2)
            self.assertIn("bad.json", proc.stderr)

    def test_ignore_files(self):
        _, doc = self.scan_json(target("layer-gz"))
        fingerprints = [f["fingerprint"] for f in doc["findings"]]
        self.assertGreaterEqual(len(fingerprints), 3)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, ".layersiftignore"), "w") as f:
                f.write("# accepted: test fixtures\n\n" + fingerprints[0] + "  # rotated\n"
                        + fingerprints[1] + "\n")
            # Picked up from the working directory...
            _, local = self.scan_json(target("layer-gz"), cwd=d)
            self.assertEqual(local["stats"]["findings_suppressed"], 2)
            self.assertEqual(len(local["findings"]), len(fingerprints) - 2)
            self.assertNotIn(fingerprints[0], {f["fingerprint"] for f in local["findings"]})
            # ... unless told not to; or named explicitly.
            _, off = self.scan_json("--no-ignore-file", target("layer-gz"), cwd=d)
            self.assertEqual(off["stats"]["findings_suppressed"], 0)
            _, named = self.scan_json("--ignore-file", os.path.join(d, ".layersiftignore"), target("layer-gz"))
            self.assertEqual(named["stats"]["findings_suppressed"], 2)
            text = run("scan", "--quiet", target("layer-gz"), cwd=d, check_codes=[1]).stdout
            self.assertIn("2 findings suppressed", text)
            with open(os.path.join(d, "typo"), "w") as f:
                f.write(fingerprints[0] + "\nnot-a-fingerprint\n")
            proc = run("scan", "--ignore-file", os.path.join(d, "typo"), target("layer-gz"))
            self.assertEqual(proc.returncode, 2)
            self.assertIn("typo:2", proc.stderr)

    def test_text_groups_one_secret_found_in_several_places(self):
        _, doc = self.scan_json(target("oci-demo"), target("docker-archive"))
        groups = {}
        for f in doc["findings"]:
            groups.setdefault((f["rule_id"], f["secret_sha256"]), []).append(f)
        self.assertTrue(any(len(g) >= 2 for g in groups.values()))
        text = run("scan", "--quiet", target("oci-demo"), target("docker-archive"), check_codes=[1]).stdout
        headings = re.findall(r"^(\S+)  \S+  .*\((\d+) locations?\)$", text, re.M)
        self.assertEqual(len(headings), len(groups))
        self.assertEqual(sorted(int(n) for _, n in headings), sorted(len(g) for g in groups.values()))
        self.assertIn(f"({len(groups)} distinct secret", text)
        self.assertIn("removed by layer", text)
        self.assertIn("present in the final image", text)
        self.assertIn("created by: ", text)

    def test_nested_archives_and_their_limits_on_the_command_line(self):
        _, doc = self.scan_json(target("oci-semantics"))
        self.assertTrue([f for f in doc["findings"] if "!" in f["path"]])
        self.assertTrue(doc["skipped"])
        for skip in doc["skipped"]:
            self.assertTrue(skip["reason"])
            self.assertEqual(skip["target"], target("oci-semantics"))
        self.assertGreater(doc["stats"]["archives_expanded"], 0)
        _, flat = self.scan_json("--max-archive-depth", "0", target("oci-semantics"))
        self.assertFalse([f for f in flat["findings"] if "!" in f["path"]])
        self.assertEqual(flat["stats"]["archives_expanded"], 0)
        text = run("scan", "--quiet", target("oci-semantics"), check_codes=[1]).stdout
        self.assertIn("Skipped (deliberately not scanned):", text)
        help_text = run("scan", "--help", check_codes=[0]).stdout
        for flag in ("--platform", "--present-only", "--max-archive-depth", "--max-archive-expanded",
                     "--max-archive-ratio", "--max-zip-size", "--baseline", "--ignore-file"):
            self.assertIn(flag, help_text)
        self.assertEqual(run("scan", "--max-archive-expanded", "lots", target("layer-gz")).returncode, 2)


class RulesExportCliTest(unittest.TestCase):
    """`rules export`: the rules as a ripgrep pattern file, proved with the real rg. (That rg finds
    the line of every finding on the built-in examples is proved in regex_export_test.cc, which
    has the examples.)"""

    def rg(self):
        for directory in os.get_exec_path():
            path = os.path.join(directory, "rg")
            if os.access(path, os.X_OK):
                return path
        self.fail("ripgrep (rg) is not installed, so the exported rules cannot be checked "
                  "against it: apt-get install -y ripgrep")

    def run_rg(self, *args):
        return subprocess.run([self.rg(), "--no-config", *args], capture_output=True, text=True,
                              timeout=300)

    def test_help_says_what_rg_gets_and_what_not(self):
        text = " ".join(run("rules", "export", "--help", check_codes=[0]).stdout.split())
        for words in ("rg -U -f FILE", "keywords", "min_entropy", "allowlists", "path scoping",
                      "validation", "superset", "Exit 0", "--output", "--enable-kind"):
            self.assertIn(words, text)

    def test_builtin_rules_export_and_rg_runs_them(self):
        listed = json.loads(run("rules", "list", "--format", "json", check_codes=[0]).stdout)
        enabled = sum(1 for r in listed if r["enabled"])
        with tempfile.TemporaryDirectory() as d:
            patterns = os.path.join(d, "rules.rg")
            proc = run("rules", "export", "--format", "rg", "-o", patterns, check_codes=[0])
            self.assertIn(f"exported {enabled} of {enabled} enabled rules", proc.stderr)
            self.assertIn("rg -U -uu -f " + patterns, proc.stderr)
            with open(patterns) as f:
                lines = f.read().split("\n")
            self.assertEqual(lines.pop(), "")
            self.assertEqual(len(lines), enabled)
            for line in lines:  # an empty line would match everything
                self.assertTrue(line.startswith("(?-u:") and line.endswith(")"), line)
            self.assertEqual(run("rules", "export", check_codes=[0]).stdout,
                             "".join(line + "\n" for line in lines))

            tree = os.path.join(d, "tree")
            os.makedirs(os.path.join(tree, ".config"))
            with open(os.path.join(tree, ".config", "token"), "w") as f:
                f.write("GITHUB_TOKEN=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\n")
            with open(os.path.join(tree, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            found = self.run_rg("-U", "-uu", "-l", "-f", patterns, tree)
            self.assertEqual(found.returncode, 0, found.stderr)
            self.assertEqual(found.stdout.split(), [os.path.join(tree, ".config", "token")])
            # Without -U rg refuses the patterns that hold a newline, as the export says.
            self.assertEqual(self.run_rg("-f", patterns, tree).returncode, 2)
            # The size estimate is not below what rg needs: with it as the limit, rg accepts.
            mib = re.search(r"compiles these patterns to about (\d+) MiB", proc.stderr)
            self.assertIsNotNone(mib, proc.stderr)
            limited = self.run_rg("-U", "--regex-size-limit", mib.group(1) + "M", "-f", patterns,
                                  os.path.join(tree, "readme.txt"))
            self.assertEqual(limited.returncode, 1, limited.stderr)

    def test_gitleaks_default_config_exports_and_rg_accepts_it(self):
        # 208 patterns written for Go's regexp, not by us: rg must accept every translation.
        config = os.path.join(ARGS.source, "tests", "data", "third_party", "gitleaks", "gitleaks.toml")
        with tempfile.TemporaryDirectory() as d:
            patterns = os.path.join(d, "gitleaks.rg")
            proc = run("rules", "export", "--no-builtin-rules", "--rules-gitleaks", config,
                       "-o", patterns, check_codes=[0])
            loaded = re.search(r"(\d+) rules loaded", proc.stderr).group(1)
            self.assertIn(f"exported {loaded} of {loaded} enabled rules", proc.stderr)
            with open(os.path.join(d, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            accepted = self.run_rg("-U", "-f", patterns, os.path.join(d, "readme.txt"))
            self.assertEqual(accepted.returncode, 1, accepted.stderr)

    def write_rules(self, directory, rules):
        path = os.path.join(directory, "rules.yaml")
        with open(path, "w") as f:
            f.write("rules:\n")
            for rule_id, pattern in rules:
                f.write(f"  - id: {rule_id}\n    name: {rule_id}\n    kind: k\n"
                        f"    pattern: '{pattern}'\n    keywords: [tok_]\n")
        return path

    def test_a_rule_that_cannot_be_translated_is_named_and_exit_1(self):
        with tempfile.TemporaryDirectory() as d:
            rules = self.write_rules(d, [("plain", "tok_(?P<secret>[0-9a-f]{8})\\b"),
                                         ("greek", "tok_(?P<secret>\\p{Greek}+)")])
            proc = run("rules", "export", "--no-builtin-rules", "--rules", rules, check_codes=[1])
            self.assertIn("left out greek: \\p{Greek} matches no byte", proc.stderr)
            self.assertIn("exported 1 of 2 enabled rules", proc.stderr)
            self.assertEqual(proc.stdout, "(?-u:tok_(?:[0-9a-f]{8})\\b)\n")
            # The selection flags of `rules list` choose what is exported.
            proc = run("rules", "export", "--no-builtin-rules", "--rules", rules,
                       "--disable-rule", "greek", check_codes=[0])
            self.assertEqual(proc.stdout.count("\n"), 1)
            proc = run("rules", "export", "--no-builtin-rules", "--rules", rules,
                       "--only-rules", "greek", check_codes=[1])
            self.assertEqual(proc.stdout, "")
            self.assertEqual(run("rules", "export", "--format", "json").returncode, 2)

    def test_a_set_too_large_for_rgs_default_gets_the_flag_it_needs(self):
        # Each rule compiles to about 120k RE2 instructions; twelve are estimated over 100 MiB.
        big = "tok_(?P<secret>" + "[a-z0-9]{1000}" * 60 + ")"
        with tempfile.TemporaryDirectory() as d:
            rules = self.write_rules(d, [(f"big-{i}", big.replace("tok_", f"tok_{i}"))
                                         for i in range(12)])
            patterns = os.path.join(d, "big.rg")
            proc = run("rules", "export", "--no-builtin-rules", "--rules", rules, "-o", patterns,
                       check_codes=[0])
            flag = re.search(r"over its default --regex-size-limit of 100 MiB: pass "
                             r"--regex-size-limit (\d+)M", proc.stderr)
            self.assertIsNotNone(flag, proc.stderr)
            self.assertIn(f"rg -U -uu --regex-size-limit {flag.group(1)}M -f {patterns}",
                          proc.stderr)
            with open(os.path.join(d, "readme.txt"), "w") as f:
                f.write("nothing to see here\n")
            accepted = self.run_rg("-U", "--regex-size-limit", flag.group(1) + "M", "-f",
                                   patterns, os.path.join(d, "readme.txt"))
            self.assertEqual(accepted.returncode, 1, accepted.stderr)


if __name__ == "__main__":
    cli_harness.main(sys.modules[__name__])
