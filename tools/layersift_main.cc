// The layersift command line: parses flags and composes the libraries; no scanning logic here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "ecr_commands.h"
#include "exit_codes.h"
#include "registry_flags.h"
#include "layersift/engine/matcher.h"
#include "layersift/engine/path_filter.h"
#include "layersift/engine/report.h"
#include "layersift/engine/rule_set.h"
#include "layersift/engine/scanner.h"
#include "layersift/engine/suppression.h"
#include "layersift/fetch/image_reference.h"
#include "layersift/fetch/registry_client.h"
#include "layersift/rules/rule_loader.h"
#include "report_output.h"
#include "rule_commands.h"
#include "rule_flags.h"
#include "size_parse.h"
#include "state_commands.h"

namespace {

using namespace layersift;

struct ScanFlags {
  RuleFlags rules;
  std::vector<std::string> targets;
  std::string format = "text";
  std::string output;
  unsigned threads = 0;
  std::string max_memory = "512MiB";
  std::string chunk_size = "1MiB";
  std::vector<std::string> exclude_paths;
  bool no_default_excludes = false;
  bool scan_binaries = false;
  bool show_secrets = false;
  bool quiet = false;
  bool stats = false;
  std::vector<std::string> platforms;
  bool present_only = false;
  int findings_exit_code = kExitFindings;
  int max_archive_depth = 2;
  std::string max_archive_expanded = "1GiB";
  uint64_t max_archive_ratio = 100;
  std::string max_zip_size = "256MiB";
  SuppressionFlags suppressions;
  RegistryFlags registry;
  PerimeterFlags perimeter;
  StateFlags state;
};

struct ListFlags {
  std::string what;
  std::string format = "text";
  unsigned page_size = RegistryClient::kDefaultPageSize;
  RegistryFlags registry;
};

// `layersift ls REGISTRY` (the catalog) or `layersift ls REGISTRY/REPO` (its tags).
int RunList(const ListFlags& flags) {
  const auto [registry, repository] = ParseRegistryAndRepository(flags.what);
  RegistryClient client(flags.registry.Options());
  const std::vector<std::string> items =
      repository.empty() ? client.ListRepositories(registry, flags.page_size)
                          : client.ListTags(registry, repository, flags.page_size);
  if (flags.format == "json") {
    nlohmann::json out = {{"registry", registry}};
    if (repository.empty()) {
      out["repositories"] = items;
    } else {
      out["repository"] = repository;
      out["tags"] = items;
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const std::string& item : items) std::cout << item << "\n";
  }
  std::cout.flush();
  return kExitClean;
}

void PrintProgress(const ScanProgress& p) {
  const double mb_done = static_cast<double>(p.stored_bytes_done) / 1e6;
  const double rate = p.elapsed_seconds > 0 ? mb_done / p.elapsed_seconds : 0;
  if (p.stored_bytes_total > 0) {
    std::fprintf(stderr, "\r\033[K%.1f / %.1f MB read (%.0f%%), %.0f MB/s, layers %llu/%llu", mb_done,
                 static_cast<double>(p.stored_bytes_total) / 1e6,
                 100.0 * static_cast<double>(p.stored_bytes_done) / static_cast<double>(p.stored_bytes_total),
                 rate, static_cast<unsigned long long>(p.layers_done),
                 static_cast<unsigned long long>(p.layers_total));
  } else {
    std::fprintf(stderr, "\r\033[K%.1f MB read, %.0f MB/s, layers %llu/%llu", mb_done, rate,
                 static_cast<unsigned long long>(p.layers_done),
                 static_cast<unsigned long long>(p.layers_total));
  }
  std::fflush(stderr);
}

int RunScan(const ScanFlags& flags, const std::string& arguments) {
  MatcherOptions matcher_options;
  matcher_options.engine = ParseMatchEngine(flags.rules.engine);
  // Loading the rules (parsing their YAML) is most of an incremental scan's fixed cost: it runs
  // while the perimeters are listed, which is mostly waiting on the network.
  std::future<std::vector<Rule>> loading = std::async(std::launch::async, [&flags] { return flags.rules.Load(); });

  ScanOptions options;
  options.threads = flags.threads;
  options.max_memory_bytes = ParseByteSize(flags.max_memory, "--max-memory");
  options.chunk_bytes = static_cast<size_t>(ParseByteSize(flags.chunk_size, "--chunk-size"));
  options.scan_binaries = flags.scan_binaries;
  options.platforms = flags.platforms;
  options.max_archive_depth = flags.max_archive_depth;
  options.max_archive_expanded_bytes = ParseByteSize(flags.max_archive_expanded, "--max-archive-expanded");
  options.max_archive_ratio = flags.max_archive_ratio;
  options.max_zip_bytes = ParseByteSize(flags.max_zip_size, "--max-zip-size");
  options.registry = flags.registry.Options();
  const Suppressions suppressions = flags.suppressions.Load();  // bad files: usage error, before scanning
  if (!flags.no_default_excludes) options.excluded_path_patterns = DefaultExcludedPathPatterns();
  options.excluded_path_patterns.insert(options.excluded_path_patterns.end(),
                                        flags.exclude_paths.begin(), flags.exclude_paths.end());
  { PathFilter validate(options.excluded_path_patterns); }  // bad regex: usage error, before scanning
  const bool show_progress = !flags.quiet && isatty(STDERR_FILENO);
  if (show_progress) options.on_progress = PrintProgress;

  options.stop = InstallStopHandler();
  const ExpandedTargets targets =
      ExpandPerimeters(flags.targets, flags.perimeter, options.registry, flags.quiet);

  const std::vector<Rule> rules = loading.get();
  // Findings refer to the enabled rules; the matcher is compiled only if some layer must be read
  // (a scan that recalls every layer from the state file never needs it).
  std::vector<Rule> enabled;
  std::copy_if(rules.begin(), rules.end(), std::back_inserter(enabled), [](const Rule& r) { return r.enabled; });
  if (enabled.empty()) throw RuleError("no enabled rule to scan with");
  std::unique_ptr<const PatternDatabase> database;
  const auto compile = [&]() -> const PatternDatabase& {
    if (!database) database = PatternDatabase::Compile(rules, matcher_options);
    return *database;
  };
  const std::string rule_set_hash = RuleSetHash(rules);
  const std::unique_ptr<StateStore> state =
      flags.state.Open(enabled, rule_set_hash, arguments, flags.show_secrets, options);

  ScanResult result = Scanner(compile, enabled, options).Scan(targets.specs);
  if (show_progress) std::fprintf(stderr, "\r\033[K");
  targets.AddTo(result);
  ApplySuppressions(suppressions, enabled, result);
  if (flags.present_only) KeepPresentOnly(result);
  int exit_code = result.stopped ? StopExitCode() : ExitCodeOf(result, flags.findings_exit_code);
  if (state) {
    // Blobs are committed as they finish; the images and the run's end only now.
    try {
      state->RememberImages(result);
      state->EndRun(result, exit_code);
    } catch (const StateError& e) {
      std::fprintf(stderr, "layersift: state file: %s\n", e.what());
      if (!result.stopped) exit_code = kExitIncomplete;
    }
  }

  ReportOutput output;
  output.format = flags.format;
  output.output = flags.output;
  output.show_secrets = flags.show_secrets;
  output.stats = flags.stats;
  output.rule_set_hash = rule_set_hash;
  WriteReport(result, enabled, output);
  if (flags.format != "text" && !flags.quiet) {
    // Machine formats go to the output; a one-line summary still helps the person who ran it.
    std::fprintf(stderr, "layersift: %zu findings (%llu suppressed), %zu errors, %zu skipped, %.1f MB in %.2f s",
                 result.findings.size(), static_cast<unsigned long long>(result.findings_suppressed),
                 result.errors.size(), result.skipped.size(),
                 static_cast<double>(result.totals.uncompressed_bytes) / 1e6, result.wall_seconds);
    if (result.blobs_recalled > 0 || result.blobs_other_shard > 0) {
      std::fprintf(stderr, "; %llu of %llu layers recalled from %s, %llu left to other shards",
                   static_cast<unsigned long long>(result.blobs_recalled),
                   static_cast<unsigned long long>(result.blobs_scanned), state ? state->path().c_str() : "-",
                   static_cast<unsigned long long>(result.blobs_other_shard));
    }
    std::fprintf(stderr, "\n");
    if (flags.stats) {
      const StageStats& s = result.totals;
      std::fprintf(stderr,
                   "stages (CPU s, summed over threads): read %.3f decompress %.3f walk %.3f match %.3f; "
                   "files %llu scanned, %llu excluded, %llu binary skipped\n",
                   s.read_seconds, s.decompress_seconds, s.walk_seconds, s.match_seconds,
                   static_cast<unsigned long long>(s.files_scanned),
                   static_cast<unsigned long long>(s.files_excluded),
                   static_cast<unsigned long long>(s.files_binary_skipped));
    }
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"layersift: find leaked secrets in container image layers"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 no findings, 1 findings (N instead with --findings-exit-code N), 2 usage or "
      "rule error, 3 incomplete (some target or layer could not be scanned; findings are still "
      "reported).");

  ScanFlags scan;
  CLI::App* scan_cmd = app.add_subcommand("scan", "Scan images, layers and directories for secrets");
  scan_cmd->add_option("targets", scan.targets,
                       "What to scan: docker://REGISTRY/REPO[:TAG|@DIGEST] (pulled from a registry; a bare "
                       "reference such as alpine:3 or localhost:5000/app works too when no such "
                       "local path exists), oci:DIR[:TAG] (OCI image layout; every manifest if no tag), "
                       "docker-archive:FILE (docker save output), layer:FILE (one layer blob: "
                       "tar, tar+gzip or tar+zstd), dir:PATH (files as they are), "
                       "ecr://ACCOUNT/REGION (every repository of an ECR registry), "
                       "registry://HOST[/PREFIX] (every repository of a registry's catalog, or those "
                       "under PREFIX/; see --include-repo, --tags, --since). A bare path is recognised "
                       "by its content.")
      ->required();
  scan.rules.AddTo(*scan_cmd);
  scan_cmd->add_option("--format", scan.format,
                       "Report format: text (default; the same secret in several places is "
                       "grouped), json, jsonl, sarif (SARIF 2.1.0), gitleaks-json (gitleaks' "
                       "report shape)")
      ->check(CLI::IsMember({"text", "json", "jsonl", "sarif", "gitleaks-json"}));
  scan_cmd->add_option("-o,--output", scan.output, "Write the report to FILE instead of stdout");
  scan_cmd->add_option("--threads", scan.threads, "Matcher threads (default: all cores)")
      ->check(CLI::Range(0u, 1024u));
  scan_cmd->add_option("--max-memory", scan.max_memory,
                       "Memory ceiling for buffered layer data and layers in flight, e.g. 512MiB "
                       "(default), 2GiB");
  scan_cmd->add_option("--chunk-size", scan.chunk_size,
                       "Bytes of file data per matcher work unit (default 1MiB; at least 8KiB is "
                       "used)");
  scan_cmd->add_option("--exclude-path", scan.exclude_paths,
                       "Skip files whose path (with a leading /) matches this RE2 regex "
                       "(repeatable; added to the default exclusions)")
      ->allow_extra_args(false);
  scan_cmd->add_flag("--no-default-excludes", scan.no_default_excludes,
                     "Do not apply the built-in path exclusions (rules/default-excluded-paths.txt)");
  scan_cmd->add_flag("--scan-binaries", scan.scan_binaries,
                     "Also scan files with a NUL byte in their first 8 KiB");
  scan_cmd->add_flag("--show-secrets", scan.show_secrets,
                     "Print raw secrets in the report (they are redacted by default)");
  scan_cmd->add_option("--platform", scan.platforms,
                       "Scan only this platform of multi-platform images, as os/arch[/variant], "
                       "e.g. linux/arm64 (repeatable; default: every platform; attestation "
                       "manifests are never scanned)")
      ->allow_extra_args(false);
  scan_cmd->add_flag("--present-only", scan.present_only,
                     "Report only secrets still present in the final image (not those removed "
                     "by a later layer's whiteout, opaque directory or overwrite)");
  scan_cmd->add_option("--max-archive-depth", scan.max_archive_depth,
                       "Expand archives in layers (zip, jar, war, ear, whl, apk, tar, tar.gz, "
                       "tgz, tar.zst) nested up to this depth (default 2; 0 scans them as plain "
                       "files); deeper ones are reported as skipped")
      ->check(CLI::Range(0, 16));
  scan_cmd->add_option("--max-archive-expanded", scan.max_archive_expanded,
                       "Zip-bomb guard: stop expanding an archive (with its nested ones) past "
                       "this many bytes, e.g. 1GiB (default)");
  scan_cmd->add_option("--max-archive-ratio", scan.max_archive_ratio,
                       "Zip-bomb guard: stop expanding an archive past this many times its own "
                       "size (default 100; checked from 1 MiB expanded)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}));
  scan_cmd->add_option("--max-zip-size", scan.max_zip_size,
                       "Zip archives are read into memory to be expanded; larger ones are "
                       "reported as skipped (default 256MiB)");
  scan.suppressions.AddTo(*scan_cmd);
  AddFindingsExitCodeOption(*scan_cmd, scan.findings_exit_code);
  scan_cmd->add_flag("-q,--quiet", scan.quiet, "No progress line or summary on stderr");
  scan_cmd->add_flag("--stats", scan.stats, "Print per-stage statistics");
  scan.registry.AddTo(*scan_cmd);
  scan.perimeter.AddTo(*scan_cmd);
  scan.state.AddTo(*scan_cmd);

  ListFlags list;
  CLI::App* list_cmd = app.add_subcommand(
      "ls", "List a registry's repositories (REGISTRY) or a repository's tags (REGISTRY/REPO)");
  list_cmd->add_option("what", list.what, "REGISTRY (e.g. localhost:5000) or REGISTRY/REPO")->required();
  list_cmd->add_option("--format", list.format, "text (one per line, default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  list_cmd->add_option("--page-size", list.page_size,
                       "Entries asked for per page (default 1000); every page is read, following "
                       "the registry's Link headers")
      ->check(CLI::Range(1u, 100000u));
  list.registry.AddTo(*list_cmd);

  RuleCommands rule_commands;
  rule_commands.AddTo(app);
  EcrCommands ecr_commands;
  ecr_commands.AddTo(app);
  StateCommands state_commands;
  state_commands.AddTo(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitClean : kExitUsage;
  }
  try {
    if (scan_cmd->parsed()) {
      std::string arguments;
      for (int i = 1; i < argc; ++i) arguments += (i > 1 ? " " : "") + std::string(argv[i]);
      return RunScan(scan, arguments);
    }
    if (list_cmd->parsed()) return RunList(list);
    int rc = rule_commands.Run();
    if (rc >= 0) return rc;
    rc = ecr_commands.Run();
    if (rc >= 0) return rc;
    rc = state_commands.Run();
    if (rc >= 0) return rc;
  } catch (const RuleError& e) {
    std::fprintf(stderr, "layersift: rule error: %s\n", e.what());
    return kExitUsage;
  } catch (const StateError& e) {
    std::fprintf(stderr, "layersift: state file: %s\n", e.what());
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "layersift: %s\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "layersift: %s\n", e.what());
    return kExitIncomplete;
  }
  return kExitUsage;
}
