#!/usr/bin/env python3
"""Keeps the README's section "Incremental, historical and sharded scans" true.

- Every `layersift` command line of the section (shell blocks, the Kubernetes YAML `command` and
  `args` and scripts, the AWS Batch JSON scripts, the `--container-overrides` of the merge job,
  inline code) names subcommands that the binary has and only flags that
  `layersift SUBCOMMAND --help` lists.
- Findings do not fail the jobs and signals reach layersift: every scan and report of the job
  examples has `--findings-exit-code 0`; the Kubernetes scan container runs `layersift` itself
  (no shell: its args use only $(VAR), which Kubernetes expands), and the scripts run by `sh -c`
  (the AWS Batch scan, both merge steps) start the scan or report last, with `exec`; run with a
  stand-in `layersift`, that process is the shell's own (its PID), which gets the SIGTERM.
- The Kubernetes manifests parse (PyYAML) and hang together: an Indexed Job with completions ==
  parallelism == the N of its `--shard $(JOB_COMPLETION_INDEX)/N`, state files and reports on
  the ReadWriteMany claim, registry credentials from a Secret mounted as `$DOCKER_CONFIG/config.json`,
  and a merge Job on the same claim that merges shards 0..N-1 and reports from the result.
- The AWS Batch job definition parses and hangs together: a container job whose command shards
  by $AWS_BATCH_JOB_ARRAY_INDEX with the N of `--array-properties size=N`, on an EFS volume, with
  a job role; the merge job depends on the array job.
- End to end, with N=2 in a temporary directory: the documented commands are run as Kubernetes
  (which expands $(VAR) in command and args and runs the container's command without a shell)
  and AWS Batch (`sh -c SCRIPT`) would run them, with only the target (corpus OCI layouts instead
  of the perimeter), the mount paths and N substituted, then the documented merge and report.
  Every scan and report must exit 0 although it has findings, both shards must have scanned
  layers (and no layer twice), and the merged report's findings must equal an unsharded `--state`
  scan's and that state file's report (rule_id, image_digest, layer_digest, path, offset;
  fingerprints and presence too). The Kubernetes scan runs once more against a real registry
  (docker-registry on 127.0.0.1, Basic auth) as `registry://HOST --tags all`, with the credentials
  read from a docker config.json shaped as `kubectl create secret docker-registry` makes it.

Run by ctest as: readme_examples_test.py --binary build/layersift --corpus build/corpus --source .
"""
import base64
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import yaml  # Debian python3-yaml (tools/setup.sh)

import cli_harness  # tests/cli_harness.py: the command line of these scripts
from support.registry_fixture import REGISTRY_BINARY, Registry, require_tools

ARGS = None
SECTION = "### Incremental, historical and sharded scans"
LAYOUTS = ("oci-demo", "oci-multiarch", "oci-semantics")
E2E_SHARDS = 2
PERIMETER_FLAGS = re.compile(r"\s--(?:tags|since|include-repo|exclude-repo)\s+\S+|\s--untagged\b")
PERIMETER_OPTIONS = ("--tags", "--since", "--include-repo", "--exclude-repo")  # with a value


# --- the README ---------------------------------------------------------------------------------

def readme_section():
    with open(os.path.join(ARGS.source, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index(SECTION)
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + len(SECTION))
    return text[start:end.start() if end else len(text)]


def code_blocks(text, language=None):
    blocks = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]
    return [body for lang, body in blocks if language is None or lang == language]


def inline_commands(text):
    """`layersift ...` code spans of the prose (outside code blocks)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m.group(1) for m in re.finditer(r"`(layersift [^`]+)`", prose)]


# --- shell command lines ------------------------------------------------------------------------

def shell_commands(script):
    """The simple commands of a shell script, as token lists: lines joined at backslash-newline,
    split at ; & | && ||, comments dropped. A $(command) substitution (not $(NAME), which
    Kubernetes expands) is replaced by a word, so that its options are not taken for those of the
    command around it, and its command follows the line's."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        substitutions = []

        def substitute(match):
            substitutions.append(match.group(1))
            return "SUBSTITUTION"

        line = re.sub(r"\$\((?![A-Za-z_][A-Za-z0-9_]*\))([^()]*)\)", substitute, line)
        for text in [line, *substitutions]:
            lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            command = []
            for token in lexer:
                if set(token) <= set(";&|"):
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(token)
            if command:
                commands.append(command)
    return commands


def layersift_invocations(script):
    """The arguments of every `layersift` command in `script`, and in scripts nested in its
    words (`sh -c '...'`, a JSON `command` array)."""
    found = []
    for command in shell_commands(script):
        for i, token in enumerate(command):
            # the command, not the value of an option (`--job-queue layersift`)
            if os.path.basename(token) == "layersift" and (i == 0 or not command[i - 1].startswith("-")):
                found.append(command[i + 1:])
                break
        for token in command:
            if "layersift " not in token:
                continue
            if token.lstrip().startswith("{"):
                for text in json_strings(json.loads(token)):
                    found += layersift_invocations(text)
            else:
                found += layersift_invocations(token)
    return found


def direct_invocations(value):
    """The arguments of every container of `value` (parsed YAML) whose command is `layersift`
    itself: its `command` after the first word, then its `args`."""
    found = []
    if isinstance(value, dict):
        command = value.get("command")
        if isinstance(command, list) and command and os.path.basename(str(command[0])) == "layersift":
            found.append([str(a) for a in command[1:] + list(value.get("args", []))])
        for item in value.values():
            found += direct_invocations(item)
    elif isinstance(value, list):
        for item in value:
            found += direct_invocations(item)
    return found


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def kubernetes_expand(text, env):
    """$(NAME) as Kubernetes expands it in command and args: the value of a variable of the
    container's environment, else left as it is; $$ is a literal $."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def shard_count(script):
    counts = {int(n) for n in re.findall(r"--shard \S+/(\d+)", script)}
    assert len(counts) == 1, script
    return counts.pop()


def shard_files(script):
    return sorted(int(n) for n in re.findall(r"shard-(\d+)\.db\b", script))


def with_shards(script, n):
    """The script for n shards: --shard I/n, and the merge of shard files 0..n-1 only."""
    script = re.sub(r"(--shard \S+/)\d+", rf"\g<1>{n}", script)
    return re.sub(r"\s+\S*shard-(\d+)\.db(?=\s)", lambda m: "" if int(m.group(1)) >= n else m.group(0), script)


def argv_with_shards(argv, n):
    """with_shards for a command's arguments (a container's command and args)."""
    return [re.sub(r"/\d+$", f"/{n}", a) if i > 0 and argv[i - 1] == "--shard" else a for i, a in enumerate(argv)]


def argv_with_targets(argv, prefix, targets, keep_perimeter_flags=False):
    """The arguments with the target starting with `prefix` replaced by `targets` (several
    arguments), and the perimeter flags dropped unless told to keep them."""
    out, i = [], 0
    while i < len(argv):
        if not keep_perimeter_flags and argv[i] in PERIMETER_OPTIONS:
            i += 2
            continue
        if not keep_perimeter_flags and argv[i] == "--untagged":
            i += 1
            continue
        out += list(targets) if argv[i].startswith(prefix) else [argv[i]]
        i += 1
    return out


def last_command(script):
    """The last simple command of a script, and whether it is run by `exec`."""
    command = shell_commands(script)[-1]
    return (command[1:], True) if command[0] == "exec" else (command, False)


def finding_keys(report):
    return sorted((f["rule_id"], f["image_digest"], f["layer_digest"] or "", f["path"], f["offset"])
                  for f in report["findings"])


def finding_details(report):
    return sorted((f["rule_id"], f["image_digest"], f["layer_digest"] or "", f["path"], f["offset"],
                   f["fingerprint"], str(f["present_in_final_image"]), json.dumps(f["removed_by"]))
                  for f in report["findings"])


# --- the binary's command line ------------------------------------------------------------------

class Cli:
    def __init__(self, binary):
        self.binary = binary
        self._help = {}

    def help(self, path):
        if path not in self._help:
            result = subprocess.run([self.binary, *path, "--help"], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, (path, result.stderr)
            self._help[path] = result.stdout
        return self._help[path]

    def subcommands(self, path):
        text = self.help(path)
        if "Subcommands:" not in text:
            return set()
        block = text.split("Subcommands:", 1)[1]
        return set(re.findall(r"^  ([a-z][a-z0-9-]*)\s", block, re.M))

    def accepts(self, path, flag):
        return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", self.help(path)) is not None


# --- the tests ----------------------------------------------------------------------------------

class ReadmeExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.section = readme_section()
        cls.cli = Cli(ARGS.binary)
        cls.yaml_docs = [doc for block in code_blocks(cls.section, "yaml") for doc in yaml.safe_load_all(block)
                         if doc is not None]
        cls.json_docs = [json.loads(block) for block in code_blocks(cls.section, "json")]
        cls.shell = "\n".join(code_blocks(cls.section, "sh"))
        cls.tmp = tempfile.mkdtemp(prefix="layersift-readme-test-")
        bin_dir = os.path.join(cls.tmp, "bin")
        os.makedirs(bin_dir)
        os.symlink(ARGS.binary, os.path.join(bin_dir, "layersift"))
        # `layersift` of the scripts is the binary under test; no state file outside the test's.
        cls.env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                       XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"), DOCKER_CONFIG=os.path.join(cls.tmp, "no-docker"))
        cls.env.pop("LAYERSIFT_STATE", None)
        cls.reference = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- the manifests -----------------------------------------------------------------------

    def kind(self, kind, predicate=lambda doc: True):
        docs = [d for d in self.yaml_docs if d.get("kind") == kind and predicate(d)]
        self.assertEqual(len(docs), 1, f"one {kind} expected in the README's YAML")
        return docs[0]

    def scan_job(self):
        return self.kind("Job", lambda d: d["spec"].get("completionMode") == "Indexed")

    def merge_job(self):
        return self.kind("Job", lambda d: d["spec"].get("completionMode") != "Indexed")

    @staticmethod
    def container(job):
        containers = job["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1, containers
        return containers[0]

    def script_of(self, container):
        """The script of a container that runs `sh -c SCRIPT`."""
        argv = list(container.get("command", [])) + list(container.get("args", []))
        self.assertEqual(argv[:2], ["sh", "-c"], argv)
        self.assertEqual(len(argv), 3, argv)
        return argv[2]

    def argv_of(self, container):
        """The command line of a container that runs layersift itself, no shell: its `command`
        (["layersift"]) and `args`."""
        self.assertEqual(container.get("command"), ["layersift"], container)
        return ["layersift", *[str(a) for a in container.get("args", [])]]

    def assert_findings_do_not_fail(self, args):
        """A scan's or report's arguments: complete runs with findings exit 0."""
        self.assertIn(args[0], ("scan", "report"), args)
        self.assertEqual(self.option(args, "--findings-exit-code"), "0", args)

    def assert_execs_layersift(self, script, subcommand):
        """A `sh -c` script whose last command is `exec layersift SUBCOMMAND ...` (layersift takes
        the shell's place, so it gets the signals) that does not fail on findings; the other
        commands of the script are no scans or reports."""
        command, execs = last_command(script)
        self.assertTrue(execs, f"not `exec layersift`: {script}")
        self.assertEqual(command[:2], ["layersift", subcommand], script)
        self.assertNotIn("rc=$?", script)
        self.assert_findings_do_not_fail(command[1:])
        for other in shell_commands(script)[:-1]:
            self.assertNotIn("scan", other, script)
            self.assertNotIn("report", other, script)

    def mount_path(self, job, predicate):
        spec = job["spec"]["template"]["spec"]
        names = [v["name"] for v in spec["volumes"] if predicate(v)]
        self.assertEqual(len(names), 1, spec["volumes"])
        mounts = [m["mountPath"] for m in self.container(job)["volumeMounts"] if m["name"] == names[0]]
        self.assertEqual(len(mounts), 1)
        return mounts[0]

    def batch_definition(self):
        docs = [d for d in self.json_docs if "containerProperties" in d]
        self.assertEqual(len(docs), 1, "one AWS Batch job definition expected in the README's JSON")
        return docs[0]

    def batch_commands(self):
        """(submit-job of the array job, submit-job of the merge) from the shell blocks."""
        submits = [c for c in shell_commands(self.shell) if c[:3] == ["aws", "batch", "submit-job"]]
        arrays = [c for c in submits if "--array-properties" in c]
        merges = [c for c in submits if "--depends-on" in c]
        self.assertEqual((len(arrays), len(merges)), (1, 1), submits)
        return arrays[0], merges[0]

    @staticmethod
    def option(command, name):
        for i, token in enumerate(command):
            if token == name:
                return command[i + 1]
            if token.startswith(name + "="):
                return token[len(name) + 1:]
        raise AssertionError(f"{name} not in {command}")

    def batch_merge_script(self):
        _, merge = self.batch_commands()
        overrides = json.loads(self.option(merge, "--container-overrides"))
        self.assertEqual(overrides["command"][:2], ["sh", "-c"])
        return overrides["command"][2]

    def test_every_layersift_command_uses_real_subcommands_and_flags(self):
        scripts = code_blocks(self.section, "sh") + inline_commands(self.section)
        for doc in self.yaml_docs + self.json_docs:
            scripts += [s for s in json_strings(doc) if "layersift " in s]
        invocations = [args for script in scripts for args in layersift_invocations(script)]
        direct = [args for doc in self.yaml_docs for args in direct_invocations(doc)]
        self.assertTrue(direct, "no container runs `layersift` itself")
        invocations += direct
        self.assertGreater(len(invocations), 20)
        used = set()
        for args in invocations:
            with self.subTest(command=" ".join(args)):
                path, i = (), 0
                while i < len(args) and args[i] in self.cli.subcommands(path):
                    path += (args[i],)
                    i += 1
                self.assertTrue(path, f"no subcommand: layersift {' '.join(args)}")
                self.assertFalse(self.cli.subcommands(path), f"no subcommand of {path}: layersift {' '.join(args)}")
                for token in args[i:]:
                    token = token.strip("[]")
                    if re.match(r"-{1,2}[A-Za-z]", token):
                        flag = token.split("=", 1)[0]
                        self.assertTrue(self.cli.accepts(path, flag),
                                        f"`layersift {' '.join(path)} --help` has no {flag}")
                used.add(path)
        self.assertLessEqual({("scan",), ("report",), ("status",), ("merge",), ("ecr", "verify")}, used)

    def test_findings_do_not_fail_the_jobs(self):
        self.assertRegex(self.cli.help(()), r"0 no findings, 1 findings \(N instead with --findings-exit-code N\), "
                                            r"2 usage or rule error, 3 incomplete")
        for path in (("scan",), ("report",)):
            self.assertTrue(self.cli.accepts(path, "--findings-exit-code"), path)
        self.assertNotIn("rc=$?", self.section, "the exit code wrapper is back (the shell keeps SIGTERM from layersift)")
        self.assertIn("--findings-exit-code 0", self.section)
        self.assertIn("terminationGracePeriodSeconds", self.section)
        # every scan and report of the job examples
        job_scripts = [self.script_of(self.container(self.merge_job())), self.batch_definition()["containerProperties"]["command"][2],
                       self.batch_merge_script()]
        invocations = [args for script in job_scripts for args in layersift_invocations(script)]
        invocations += direct_invocations(self.scan_job())
        jobs = [args for args in invocations if args[0] in ("scan", "report")]
        self.assertEqual(len(jobs), 4, invocations)
        for args in jobs:
            with self.subTest(command=" ".join(args)):
                self.assert_findings_do_not_fail(args)

    def test_signals_reach_layersift(self):
        """The Kubernetes scan runs layersift as the container's command; each `sh -c` script
        ends with `exec layersift`: a stand-in layersift that logs its PID must have the PID of
        the shell that ran the script (which was the container's first process)."""
        scan = self.container(self.scan_job())
        argv = self.argv_of(scan)
        for arg in argv:
            self.assertNotRegex(arg, r"\$(?!\()|[;&|`'\"]", f"shell syntax in args, with no shell: {arg}")
        self.assert_findings_do_not_fail(argv[1:])
        scripts = {"batch scan": (self.batch_definition()["containerProperties"]["command"][2], "scan"),
                   "kubernetes merge": (self.script_of(self.container(self.merge_job())), "report"),
                   "batch merge": (self.batch_merge_script(), "report")}
        stub_dir = os.path.join(self.tmp, "stub")
        os.makedirs(stub_dir, exist_ok=True)
        log = os.path.join(stub_dir, "log")
        with open(os.path.join(stub_dir, "layersift"), "w") as f:
            f.write('#!/bin/sh\necho "$$ $1" >> "$STUB_LOG"\n')
        os.chmod(os.path.join(stub_dir, "layersift"), 0o755)
        for name, (script, subcommand) in scripts.items():
            with self.subTest(script=name):
                self.assert_execs_layersift(script, subcommand)
                if os.path.exists(log):
                    os.unlink(log)
                env = dict(self.env, PATH=stub_dir + os.pathsep + self.env["PATH"], STUB_LOG=log,
                           AWS_BATCH_JOB_ARRAY_INDEX="0")
                process = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
                out, err = process.communicate(timeout=60)
                self.assertEqual(process.returncode, 0, err)
                with open(log) as f:
                    runs = [line.split() for line in f.read().splitlines()]
                self.assertEqual(runs[-1], [str(process.pid), subcommand], (runs, process.pid))

    def test_kubernetes_indexed_job(self):
        job = self.scan_job()
        self.assertEqual((job["apiVersion"], job["kind"]), ("batch/v1", "Job"))
        spec = job["spec"]
        argv = self.argv_of(self.container(job))
        script = " ".join(argv)
        n = shard_count(script)
        self.assertGreater(n, 1)
        self.assertEqual((spec["completions"], spec["parallelism"]), (n, n))
        self.assertIsInstance(spec["backoffLimit"], int)
        self.assertIn(spec["template"]["spec"]["restartPolicy"], ("Never", "OnFailure"))
        # every shard has its own state file and report, on the shared claim
        pvc = self.kind("PersistentVolumeClaim")
        self.assertIn("ReadWriteMany", pvc["spec"]["accessModes"])
        claim = lambda v: v.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"]
        state = self.mount_path(job, claim)
        self.assertIn("--shard $(JOB_COMPLETION_INDEX)/", script)
        self.assertIn(f"--state {state}/shard-$(JOB_COMPLETION_INDEX).db", script)
        self.assertIn(f"-o {state}/shard-$(JOB_COMPLETION_INDEX).json", script)
        self.assertRegex(script, r"^layersift scan registry://\S+ --tags all ")
        self.assert_findings_do_not_fail(argv[1:])
        # registry credentials: a docker-registry Secret's .dockerconfigjson as $DOCKER_CONFIG/config.json
        secrets = [v for v in spec["template"]["spec"]["volumes"] if "secret" in v]
        self.assertEqual(len(secrets), 1)
        self.assertEqual(secrets[0]["secret"]["items"], [{"key": ".dockerconfigjson", "path": "config.json"}])
        env = {e["name"]: e["value"] for e in self.container(job).get("env", [])}
        self.assertEqual(env["DOCKER_CONFIG"], self.mount_path(job, lambda v: "secret" in v))
        # the merge Job: the same claim, shards 0..N-1 merged, the report from the merged file
        merge = self.merge_job()
        self.assertEqual(self.mount_path(merge, claim), state)
        merge_script = self.script_of(self.container(merge))
        self.assertEqual(shard_files(merge_script), list(range(n)))
        self.assert_execs_layersift(merge_script, "report")
        out = re.search(r"layersift merge (\S+)", merge_script).group(1)
        self.assertIn(f"layersift report --state {out}", merge_script)
        wait = f"kubectl wait --for=condition=complete job/{job['metadata']['name']}"
        self.assertTrue(wait in self.shell, f"the README does not say `{wait}` before the merge Job")

    def test_aws_batch_array_job(self):
        definition = self.batch_definition()
        self.assertEqual(definition["type"], "container")
        props = definition["containerProperties"]
        self.assertTrue(props["image"])
        self.assertRegex(props["jobRoleArn"], r"^arn:aws:iam::\d{12}:role/\S+$")
        resources = {r["type"]: r["value"] for r in props["resourceRequirements"]}
        self.assertLessEqual({"VCPU", "MEMORY"}, set(resources))
        self.assertEqual(props["command"][:2], ["sh", "-c"])
        script = props["command"][2]
        n = shard_count(script)
        volumes = {v["name"]: v for v in props["volumes"]}
        mounts = props["mountPoints"]
        self.assertEqual(len(mounts), 1)
        self.assertIn("fileSystemId", volumes[mounts[0]["sourceVolume"]]["efsVolumeConfiguration"])
        state = mounts[0]["containerPath"]
        self.assertIn("--shard $AWS_BATCH_JOB_ARRAY_INDEX/", script)
        self.assertIn(f"--state {state}/shard-$AWS_BATCH_JOB_ARRAY_INDEX.db", script)
        self.assertIn(f"-o {state}/shard-$AWS_BATCH_JOB_ARRAY_INDEX.json", script)
        self.assertRegex(script, r"^exec layersift scan ecr://\d{12}/[a-z0-9-]+ ")
        self.assertEqual(len(shell_commands(script)), 1, script)
        self.assert_execs_layersift(script, "scan")
        array, merge = self.batch_commands()
        self.assertEqual(self.option(array, "--array-properties"), f"size={n}")
        self.assertEqual(self.option(array, "--job-definition"), definition["jobDefinitionName"])
        self.assertRegex(self.option(merge, "--depends-on"), r"^jobId=\S+$")
        self.assertEqual(shard_files(self.batch_merge_script()), list(range(n)))
        self.assert_execs_layersift(self.batch_merge_script(), "report")
        self.assertTrue("layersift ecr verify ecr://" in self.section, "the README no longer names `layersift ecr verify`")

    # -- end to end ----------------------------------------------------------------------------

    def run_script(self, script, env=None):
        """Runs a script as `sh -c SCRIPT`, or a command line (a list) without a shell, as
        Kubernetes runs a container's command and args; it must exit 0."""
        argv = script if isinstance(script, list) else ["sh", "-c", script]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                                env=dict(self.env, **(env or {})))
        self.assertEqual(result.returncode, 0, f"{argv!r}\n{result.stdout}\n{result.stderr}")
        return result

    def unsharded(self, name, targets, flags=(), env=None):
        """The reference: one scan with --state, and the report of that state file."""
        env = dict(self.env, **(env or {}))
        if name not in self.reference:
            directory = tempfile.mkdtemp(dir=self.tmp)
            state = os.path.join(directory, "state.db")
            scan = subprocess.run([ARGS.binary, "scan", "-q", *flags, "--state", state, "--format", "json", *targets],
                                  capture_output=True, text=True, timeout=300, env=env)
            self.assertEqual(scan.returncode, 1, scan.stderr)
            report = subprocess.run([ARGS.binary, "report", "-q", "--state", state, "--format", "json"],
                                    capture_output=True, text=True, timeout=300, env=self.env)
            self.assertEqual(report.returncode, 1, report.stderr)
            self.reference[name] = (json.loads(scan.stdout), json.loads(report.stdout))
        return self.reference[name]

    def assert_sharded_flow(self, state, scan_scripts, merge_script, reference):
        """Runs the shards' scripts, checks the split, then the merge and the report (twice: merging
        again changes nothing)."""
        for script, env in scan_scripts:
            self.run_script(script, env)
        digests = []
        for i in range(E2E_SHARDS):
            self.assertTrue(os.path.exists(os.path.join(state, f"shard-{i}.json")))
            with sqlite3.connect(os.path.join(state, f"shard-{i}.db")) as db:
                digests.append({row[0] for row in db.execute("SELECT digest FROM layer_scans")})
            self.assertTrue(digests[-1], f"shard {i} scanned nothing: the test no longer splits the work")
        self.assertFalse(digests[0] & digests[1], "a layer was scanned by both shards")
        scan, report = reference
        merged_report = re.search(r"layersift report .*?-o ([^\s;&|]+)", merge_script).group(1)
        self.assertTrue(merged_report.startswith(state + "/"), merged_report)
        for attempt in range(2):
            self.run_script(merge_script)
            with open(merged_report) as f:
                merged = json.load(f)
            with self.subTest(merge=attempt + 1):
                self.assertTrue(merged["findings"])
                self.assertEqual(merged["errors"], [])
                self.assertEqual(finding_keys(merged), finding_keys(scan))
                self.assertEqual(finding_keys(merged), finding_keys(report))
                self.assertEqual(finding_details(merged), finding_details(report))

    def local_run(self, name):
        """A directory standing for the shared volume, and the corpus layouts to scan."""
        state = os.path.join(self.tmp, name, "state")
        os.makedirs(state)
        targets = [f"oci:{os.path.join(ARGS.corpus, layout)}" for layout in LAYOUTS]
        return state, targets

    def test_kubernetes_flow_on_corpus_layouts(self):
        job, merge = self.scan_job(), self.merge_job()
        mount = self.mount_path(job, lambda v: "persistentVolumeClaim" in v)
        state, targets = self.local_run("k8s")
        env = {e["name"]: e["value"] for e in self.container(job).get("env", [])}
        local = lambda script: with_shards(script, E2E_SHARDS).replace(mount + "/", state + "/")
        local_argv = lambda argv: [a.replace(mount + "/", state + "/") for a in argv_with_shards(argv, E2E_SHARDS)]
        scans = []
        for i in range(E2E_SHARDS):
            expand = dict(env, JOB_COMPLETION_INDEX=str(i))
            argv = [kubernetes_expand(a, expand) for a in self.argv_of(self.container(job))]
            scans.append((local_argv(argv_with_targets(argv, "registry://", targets)), {}))
        merge_script = local(kubernetes_expand(self.script_of(self.container(merge)), {}))
        self.assert_sharded_flow(state, scans, merge_script, self.unsharded("layouts", targets))

    def test_aws_batch_flow_on_corpus_layouts(self):
        props = self.batch_definition()["containerProperties"]
        mount = props["mountPoints"][0]["containerPath"]
        state, targets = self.local_run("batch")
        local = lambda script: with_shards(script, E2E_SHARDS).replace(mount + "/", state + "/")
        script = PERIMETER_FLAGS.sub("", re.sub(r"ecr://\S+", " ".join(targets), props["command"][2]))
        scans = [(local(script), {"AWS_BATCH_JOB_ARRAY_INDEX": str(i)}) for i in range(E2E_SHARDS)]
        self.assert_sharded_flow(state, scans, local(self.batch_merge_script()), self.unsharded("layouts", targets))

    def test_kubernetes_flow_on_a_registry(self):
        require_tools(REGISTRY_BINARY, "htpasswd", "openssl")
        job, merge = self.scan_job(), self.merge_job()
        container = self.container(job)
        mount = self.mount_path(job, lambda v: "persistentVolumeClaim" in v)
        docker_mount = self.mount_path(job, lambda v: "secret" in v)
        state, _ = self.local_run("registry")
        docker_config = os.path.join(self.tmp, "registry", "docker")
        with Registry(auth="basic") as reg:
            reg.upload_layout(os.path.join(ARGS.corpus, "oci-demo") + ":demo", "team-a/app:1.0")
            reg.upload_layout(os.path.join(ARGS.corpus, "oci-demo") + ":demo", "team-a/app:latest")
            reg.upload_layout(os.path.join(ARGS.corpus, "oci-semantics") + ":semantics", "team-a/app:0.9")
            reg.upload_layout(os.path.join(ARGS.corpus, "oci-multiarch") + ":multi", "team-b/api:latest")
            # the Secret's .dockerconfigjson, as `kubectl create secret docker-registry` writes it
            os.makedirs(docker_config)
            auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
            with open(os.path.join(docker_config, "config.json"), "w") as f:
                json.dump({"auths": {reg.host: {"username": reg.username, "password": reg.password,
                                                "auth": auth}}}, f)
            env = {e["name"]: e["value"].replace(docker_mount, docker_config) for e in container.get("env", [])}
            local = lambda script: with_shards(script, E2E_SHARDS).replace(mount + "/", state + "/")
            local_argv = lambda argv: [a.replace(mount + "/", state + "/") for a in argv_with_shards(argv, E2E_SHARDS)]
            scans = []
            for i in range(E2E_SHARDS):
                argv = [kubernetes_expand(a, dict(env, JOB_COMPLETION_INDEX=str(i))) for a in self.argv_of(container)]
                self.assertEqual(len([a for a in argv if a.startswith("registry://")]), 1, argv)
                argv = argv_with_targets(argv, "registry://", [f"registry://{reg.host}", "--plain-http"],
                                         keep_perimeter_flags=True)
                scans.append((local_argv(argv), env))
            reference = self.unsharded("registry", [f"registry://{reg.host}"], ["--plain-http", "--tags", "all"], env)
            self.assertEqual(len(reference[0]["targets"]), 4)
            merge_script = local(kubernetes_expand(self.script_of(self.container(merge)), {}))
            self.assert_sharded_flow(state, scans, merge_script, reference)


class ScriptParsingTest(unittest.TestCase):
    """The helpers above, on known input."""

    def test_shell_commands(self):
        self.assertEqual(shell_commands("a -x 'b c' && d $(date -u +%F) | e # f\ng \\\n  --h"),
                         [["a", "-x", "b c"], ["d", "SUBSTITUTION"], ["e"], ["date", "-u", "+%F"], ["g", "--h"]])
        self.assertEqual(layersift_invocations("aws x --o '{\"command\": [\"sh\", \"-c\", \"layersift merge a b\"]}'"),
                         [["merge", "a", "b"]])

    def test_kubernetes_expand(self):
        self.assertEqual(kubernetes_expand("$(A)/$(B) $$(A) $? $rc", {"A": "0"}), "0/$(B) $(A) $? $rc")

    def test_with_shards(self):
        self.assertEqual(with_shards("x --shard 1/4 m /s/shard-0.db /s/shard-3.db /s/shard-2.db &&", 2),
                         "x --shard 1/2 m /s/shard-0.db &&")
        self.assertEqual(argv_with_shards(["x", "--shard", "$(I)/4", "/s/shard-4.db"], 2),
                         ["x", "--shard", "$(I)/2", "/s/shard-4.db"])

    def test_argv_with_targets(self):
        argv = ["scan", "registry://r.example", "--tags", "all", "--untagged", "--since", "2025-01-01", "-o", "x"]
        self.assertEqual(argv_with_targets(argv, "registry://", ["a", "b"]), ["scan", "a", "b", "-o", "x"])
        self.assertEqual(argv_with_targets(argv, "registry://", ["c"], keep_perimeter_flags=True),
                         ["scan", "c", *argv[2:]])

    def test_direct_invocations_and_last_command(self):
        doc = {"spec": {"containers": [{"command": ["layersift"], "args": ["scan", "--shard", "$(I)/2"]},
                                       {"command": ["sh", "-c"], "args": ["layersift merge a b"]}]}}
        self.assertEqual(direct_invocations(doc), [["scan", "--shard", "$(I)/2"]])
        self.assertEqual(last_command("layersift merge a b && exec layersift report -o c"),
                         (["layersift", "report", "-o", "c"], True))
        self.assertEqual(last_command("layersift scan x; rc=$?"), (["rc=$?"], False))


if __name__ == "__main__":
    cli_harness.main(__import__(__name__))
