#!/usr/bin/env python3
"""layersift's benchmark suite: the realistic image against the hardware's limits and the users'
alternatives, every row measured in one run. bench/run.sh is the command; see bench/README.md.

    python3 bench/suite.py [--runs N] [--build DIR] [--cache DIR] [--results DIR] [--no-perf]

Each row is one command timed by /usr/bin/time (wall, user+sys CPU, peak RSS). After one
warm-up round, the rows run round-robin N times (default 5), so that drifting load on a shared
machine hits every row alike, and the report gives medians. The page cache is warmed first and
every row reads the same cached files.

Exit status: 0 every acceptance check passed; 1 a check failed; 2 a usage or setup error; 3 a
measured command failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import realistic_corpus  # noqa: E402

MB = 1_000_000  # MB = 10^6 bytes, as in shared/PERFORMANCE.md
TIMEOUT_EXIT = 124  # timeout(1)'s exit status when it stopped the command
SECRETLINT_PACKAGES = ["secretlint@12.0.0", "@secretlint/secretlint-rule-preset-recommend@12.0.0"]
SECRETLINT_CONFIG = {"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}
# The micro-benchmark rows the rule-count check reads (bench/micro, Google Benchmark names).
# 500 = the 150 real rules plus 350 generated, rarely matching ones; "builtin" = every enabled
# built-in rule (bench/README.md, micro-benchmarks).
MICRO_MATCH_FILTER = ("BM_Match/vectorscan/rules:(150|500)/real_time/threads:1"
                      "|BM_MatchBuiltin/vectorscan/real_time/threads:1")

# Acceptance (issue: benchmarks against the physical limits and against peers).
MAX_GZIP_VS_IGZIP, GOAL_GZIP_VS_IGZIP = 1.25, 1.1
MAX_ZSTD_VS_ZSTD, GOAL_ZSTD_VS_ZSTD = 1.35, 1.2
MIN_SPEEDUP_VS_TAR_RG = 3.0
MIN_SPEEDUP_VS_SECRETLINT = 50.0
MIN_THREAD_SCALING = 1.5
MIN_500_VS_150_RULES = 0.6
MAX_BIG_LAYER_RSS_RATIO = 1.2
# --stats cross-check: the stages' summed seconds can exceed neither the CPU time the process
# had (wall x cores) by more than clock noise, nor fall far below the CPU it used.
STAGE_SUM_MAX_OVER_CORE_TIME = 1.05
STAGE_SUM_MIN_OF_CPU = 0.75


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class SetupError(Exception):
    pass


class CommandFailed(Exception):
    pass


# --- Rows ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    wall: float
    cpu: float
    rss_kib: int
    stopped: bool = False  # killed by its time limit: the wall time is a lower bound


@dataclasses.dataclass
class Row:
    key: str
    label: str
    argv: list[str]
    data_bytes: int                   # uncompressed bytes the row handles, for MB/s
    ok_codes: tuple[int, ...] = (0,)
    before: object = None             # callable run before each timed run (not timed)
    after: object = None              # callable run after each timed run (not timed)
    stats_json: pathlib.Path | None = None  # layersift's JSON report, for the stage cross-check
    runs: int | None = None           # measured apart from the rounds, this many times, no warm-up
    cores: int | None = None          # CPUs it is pinned to (None: all)
    samples: list[Sample] = dataclasses.field(default_factory=list)
    stage_checks: list[dict] = dataclasses.field(default_factory=list)

    def median(self, field: str) -> float:
        return statistics.median(getattr(s, field) for s in self.samples)


def time_command(row: Row, time_file: pathlib.Path) -> Sample:
    if row.before:
        row.before()
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(time_file), "--", *row.argv]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if row.after:
        row.after()
    if proc.returncode not in row.ok_codes:
        tail = proc.stderr.decode(errors="replace")[-2000:]
        raise CommandFailed(f"{row.label}: exit {proc.returncode}\n$ {shlex.join(row.argv)}\n{tail}")
    fields = time_file.read_text().split()[-4:]
    wall, user, system, rss = float(fields[0]), float(fields[1]), float(fields[2]), int(fields[3])
    return Sample(wall, user + system, rss, stopped=proc.returncode == TIMEOUT_EXIT)


def check_stages(row: Row, sample: Sample, cores: int) -> dict:
    """The stage seconds layersift reports next to what the process can and did use."""
    stats = json.loads(row.stats_json.read_text())["stats"]
    stages = stats["stage_seconds"]
    stage_sum = sum(stages.values())
    core_time = sample.wall * cores
    return {"stage_sum": stage_sum, "stages": stages, "core_time": core_time,
            "cpu": sample.cpu, "wall": sample.wall, "reported_wall": stats["wall_seconds"],
            "threads": stats["threads"],
            "ok": stage_sum <= core_time * STAGE_SUM_MAX_OVER_CORE_TIME
            and stage_sum >= sample.cpu * STAGE_SUM_MIN_OF_CPU}


# --- The corpus and the peers --------------------------------------------------------------------


@dataclasses.dataclass
class Corpus:
    image: pathlib.Path
    gzip_layout: pathlib.Path
    zstd_layout: pathlib.Path
    gzip_layers: list[pathlib.Path]
    zstd_layers: list[pathlib.Path]
    layer_tars: list[pathlib.Path]
    worst_case: pathlib.Path
    worst_case_bytes: int
    big: pathlib.Path
    big_bytes: int
    planted: dict
    info: dict

    @property
    def image_bytes(self) -> int:
        return sum(t.stat().st_size for t in self.layer_tars)

    def largest_layer(self) -> tuple[int, pathlib.Path]:
        index = max(range(len(self.layer_tars)), key=lambda i: self.layer_tars[i].stat().st_size)
        return index, self.gzip_layers[index]


def layout_layers(layout: pathlib.Path) -> list[pathlib.Path]:
    index = json.loads((layout / "index.json").read_text())
    blob = lambda digest: layout / "blobs" / "sha256" / digest.split(":", 1)[1]  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
    return [blob(layer["digest"]) for layer in manifest["layers"]]


def load_corpus(cache: pathlib.Path) -> Corpus:
    if realistic_corpus.main(["--cache", str(cache)]) != 0:
        raise SetupError("building the corpus failed")
    base = cache / "realistic"
    image = base / "image"
    return Corpus(
        image=image, gzip_layout=image / "oci-gzip", zstd_layout=image / "oci-zstd",
        gzip_layers=layout_layers(image / "oci-gzip"), zstd_layers=layout_layers(image / "oci-zstd"),
        layer_tars=sorted((image / "layers").glob("*.tar")),
        worst_case=base / "worst-case" / "worst-case.tar.gz",
        worst_case_bytes=int((base / "worst-case" / "worst-case.tar.size").read_text()),
        big=base / "big" / "big-2g.tar.gz",
        big_bytes=int((base / "big" / "big-2g.tar.size").read_text()),
        planted=json.loads((image / "planted.json").read_text()),
        info=json.loads((image / "build-info.json").read_text()))


def ensure_secretlint(cache: pathlib.Path) -> pathlib.Path:
    """secretlint and its recommended preset, installed once into the cache with npm."""
    prefix = cache / "peers" / "secretlint"
    binary = prefix / "node_modules" / ".bin" / "secretlint"
    stamp = prefix / "installed"
    if not (binary.exists() and stamp.is_file()
            and stamp.read_text().split() == SECRETLINT_PACKAGES):
        if not shutil.which("npm"):
            raise SetupError("npm not found (secretlint is installed with it): "
                             "bash tools/setup.sh --bench")
        prefix.mkdir(parents=True, exist_ok=True)
        log("installing " + " ".join(SECRETLINT_PACKAGES) + f" into {prefix}")
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                        "--loglevel=error", *SECRETLINT_PACKAGES], check=True,
                       stdout=subprocess.DEVNULL)
        stamp.write_text(" ".join(SECRETLINT_PACKAGES) + "\n")
    return binary


def export_rg_rules(layersift: pathlib.Path, out: pathlib.Path) -> list[str]:
    """The built-in rules as an rg pattern file; returns the rg flags the export asks for."""
    proc = subprocess.run([str(layersift), "rules", "export", "--format", "rg", "--output",
                           str(out)], capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not out.exists():
        raise SetupError(f"layersift rules export failed: {proc.stderr.strip()}")
    if proc.returncode == 1:
        log("rules export left some rules out (rg gets the rest):\n" + proc.stderr.strip())
    # The export ends with the command line to search as layersift does ("rg FLAGS -f FILE
    # PATH..."): its flags are -U (rules match across lines), -uu, and any size limit the set needs.
    m = re.search(r": rg (.*?) -f ", proc.stderr)
    if not m:
        raise SetupError("layersift rules export did not suggest an rg command line:\n"
                         + proc.stderr.strip())
    return shlex.split(m[1])


def extract_layers(layers: list[pathlib.Path], into: pathlib.Path) -> list[str]:
    """The shell command a user would run: every layer extracted in order into one tree
    (device nodes left out, since they need root)."""
    parts = [f"mkdir -p {shlex.quote(str(into))}"]
    for layer in layers:
        parts.append(f"tar -xzf {shlex.quote(str(layer))} -C {shlex.quote(str(into))} "
                     "--no-same-owner --exclude='dev/*'")
    return parts


# --- Findings of each tool, by (path, line) ---------------------------------------------------


def layersift_found(report: pathlib.Path) -> set[tuple[str, int]]:
    return {(f["path"], f["line"]) for f in json.loads(report.read_text())["findings"]}


def rg_found(output: pathlib.Path, tree: pathlib.Path) -> set[tuple[str, int]]:
    """rg -n --null: PATH NUL LINE ':' TEXT per matching line."""
    found = set()
    prefix = str(tree).rstrip("/") + "/"
    with open(output, "rb") as f:
        for raw in f:
            path, _, rest = raw.partition(b"\0")
            line = rest.split(b":", 1)[0]
            if line.isdigit():
                found.add((path.decode(errors="replace").removeprefix(prefix), int(line)))
    return found


def secretlint_found(output: pathlib.Path, tree: pathlib.Path) -> set[tuple[str, int]]:
    found = set()
    prefix = str(tree).rstrip("/") + "/"
    for result in json.loads(output.read_text() or "[]"):
        for message in result.get("messages", []):
            start = message.get("loc", {}).get("start", {}).get("line")
            if start:
                found.add((result["filePath"].removeprefix(prefix), int(start)))
    return found


# --- The machine -------------------------------------------------------------------------------


def first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not found"


def machine_description() -> dict:
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text())[1])
    return {"cpu": cpu, "cores": os.cpu_count() or 1, "memory_gib": mem_kib / (1 << 20),
            "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
            "host": socket.gethostname()}


def load_average() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def git_describe() -> str:
    head = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD"]).returncode != 0
    return head + (" (uncommitted changes)" if dirty else "")


def perf_profile(argv: list[str], work: pathlib.Path, name: str) -> str | None:
    """Top symbols of one run under `perf record`, or None where perf cannot sample."""
    if not shutil.which("perf"):
        return None
    data = work / f"{name}.perf.data"
    record = subprocess.run(["perf", "record", "-F", "499", "-g", "-o", str(data), "--", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if record.returncode not in (0, 1) or not data.exists():
        return None
    report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--stdio",
                             "--sort", "dso,symbol", "-g", "none", "--percent-limit", "1.5"],
                            capture_output=True, text=True)
    lines = [l for l in report.stdout.splitlines() if re.match(r"\s+\d+\.\d+%", l)]
    return "\n".join(l.rstrip() for l in lines[:15]) if lines else None


# --- The suite ---------------------------------------------------------------------------------


class Suite:
    def __init__(self, args):
        self.args = args
        self.build = args.build.resolve()
        self.layersift = self.build / "layersift"
        self.micro = self.build / "bench" / "layersift_micro"
        self.cache = args.cache.resolve()
        self.machine = machine_description()
        self.rows: dict[str, Row] = {}

    def check_tools(self) -> None:
        for tool, package in [("igzip", "isal"), ("zstd", "zstd"), ("tar", "tar"),
                              ("rg", "ripgrep"), ("node", "nodejs")]:
            if not shutil.which(tool):
                raise SetupError(f"'{tool}' not found: bash tools/setup.sh --bench "
                                 f"(Debian package {package})")
        if not pathlib.Path("/usr/bin/time").exists():
            raise SetupError("/usr/bin/time not found: apt-get install -y time")
        for binary in (self.layersift, self.micro):
            if not binary.exists():
                raise SetupError(f"{binary} not found: bash tools/build.sh {self.build}")

    def scan_row(self, key: str, label: str, targets: list[str], data_bytes: int,
                 flags: list[str] = (), pin_cpu: int | None = None) -> Row:
        report = self.work / f"{key}.json"
        pin = ["taskset", "-c", str(pin_cpu)] if pin_cpu is not None else []
        return Row(key, label,
                   [*pin, str(self.layersift), "scan", "--quiet", "--no-state", "--format", "json",
                    "--output", str(report), *flags, *targets],
                   data_bytes, ok_codes=(0, 1), stats_json=report,
                   cores=1 if pin_cpu is not None else None)

    def define_rows(self, c: Corpus) -> None:
        gz, zs = [str(p) for p in c.gzip_layers], [str(p) for p in c.zstd_layers]
        largest_index, largest_gz = c.largest_layer()
        largest_bytes = c.layer_tars[largest_index].stat().st_size
        tree = self.work / "tree-rg"
        rg_out = self.work / "rg.out"
        rg_cmd = (["rg", *self.rg_flags, "-n", "--null", "--no-heading", "-f",
                   str(self.rg_rules), str(tree)])
        sl_out = self.work / "secretlint.json"
        rows = [
            Row("igzip", "igzip -dc, the image's gzip layers", ["igzip", "-dc", *gz],
                c.image_bytes),
            Row("zstd", "zstd -dc, the image's zstd layers", ["zstd", "-q", "-dc", *zs],
                c.image_bytes),
            Row("igzip-worst", "igzip -dc, worst-case layer", ["igzip", "-dc", str(c.worst_case)],
                c.worst_case_bytes),
            self.scan_row("ls-gzip", "layersift, realistic image (gzip)",
                          [str(c.gzip_layout)], c.image_bytes),
            self.scan_row("ls-zstd", "layersift, realistic image (zstd)",
                          [str(c.zstd_layout)], c.image_bytes),
            # One core: --threads 1 alone still overlaps a layer's reading, decompression and
            # walk on their own threads, so the process is also pinned to one CPU.
            self.scan_row("ls-gzip-1core", "layersift on one core (taskset -c 0, --threads 1), "
                          "realistic image (gzip)", [str(c.gzip_layout)], c.image_bytes,
                          ["--threads", "1"], pin_cpu=0),
            self.scan_row("ls-gzip-re2", "layersift --engine re2, realistic image (gzip)",
                          [str(c.gzip_layout)], c.image_bytes, ["--engine", "re2"]),
            self.scan_row("ls-gzip-all", "layersift --no-default-excludes, realistic image (gzip)",
                          [str(c.gzip_layout)], c.image_bytes, ["--no-default-excludes"]),
            self.scan_row("ls-worst", "layersift, worst-case layer",
                          ["layer:" + str(c.worst_case)], c.worst_case_bytes),
            self.scan_row("ls-largest", f"layersift, largest image layer alone "
                          f"({c.layer_tars[largest_index].stem})",
                          ["layer:" + str(largest_gz)], largest_bytes),
            self.scan_row("ls-big", "layersift, 2 GB layer", ["layer:" + str(c.big)],
                          c.big_bytes),
            Row("tar-rg", "tar -xzf + rg, same rules",
                ["bash", "-c", " && ".join(extract_layers(c.gzip_layers, tree))
                 + " && " + shlex.join(rg_cmd) + " > " + shlex.quote(str(rg_out))
                 + "; test $? -le 1"],
                c.image_bytes, after=lambda: shutil.rmtree(tree, ignore_errors=True)),
            Row("secretlint", "secretlint on the extracted tree",
                ["timeout", str(self.args.secretlint_timeout), str(self.secretlint),
                 "--secretlintrc", str(self.secretlint_rc), "--format", "json", "--output",
                 str(sl_out), "--no-color", str(self.tree) + "/**/*"],
                c.image_bytes, ok_codes=(0, 1, TIMEOUT_EXIT), runs=self.args.secretlint_runs),
        ]
        self.rows = {r.key: r for r in rows if r.runs != 0}

    def prepare(self) -> Corpus:
        self.check_tools()
        corpus = load_corpus(self.cache)
        self.secretlint = ensure_secretlint(self.cache)
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="suite.", dir=self.cache))
        self.rg_rules = self.work / "rules.rg"
        self.rg_flags = export_rg_rules(self.layersift, self.rg_rules)
        self.secretlint_rc = self.work / "secretlintrc.json"
        self.secretlint_rc.write_text(json.dumps(SECRETLINT_CONFIG))
        # The tree rg-alone and secretlint read, extracted once, as a user would have it.
        self.tree = self.work / "tree"
        subprocess.run(["bash", "-c", " && ".join(extract_layers(corpus.gzip_layers, self.tree))],
                       check=True)
        return corpus

    def warm_page_cache(self, c: Corpus) -> None:
        for path in [*c.gzip_layers, *c.zstd_layers, c.worst_case, c.big]:
            with open(path, "rb") as f:
                while f.read(1 << 24):
                    pass

    def measure(self, rounds: int) -> None:
        time_file = self.work / "time.txt"
        total = rounds + 1
        for r in range(total):
            started = time.monotonic()
            for row in self.rows.values():
                if row.runs is not None:
                    continue  # measured on its own, below
                sample = time_command(row, time_file)
                if r == 0:
                    continue  # the warm-up round
                row.samples.append(sample)
                if row.stats_json:
                    row.stage_checks.append(
                        check_stages(row, sample, row.cores or self.machine["cores"]))
            log(f"round {r}/{rounds}{' (warm-up)' if r == 0 else ''} took "
                f"{time.monotonic() - started:.0f} s")
        for row in self.rows.values():
            for i in range(row.runs or 0):
                started = time.monotonic()
                row.samples.append(time_command(row, time_file))
                log(f"{row.label}: run {i + 1}/{row.runs} took {time.monotonic() - started:.0f} s")

    def micro_rules(self) -> dict:
        """Vectorscan matcher throughput (bytes/s), 1 thread: at 150 and 500 rules, and with
        every built-in rule ("builtin", with its rule count under "builtin_rules")."""
        out = subprocess.run([str(self.micro), f"--benchmark_filter={MICRO_MATCH_FILTER}",
                              "--benchmark_format=json", "--benchmark_repetitions=5",
                              "--benchmark_report_aggregates_only=true"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise CommandFailed(f"layersift_micro failed: {out.stderr[-2000:]}")
        result = {}
        for b in json.loads(out.stdout)["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            m = re.search(r"rules:(\d+)", b["name"])
            if m:
                result[int(m[1])] = b["bytes_per_second"]
            elif b["name"].startswith("BM_MatchBuiltin/"):
                result["builtin"] = b["bytes_per_second"]
                result["builtin_rules"] = int(b["rules"])
        if not {150, 500, "builtin"} <= set(result):
            raise CommandFailed(f"layersift_micro gave no median for 150 and 500 rules: {result}")
        return result

    def secretlint_on_planted_dirs(self, c: Corpus) -> pathlib.Path:
        """secretlint (untimed) on the top-level directories that hold planted files: what it
        reports there does not depend on the rest of the tree, and its run over the whole tree
        may be stopped by the time limit before it writes anything."""
        out = self.work / "secretlint-planted.json"
        dirs = sorted({p["path"].split("/", 1)[0] for p in c.planted["files"]})
        subprocess.run([str(self.secretlint), "--secretlintrc", str(self.secretlint_rc),
                        "--format", "json", "--output", str(out), "--no-color",
                        *(f"{self.tree}/{d}/**/*" for d in dirs)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not out.exists():
            raise CommandFailed("secretlint on the planted directories wrote no report")
        return out

    def coverage(self, c: Corpus) -> list[dict]:
        """Per planted secret (in files), which tool reported its line."""
        ls = layersift_found(self.rows["ls-gzip"].stats_json)
        rg = rg_found(self.work / "rg.out", self.work / "tree-rg")
        sl = secretlint_found(self.secretlint_on_planted_dirs(c), self.tree)
        out = []
        for p in c.planted["files"]:
            key = (p["path"], p["line"])
            out.append({**p, "layersift": key in ls, "rg": key in rg, "secretlint": key in sl})
        return out


# --- The report --------------------------------------------------------------------------------


def ratio_line(name: str, value: float, limit: str, ok: bool, goal: str = "") -> str:
    result = "PASS" if ok else "FAIL"
    if goal:
        result += f" (goal {goal} {'met' if eval_goal(value, goal) else 'not met'})"
    return f"| {name} | {value:.2f} | {limit} | {result} |"


def eval_goal(value: float, goal: str) -> bool:
    op, number = goal.split()
    return value <= float(number) if op == "≤" else value >= float(number)


def write_report(s: Suite, c: Corpus, micro: dict[int, float], coverage: list[dict],
                 profiles: dict[str, str | None], load_before: str, load_after: str) -> tuple[str, bool]:
    rows = s.rows
    m = lambda key, field="wall": rows[key].median(field)  # noqa: E731
    now = datetime.datetime.now(datetime.timezone.utc)
    mach = s.machine
    lines = [f"# layersift benchmark suite, {now:%Y-%m-%d %H:%M} UTC on {mach['host']}", "",
             "## Machine", "",
             f"- CPU: {mach['cpu']}, {mach['cores']} cores; memory {mach['memory_gib']:.1f} GiB; "
             f"{mach['kernel']}",
             f"- load average before / after: {load_before} / {load_after}",
             f"- layersift: `{s.layersift}` at {git_describe()}",
             "- tools: " + "; ".join(first_line(cmd) for cmd in (
                 ["igzip", "--version"], ["zstd", "--version"], ["tar", "--version"],
                 ["rg", "--version"], ["node", "--version"])) + f"; secretlint "
             + first_line([str(s.secretlint), "--version"]),
             f"- method: {s.args.runs} rounds after one warm-up, rows round-robin, medians; page "
             "cache warm; `/usr/bin/time` (wall, user+sys CPU, peak RSS); MB = 10^6 bytes of "
             f"uncompressed tar; secretlint alone: {s.args.secretlint_runs} run(s) after the "
             f"rounds, without a warm-up, stopped after {s.args.secretlint_timeout} s (a whole "
             "run took over 55 minutes); which planted secrets it finds comes from an untimed "
             "run over the directories that hold them",
             "", "## Corpus", "",
             f"Built by `bench/realistic_corpus.py` on {c.info['built']} (mirror {c.info['mirror']},"
             f" seed {c.info['seed']}).", "",
             "| layer | created by | uncompressed MB | files | gzip MB | zstd MB |",
             "|---|---|---:|---:|---:|---:|"]
    for layer, gz, zs in zip(c.info["layers"], c.gzip_layers, c.zstd_layers):
        created = layer["created_by"]
        created = created if len(created) < 70 else created[:67] + "..."
        lines.append(f"| {layer['name']} | `{created}` | {layer['tar_bytes'] / MB:.1f} | "
                     f"{layer['files']} | {gz.stat().st_size / MB:.1f} | "
                     f"{zs.stat().st_size / MB:.1f} |")
    lines += ["", f"Worst-case layer: {c.worst_case_bytes / MB:.1f} MB of text dense with "
              f"near-miss keywords ({c.worst_case.stat().st_size / MB:.1f} MB gzip). 2 GB layer: "
              f"the image's layers repeated, {c.big_bytes / MB:.1f} MB "
              f"({c.big.stat().st_size / MB:.1f} MB gzip).", "",
              "## Results", "",
              "| row | runs | wall s | user+sys CPU s | MB/s | peak RSS MiB |",
              "|---|---:|---:|---:|---:|---:|"]
    for row in rows.values():
        wall = row.median("wall")
        if any(sample.stopped for sample in row.samples):
            lines.append(f"| {row.label} | {len(row.samples)} | > {wall:.0f} (stopped) | "
                         f"{row.median('cpu'):.0f} | < {row.data_bytes / MB / wall:.1f} | "
                         f"{row.median('rss_kib') / 1024:.1f} |")
            continue
        lines.append(f"| {row.label} | {len(row.samples)} | {wall:.3f} | {row.median('cpu'):.2f} | "
                     f"{row.data_bytes / MB / wall:.0f} | {row.median('rss_kib') / 1024:.1f} |")

    # Acceptance.
    gzip_ratio = m("ls-gzip") / m("igzip")
    zstd_ratio = m("ls-zstd") / m("zstd")
    tar_rg_speedup = m("tar-rg") / m("ls-gzip")
    secretlint_speedup = m("secretlint") / m("ls-gzip") if "secretlint" in rows else 0.0
    scaling = m("ls-gzip-1core") / m("ls-gzip")
    rules_ratio = micro[500] / micro[150]
    rss_ratio = m("ls-big", "rss_kib") / m("ls-largest", "rss_kib")
    peers_found = [p for p in coverage if p["rg"] or p["secretlint"]]
    missed = [p for p in peers_found if not p["layersift"]]
    stage_checks = [(row.label, chk) for row in rows.values() for chk in row.stage_checks]
    stages_ok = all(chk["ok"] for _, chk in stage_checks)
    checks = [
        (gzip_ratio <= MAX_GZIP_VS_IGZIP, ratio_line(
            "layersift gzip image wall / igzip -dc wall", gzip_ratio, f"≤ {MAX_GZIP_VS_IGZIP}",
            gzip_ratio <= MAX_GZIP_VS_IGZIP, f"≤ {GOAL_GZIP_VS_IGZIP}")),
        (zstd_ratio <= MAX_ZSTD_VS_ZSTD, ratio_line(
            "layersift zstd image wall / zstd -dc wall", zstd_ratio, f"≤ {MAX_ZSTD_VS_ZSTD}",
            zstd_ratio <= MAX_ZSTD_VS_ZSTD, f"≤ {GOAL_ZSTD_VS_ZSTD}")),
        (tar_rg_speedup >= MIN_SPEEDUP_VS_TAR_RG, ratio_line(
            "tar -xzf + rg wall / layersift wall", tar_rg_speedup, f"≥ {MIN_SPEEDUP_VS_TAR_RG}",
            tar_rg_speedup >= MIN_SPEEDUP_VS_TAR_RG)),
        (secretlint_speedup >= MIN_SPEEDUP_VS_SECRETLINT, ratio_line(
            "secretlint wall / layersift wall" + (
                " (secretlint stopped: a lower bound)" if "secretlint" in rows and any(
                    x.stopped for x in rows["secretlint"].samples) else ""),
            secretlint_speedup,
            f"≥ {MIN_SPEEDUP_VS_SECRETLINT}", secretlint_speedup >= MIN_SPEEDUP_VS_SECRETLINT)),
        (not missed, f"| planted secrets rg or secretlint found that layersift missed | "
                     f"{len(missed)} of {len(peers_found)} | 0 | {'PASS' if not missed else 'FAIL'} |"),
        (scaling >= MIN_THREAD_SCALING, ratio_line(
            f"one core wall / {mach['cores']} cores "
            f"({rows['ls-gzip'].stage_checks[0]['threads']} threads) wall",
            scaling, f"≥ {MIN_THREAD_SCALING}", scaling >= MIN_THREAD_SCALING)),
        (rules_ratio >= MIN_500_VS_150_RULES, ratio_line(
            "matcher throughput, 500 rules (150 + 350 generated) / 150 rules (vectorscan)",
            rules_ratio, f"≥ {MIN_500_VS_150_RULES}", rules_ratio >= MIN_500_VS_150_RULES)),
        (rss_ratio <= MAX_BIG_LAYER_RSS_RATIO, ratio_line(
            "peak RSS, 2 GB layer / largest image layer", rss_ratio,
            f"≤ {MAX_BIG_LAYER_RSS_RATIO}", rss_ratio <= MAX_BIG_LAYER_RSS_RATIO)),
        (stages_ok, f"| --stats stage sums consistent (every layersift run) | "
                    f"{sum(chk['ok'] for _, chk in stage_checks)} of {len(stage_checks)} | all | "
                    f"{'PASS' if stages_ok else 'FAIL'} |"),
    ]
    all_ok = all(ok for ok, _ in checks)
    lines += ["", "## Acceptance", "", "| check | value | limit | result |", "|---|---:|---:|---|",
              *(line for _, line in checks)]

    lines += ["", "## Planted secrets", "",
              "Each planted secret's file and line, as reported by each tool (rg: a line matched by"
              " any exported rule; secretlint: a message starting on that line).", "",
              "| rule | path:line | layer | in final image | layersift | rg | secretlint |",
              "|---|---|---:|---|---|---|---|"]
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    for p in coverage:
        lines.append(f"| {p['rule_id']} | {p['path']}:{p['line']} | {p['layer']} | "
                     f"{yes(p['in_final_image'])} | {yes(p['layersift'])} | {yes(p['rg'])} | "
                     f"{yes(p['secretlint'])} |")
    counts = {tool: sum(p[tool] for p in coverage) for tool in ("layersift", "rg", "secretlint")}
    lines += ["", f"Found: layersift {counts['layersift']}, rg {counts['rg']}, secretlint "
              f"{counts['secretlint']} of {len(coverage)}. The image config's planted secret "
              f"({c.planted['config'][0]['path']}) is visible to layersift only."]

    lines += ["", "## Stage accounting (`--stats`)", "",
              "Median over the runs of each row: the stages' CPU seconds summed over threads, the "
              "time the cores could give (wall × cores: 1 for the pinned row, "
              f"{mach['cores']} otherwise) and the CPU the process used. "
              f"Consistent: stage sum ≤ {STAGE_SUM_MAX_OVER_CORE_TIME} × wall × cores and ≥ "
              f"{STAGE_SUM_MIN_OF_CPU} × CPU.", "",
              "| row | read | decompress | walk | match | stage sum | wall × cores | CPU | consistent |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows.values():
        if not row.stage_checks:
            continue
        med = lambda f: statistics.median(f(chk) for chk in row.stage_checks)  # noqa: E731
        lines.append(
            f"| {row.label} | " + " | ".join(
                f"{med(lambda chk, k=k: chk['stages'][k]):.2f}"
                for k in ("read", "decompress", "walk", "match"))
            + f" | {med(lambda chk: chk['stage_sum']):.2f} | {med(lambda chk: chk['core_time']):.2f}"
            f" | {med(lambda chk: chk['cpu']):.2f} | "
            f"{sum(chk['ok'] for chk in row.stage_checks)}/{len(row.stage_checks)} |")

    lines += ["", "## Micro-benchmark: rule-set size", "",
              f"`layersift_micro --benchmark_filter='{MICRO_MATCH_FILTER}'`, median of 5 "
              f"repetitions, on node_modules JavaScript text: 150 built-in rules "
              f"{micro[150] / MB:.0f} MB/s; 500 rules (those 150 plus 350 generated, rarely "
              f"matching ones) {micro[500] / MB:.0f} MB/s; every enabled built-in rule "
              f"({micro['builtin_rules']}) {micro['builtin'] / MB:.0f} MB/s."]
    if any(profiles.values()):
        lines += ["", "## Profiles", "",
                  "One extra run of each under `perf record -g` (not part of the timings), "
                  "top symbols by self time:"]
        for name, text in profiles.items():
            if text:
                lines += ["", f"### {name}", "", "```", text, "```"]
    return "\n".join(lines) + "\n", all_ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="timed rounds after the warm-up; medians are reported (default 5)")
    parser.add_argument("--build", type=pathlib.Path, default=REPO / "build",
                        help="build directory with layersift and bench/layersift_micro")
    parser.add_argument("--cache", type=pathlib.Path, default=pathlib.Path(os.environ.get(
        "LAYERSIFT_BENCH_CACHE", pathlib.Path.home() / ".cache/layersift-bench")))
    parser.add_argument("--results", type=pathlib.Path, default=REPO / "bench" / "results")
    parser.add_argument("--no-perf", action="store_true", help="skip the perf profiles")
    parser.add_argument("--secretlint-timeout", type=int, default=900,
                        help="seconds after which a secretlint run is stopped; its time is then "
                             "a lower bound (default 900; a whole run took over 55 minutes)")
    parser.add_argument("--secretlint-runs", type=int, default=1,
                        help="runs of secretlint, measured after the rounds without a warm-up: "
                             "one run over the image's tree takes tens of minutes (default 1)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    suite = Suite(args)
    try:
        corpus = suite.prepare()
    except (SetupError, subprocess.CalledProcessError) as e:
        log(f"error: {e}")
        return 2
    try:
        suite.define_rows(corpus)
        suite.warm_page_cache(corpus)
        load_before = load_average()
        suite.measure(args.runs)
        micro = suite.micro_rules()
        load_after = load_average()
        coverage = suite.coverage(corpus)
        profiles = {} if args.no_perf else {
            label: perf_profile(suite.rows[key].argv, suite.work, key)
            for key, label in (("ls-gzip", "layersift, realistic image (gzip)"),
                               ("ls-worst", "layersift, worst-case layer"))}
        report, all_ok = write_report(suite, corpus, micro, coverage, profiles, load_before,
                                      load_after)
    except CommandFailed as e:
        log(f"a measured command failed: {e}")
        return 3
    finally:
        shutil.rmtree(suite.work, ignore_errors=True)  # holds outputs with the planted secrets
    args.results.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.date.today():%Y-%m-%d}-{socket.gethostname()}"
    out = args.results / f"{stem}.md"
    if out.exists():
        out = args.results / f"{stem}-{datetime.datetime.now():%H%M%S}.md"
    out.write_text(report)
    raw = out.with_suffix(".raw.tsv")
    with open(raw, "w") as f:
        f.write("row\trun\twall_s\tcpu_s\tpeak_rss_kib\n")
        for row in suite.rows.values():
            for i, sample in enumerate(row.samples, 1):
                f.write(f"{row.key}\t{i}\t{sample.wall}\t{sample.cpu}\t{sample.rss_kib}\n")
    print(report)
    log(f"report: {out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
