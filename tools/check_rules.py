#!/usr/bin/env python3
"""Checks layersift rule files against a Python model of the engine's matching semantics.

Usage:
    python3 tools/check_rules.py [RULE_FILE_OR_DIR ...]     (default: rules/builtin)

For every rule it checks the schema (rules/README.md), lints the pattern for the RE2 subset
and for the "begin at a literal" performance rule, and proves `examples` (each must yield a
finding) and `negative_examples` (none may yield one) with `find_secrets`, which models the
engine:

  1. every case-insensitive (ASCII) occurrence of every keyword is found;
  2. the regex runs in the window [occurrence - max_match_bytes,
     occurrence + len(keyword) + max_match_bytes), with the bytes before the window visible as
     context for `\\b` (as RE2::Match with startpos does);
  3. a match is kept only if it is at most max_match_bytes long, the whole match contains one of
     the rule's keywords, and the `secret` group's Shannon entropy (bits per byte) is at least
     min_entropy;
  4. findings are de-duplicated by the absolute offset of the `secret` group.

This is a development aid, not the engine: the C++ `layersift rules check` is authoritative.
Python's `re` stands in for RE2, so patterns must stay inside the subset both accept; the lint
below rejects the constructs where they differ. Needs PyYAML (`python3 -m pip install pyyaml`
or the distribution's python3-yaml).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import re
import sys
from collections import Counter

DEFAULT_MAX_MATCH_BYTES = 256
# RE2 refuses counted repetitions above this bound ("bad repetition operator").
RE2_MAX_REPEAT = 1000

_ID_RE = re.compile(r"[a-z0-9-]+")
_REQUIRED = ("id", "name", "kind", "pattern", "keywords", "examples", "negative_examples")
_OPTIONAL = ("min_entropy", "max_match_bytes", "enabled", "description", "references", "vendor",
             "confidence")


class RuleError(Exception):
    """A rule file that cannot be loaded at all (YAML syntax, wrong top-level shape)."""


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    pattern: str
    regex: re.Pattern  # compiled over bytes, so \b, \s, \w are ASCII as in RE2
    keywords: tuple[bytes, ...]  # lower-cased
    min_entropy: float
    max_match_bytes: int
    enabled: bool
    examples: tuple[str, ...]
    negative_examples: tuple[str, ...]
    source: str


@dataclasses.dataclass(frozen=True)
class Finding:
    rule_id: str
    secret_start: int
    secret_end: int
    secret: bytes
    match_start: int
    match_end: int


def shannon_entropy(data: bytes) -> float:
    """Shannon entropy of the byte distribution of `data`, in bits per byte (0 for empty)."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def lint_pattern(pattern: str) -> list[str]:
    """Returns problems with `pattern`: constructs outside the RE2/Python common subset, and a
    start that is not a literal (see PERFORMANCE.md: a leading counted class slows RE2::Set)."""
    problems = []
    i, n = 0, len(pattern)
    prev_quantifier = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isdigit() and nxt != "0":
                problems.append(f"backreference \\{nxt} at {i} (RE2 has none)")
            elif nxt in ("Z", "z", "G", "g", "p", "P", "Q", "E", "K", "R", "X"):
                problems.append(f"\\{nxt} at {i} is not in the RE2/Python common subset")
            i += 2
            prev_quantifier = False
            continue
        if c == "[":
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "[" and pattern[j + 1 : j + 2] == ":":
                    problems.append(f"POSIX class at {j}: Python's re does not support it")
                j += 2 if pattern[j] == "\\" else 1
            if j >= n:
                problems.append(f"unterminated character class at {i}")
            i = j + 1
            prev_quantifier = False
            continue
        if c == "(" and pattern[i + 1 : i + 2] == "?":
            head = pattern[i + 2 : i + 5]
            if head.startswith(("=", "!", "<=", "<!", ">", "P=", "#")):
                problems.append(f"group (?{head[:2]} at {i} is not supported by RE2")
            elif head.startswith("P<"):
                pass
            else:
                m = re.match(r"[imsU-]*([:)])", pattern[i + 2 :])
                if m is None:
                    problems.append(f"unknown group syntax at {i}")
                elif m.group(1) == ")":
                    problems.append(
                        f"unscoped flag group at {i}: scope flags to the keyword, e.g. (?i:akia)"
                    )
        if c in "*+?" or c == "{":
            if prev_quantifier and c == "+":
                problems.append(f"possessive quantifier at {i} (RE2 has none)")
            if c == "{":
                m = re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])
                if m:
                    for bound in (m.group(1), m.group(3)):
                        if bound and int(bound) > RE2_MAX_REPEAT:
                            problems.append(
                                f"repetition bound {bound} at {i} exceeds RE2's {RE2_MAX_REPEAT}"
                            )
                    i += len(m.group(0))
                    prev_quantifier = True
                    continue
            # A '?' right after a quantifier is laziness, not a new quantifier.
            prev_quantifier = not (c == "?" and prev_quantifier)
            i += 1
            continue
        prev_quantifier = False
        i += 1

    # The first consuming atom must be a literal byte.
    rest = pattern
    while True:
        m = re.match(r"\\b|\^|\(\?:|\(\?i:|\(\?P<\w+>", rest)
        if not m:
            break
        rest = rest[m.end() :]
    if not rest or rest[0] in "[.(|" or re.match(r"\\[wWdDsSbB]", rest):
        problems.append("pattern must begin at a literal (its keyword), not a class or group")
    return problems


def _as_list(value, what: str, errors: list[str]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        errors.append(f"{what} must be a non-empty list of strings")
        return []
    return value


def _build_rule(raw: dict, source: str, errors: list[str]) -> Rule | None:
    missing = [k for k in _REQUIRED if k not in raw]
    unknown = [k for k in raw if k not in _REQUIRED and k not in _OPTIONAL]
    if missing:
        errors.append(f"missing required field(s): {', '.join(missing)}")
    if unknown:
        errors.append(f"unknown field(s): {', '.join(unknown)}")
    if missing:
        return None
    rid = raw["id"]
    if not isinstance(rid, str) or not _ID_RE.fullmatch(rid):
        errors.append(f"id {rid!r} must match [a-z0-9-]+")
    for k in ("name", "kind", "pattern"):
        if not isinstance(raw[k], str) or not raw[k]:
            errors.append(f"{k} must be a non-empty string")
    keywords = _as_list(raw["keywords"], "keywords", errors)
    examples = _as_list(raw["examples"], "examples", errors)
    negatives = _as_list(raw["negative_examples"], "negative_examples", errors)
    min_entropy = raw.get("min_entropy", 0.0)
    if not isinstance(min_entropy, (int, float)) or isinstance(min_entropy, bool) or not (
        0 <= min_entropy <= 8
    ):
        errors.append("min_entropy must be a number in [0, 8]")
        min_entropy = 0.0
    max_match = raw.get("max_match_bytes", DEFAULT_MAX_MATCH_BYTES)
    if not isinstance(max_match, int) or isinstance(max_match, bool) or max_match <= 0:
        errors.append("max_match_bytes must be a positive integer")
        max_match = DEFAULT_MAX_MATCH_BYTES
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append("enabled must be true or false")
    pattern = raw["pattern"] if isinstance(raw["pattern"], str) else ""
    if pattern.count("(?P<secret>") != 1:
        errors.append("pattern must contain exactly one (?P<secret>...) group")
    errors.extend(f"pattern: {p}" for p in lint_pattern(pattern))
    try:
        regex = re.compile(pattern.encode())
    except re.error as e:
        errors.append(f"pattern does not compile: {e}")
        return None
    if any(not k for k in keywords):
        errors.append("keywords must not be empty strings")
    if any(not k.isascii() for k in keywords):
        errors.append("keywords must be ASCII (they are matched case-insensitively as ASCII)")
    return Rule(
        id=rid,
        name=raw["name"],
        kind=raw["kind"],
        pattern=pattern,
        regex=regex,
        keywords=tuple(k.lower().encode() for k in keywords if k),
        min_entropy=float(min_entropy),
        max_match_bytes=max_match,
        enabled=bool(enabled),
        examples=tuple(examples),
        negative_examples=tuple(negatives),
        source=source,
    )


def rule_files(paths: list[str]) -> list[pathlib.Path]:
    files = []
    for p in map(pathlib.Path, paths):
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return files


def load_rules(paths: list[str]) -> tuple[list[Rule], list[str]]:
    """Loads every rule from the given files/directories. Returns (rules, errors); a rule with
    schema errors is left out of `rules` and its errors are prefixed with file and id."""
    try:
        import yaml  # PyYAML; only the loader needs it.
    except ImportError as e:
        raise RuleError("PyYAML is required: python3 -m pip install pyyaml") from e
    rules, errors, seen = [], [], {}
    for path in rule_files(paths):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise RuleError(f"{path}: {e}") from e
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise RuleError(f"{path}: top level must be a mapping with a 'rules' list")
        for idx, raw in enumerate(doc["rules"]):
            where = f"{path}: rule #{idx}"
            if not isinstance(raw, dict):
                errors.append(f"{where}: not a mapping")
                continue
            where = f"{path}: {raw.get('id', f'#{idx}')}"
            rule_errors: list[str] = []
            rule = _build_rule(raw, str(path), rule_errors)
            if rule and rule.id in seen:
                rule_errors.append(f"duplicate id (first in {seen[rule.id]})")
            errors.extend(f"{where}: {e}" for e in rule_errors)
            if rule and not rule_errors:
                seen[rule.id] = str(path)
                rules.append(rule)
    return rules, errors


def keyword_offsets(rule: Rule, lowered: bytes):
    """Yields (offset, keyword) for every occurrence of every keyword in `lowered`."""
    for kw in rule.keywords:
        start = lowered.find(kw)
        while start != -1:
            yield start, kw
            start = lowered.find(kw, start + 1)


def find_secrets(rule: Rule, data: bytes, lowered: bytes | None = None) -> list[Finding]:
    """Findings of `rule` in `data` under the engine's keyword-window semantics (module doc).
    `lowered` may pass data.lower() when several rules scan the same bytes."""
    if lowered is None:
        lowered = data.lower()
    span = rule.max_match_bytes
    found: dict[int, Finding] = {}
    for off, kw in keyword_offsets(rule, lowered):
        lo, hi = max(0, off - span), min(len(data), off + len(kw) + span)
        for m in rule.regex.finditer(data, lo, hi):
            if m.end() - m.start() > span:
                continue
            whole = lowered[m.start() : m.end()]
            if not any(k in whole for k in rule.keywords):
                continue
            secret = m.group("secret")
            if secret is None or shannon_entropy(secret) < rule.min_entropy:
                continue
            s = m.start("secret")
            found.setdefault(
                s, Finding(rule.id, s, m.end("secret"), secret, m.start(), m.end())
            )
    return [found[k] for k in sorted(found)]


def check_examples(rule: Rule) -> list[str]:
    errors = []
    for i, text in enumerate(rule.examples):
        if not find_secrets(rule, text.encode()):
            errors.append(f"example #{i} yields no finding: {text[:80]!r}")
    for i, text in enumerate(rule.negative_examples):
        hits = find_secrets(rule, text.encode())
        if hits:
            errors.append(
                f"negative example #{i} yields {hits[0].secret[:60]!r}: {text[:80]!r}"
            )
    lowered = "\n".join(rule.examples).lower().encode()
    for kw in rule.keywords:
        if kw not in lowered:
            errors.append(f"keyword {kw.decode()!r} appears in no example")
    return errors


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="rule files or directories (default: rules/builtin)")
    ap.add_argument("--cross", action="store_true",
                    help="also report rules that fire on other rules' examples")
    args = ap.parse_args(argv)
    paths = args.paths or [str(pathlib.Path(__file__).resolve().parent.parent / "rules/builtin")]
    try:
        rules, errors = load_rules(paths)
    except RuleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for rule in rules:
        errors.extend(f"{rule.source}: {rule.id}: {e}" for e in check_examples(rule))
    if args.cross:
        for rule in rules:
            for other in rules:
                if other is rule:
                    continue
                for text in other.examples:
                    for f in find_secrets(rule, text.encode()):
                        print(f"note: {rule.id} also fires on an example of {other.id}: "
                              f"{f.secret[:50]!r}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"{len(rules)} rules loaded, {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
