#include "rule_commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <tuple>

#include "exit_codes.h"
#include "layersift/engine/rule_check.h"
#include "layersift/engine/rule_eval.h"
#include "layersift/engine/rule_set.h"
#include "layersift/engine/scanner.h"
#include "layersift/rules/regex_export.h"
#include "layersift/rules/rule_loader.h"

namespace layersift {
namespace {

using nlohmann::ordered_json;

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char text[16];
  std::snprintf(text, sizeof(text), "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

ordered_json RowJson(const EvalRow& row) {
  auto ratio = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? ordered_json(nullptr)
                      : ordered_json(static_cast<double>(part) / static_cast<double>(whole));
  };
  return ordered_json{{"kind", row.kind},
                      {"vendor", row.vendor.empty() ? ordered_json(nullptr) : ordered_json(row.vendor)},
                      {"covered", row.covered},
                      {"positives", row.positives},
                      {"detected", row.detected},
                      {"recall", ratio(row.detected, row.positives)},
                      {"synthetic_positives", row.synthetic_positives},
                      {"synthetic_detected", row.synthetic_detected},
                      {"synthetic_recall", ratio(row.synthetic_detected, row.synthetic_positives)},
                      {"negatives", row.negatives},
                      {"false_alarms", row.false_alarms},
                      {"false_alarm_rate", ratio(row.false_alarms, row.negatives)}};
}

void PrintRow(const EvalRow& row) {
  const std::string recall = row.covered ? Percent(row.detected, row.positives) : "no rule";
  const std::string synthetic =
      row.covered ? Percent(row.synthetic_detected, row.synthetic_positives) : "no rule";
  const std::string alarms = row.covered ? Percent(row.false_alarms, row.negatives) : "-";
  std::printf("%-26s %-18s %6llu %8s %6llu %8s %6llu %5llu %7s\n", row.kind.c_str(),
              row.vendor.c_str(), static_cast<unsigned long long>(row.positives), recall.c_str(),
              static_cast<unsigned long long>(row.synthetic_positives), synthetic.c_str(),
              static_cast<unsigned long long>(row.negatives),
              static_cast<unsigned long long>(row.false_alarms), alarms.c_str());
}

void AddTextOrJsonFormat(CLI::App& command, std::string& format) {
  command.add_option("--format", format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
}

}  // namespace

void RuleCommands::AddTo(CLI::App& app) {
  CLI::App* rules =
      app.add_subcommand("rules", "List, check, evaluate, profile and export rule sets");
  rules->require_subcommand(1);

  list_ = rules->add_subcommand("list", "List the rules in effect: id, kind, vendor, confidence, "
                                        "enabled, name");
  list_flags_.AddTo(*list_);
  AddTextOrJsonFormat(*list_, list_format_);

  check_ = rules->add_subcommand(
      "check",
      "Prove rules against their examples: each compiles, each example yields the expected "
      "secret and no negative example fires, on both matcher engines; lint: examples and "
      "negative examples present, keywords of 3+ characters, no pattern that begins with a "
      "repeated character class. Without FILES: the built-in set. Exit 0 when all pass, 1 "
      "otherwise.");
  check_->add_option("files", check_files_,
                     "Rule files or directories to check instead of the built-in set");
  check_flags_.AddTo(*check_, /*with_selection=*/false);
  check_->add_flag("!--one-engine", check_both_engines_,
                   "Check only with the engine given by --engine (default: both)");

  eval_ = rules->add_subcommand(
      "eval",
      "Measure the rules in effect on labelled examples (JSON lines: text, label "
      "positive/negative, kind, vendor, synthetic, path): per kind, recall on positives and "
      "false alarms on negatives, counting only rules of the example's kind (vendor for "
      "other-service)");
  eval_->add_option("files", eval_files_, "Labelled example files (.jsonl)")->required();
  eval_flags_.AddTo(*eval_);
  AddTextOrJsonFormat(*eval_, eval_format_);

  profile_ = rules->add_subcommand(
      "profile",
      "Scan targets and report, per rule, the keyword candidates its regex examined, the "
      "findings it confirmed, the matches its filters dropped and the time spent confirming: "
      "which rule is noisy or slow");
  profile_->add_option("targets", profile_targets_, "What to scan, as for 'layersift scan'")
      ->required();
  profile_flags_.AddTo(*profile_);
  AddTextOrJsonFormat(*profile_, profile_format_);
  profile_->add_option("--threads", profile_threads_, "Matcher threads (default: all cores)");
  profile_->add_flag("--no-default-excludes", profile_no_default_excludes_,
                     "Do not apply the built-in path exclusions");

  export_ = rules->add_subcommand(
      "export",
      "Write the regexes of the enabled rules in effect as a ripgrep pattern file, one per "
      "line, for 'rg -U -f FILE' (ripgrep 13's regex syntax). Each RE2 pattern is translated to "
      "Rust regex syntax with layersift's semantics: bytes, not UTF-8 (Unicode off), \\d \\w "
      "\\s \\b ASCII as in RE2, ^ and $ the start and end of the file unless the rule says "
      "(?m). -U "
      "(--multiline) is needed because rules match across lines. rg gets the regex only: not "
      "the keywords (a layersift match must contain one of its rule's keywords, "
      "case-insensitively), min_entropy, allowlists and stopwords, path scoping (paths), "
      "max_match_bytes, offline validation, nor the default path exclusions; so rg reports a "
      "superset of the lines layersift reports. A rule that cannot be translated is left out "
      "and named on stderr, with the reason. stderr also gives the rg flags the file needs "
      "(regex size limits). Exit 0 when every enabled rule was exported, 1 when any was left "
      "out.");
  export_flags_.AddTo(*export_);
  export_->get_option("--engine")->group("");  // nothing is matched: hidden, still accepted
  export_->add_option("--format", export_format_, "rg (default): one Rust regex per line")
      ->check(CLI::IsMember({"rg"}));
  export_->add_option("-o,--output", export_output_, "Write to FILE instead of stdout");
}

int RuleCommands::Run() {
  if (list_->parsed()) return List();
  if (check_->parsed()) return Check();
  if (eval_->parsed()) return Eval();
  if (profile_->parsed()) return Profile();
  if (export_->parsed()) return Export();
  return -1;
}

int RuleCommands::List() {
  const std::vector<Rule> rules = list_flags_.Load();
  if (list_format_ == "json") {
    ordered_json out = ordered_json::array();
    for (const Rule& rule : rules) {
      out.push_back(ordered_json{{"id", rule.id},
                                 {"name", rule.name},
                                 {"kind", rule.kind},
                                 {"vendor", rule.vendor},
                                 {"confidence", std::string(ConfidenceName(rule.confidence))},
                                 {"enabled", rule.enabled},
                                 {"validate", rule.validate == Validator::kNone
                                                  ? ordered_json(nullptr)
                                                  : ordered_json(std::string(ValidatorName(rule.validate)))},
                                 {"references", rule.references},
                                 {"source", rule.source}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitClean;
  }
  for (const Rule& rule : rules) {
    std::printf("%-36s %-18s %-14s %-6s %-8s %s\n", rule.id.c_str(), rule.kind.c_str(),
                rule.vendor.c_str(), std::string(ConfidenceName(rule.confidence)).c_str(),
                rule.enabled ? "enabled" : "disabled", rule.name.c_str());
  }
  const size_t enabled = static_cast<size_t>(
      std::count_if(rules.begin(), rules.end(), [](const Rule& r) { return r.enabled; }));
  std::printf("%zu rules, %zu enabled; rule set %s\n", rules.size(), enabled,
              RuleSetHash(rules).c_str());
  return kExitClean;
}

int RuleCommands::Check() {
  RuleFlags flags = check_flags_;
  if (!check_files_.empty()) {
    flags.no_builtin = true;
    flags.rule_paths.insert(flags.rule_paths.end(), check_files_.begin(), check_files_.end());
  }
  const std::vector<Rule> rules = flags.Load();
  std::vector<MatchEngine> engines;
  if (check_both_engines_) {
    engines = {MatchEngine::kVectorscan, MatchEngine::kRe2};
  } else {
    engines = {ParseMatchEngine(flags.engine)};
  }
  size_t total_failures = 0;
  for (MatchEngine engine : engines) {
    const auto failures = CheckRuleExamples(rules, engine);
    const std::string name(MatchEngineName(engine));
    for (const RuleCheckFailure& f : failures) {
      std::printf("FAIL [%s] %s: %s\n", name.c_str(), f.rule_id.c_str(), f.message.c_str());
    }
    size_t examples = 0;
    for (const Rule& rule : rules) examples += rule.examples.size() + rule.negative_examples.size();
    std::printf("%s: %zu rules, %zu examples checked: %zu failure%s\n", name.c_str(), rules.size(),
                examples, failures.size(), failures.size() == 1 ? "" : "s");
    total_failures += failures.size();
  }
  return total_failures == 0 ? kExitClean : kExitFindings;
}

int RuleCommands::Eval() {
  const std::vector<Rule> rules = eval_flags_.Load();
  std::vector<LabelledExample> examples;
  for (const std::string& file : eval_files_) {
    auto more = LoadLabelledExamples(file);
    examples.insert(examples.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  const EvalReport report = EvaluateRules(rules, examples, ParseMatchEngine(eval_flags_.engine));
  const std::string hash = RuleSetHash(rules);
  if (eval_format_ == "json") {
    ordered_json out;
    out["rule_set_hash"] = hash;
    out["examples"] = examples.size();
    out["rows"] = ordered_json::array();
    for (const EvalRow& row : report.rows) out["rows"].push_back(RowJson(row));
    out["covered_total"] = RowJson(report.covered_total);
    out["uncovered_total"] = RowJson(report.uncovered_total);
    std::cout << out.dump(2) << "\n";
    return kExitClean;
  }
  std::printf("%zu examples; rule set %s\n\n", examples.size(), hash.c_str());
  std::printf("%-26s %-18s %6s %8s %6s %8s %6s %5s %7s\n", "kind", "vendor", "pos", "recall",
              "synth", "recall", "neg", "fa", "fa rate");
  for (const EvalRow& row : report.rows) PrintRow(row);
  std::printf("\n");
  PrintRow(report.covered_total);
  PrintRow(report.uncovered_total);
  std::printf(
      "\npos/recall: non-synthetic positives; synth/recall: synthetic positives; neg: negatives; "
      "fa: negatives on which a rule of the same kind (vendor) fired.\n");
  return kExitClean;
}

int RuleCommands::Profile() {
  const std::vector<Rule> rules = profile_flags_.Load();
  MatcherOptions matcher_options;
  matcher_options.engine = ParseMatchEngine(profile_flags_.engine);
  matcher_options.profile_rules = true;
  const auto database = PatternDatabase::Compile(rules, matcher_options);
  ScanOptions options;
  options.threads = profile_threads_;
  if (!profile_no_default_excludes_) options.excluded_path_patterns = DefaultExcludedPathPatterns();
  const ScanResult result = Scanner(*database, options).Scan(profile_targets_);
  const std::vector<Rule>& enabled = database->rules();
  std::vector<size_t> order(enabled.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::vector<RuleProfile>& profile = result.rule_profile;
  // Costliest first: confirm time, then prefilter hits (which cost RE2::Set passes).
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(profile[b].confirm_seconds, profile[b].keyword_hits) <
           std::tie(profile[a].confirm_seconds, profile[a].keyword_hits);
  });
  double total_confirm = 0;
  for (const RuleProfile& p : profile) total_confirm += p.confirm_seconds;
  if (profile_format_ == "json") {
    ordered_json out;
    out["rule_set_hash"] = RuleSetHash(rules);
    out["uncompressed_bytes"] = result.totals.uncompressed_bytes;
    out["bytes_scanned"] = result.totals.bytes_scanned;
    out["match_seconds"] = result.totals.match_seconds;
    out["confirm_seconds"] = total_confirm;
    out["errors"] = result.errors.size();
    out["rules"] = ordered_json::array();
    for (size_t i : order) {
      out["rules"].push_back(ordered_json{{"id", enabled[i].id},
                                          {"keyword_hits", profile[i].keyword_hits},
                                          {"candidates", profile[i].candidates},
                                          {"confirmed", profile[i].confirmed},
                                          {"suppressed", profile[i].suppressed},
                                          {"confirm_seconds", profile[i].confirm_seconds},
                                          {"share", total_confirm > 0 ? profile[i].confirm_seconds / total_confirm : 0.0}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%.1f MB scanned in %.2f s; matcher %.3f s summed over %u threads, of which "
                "confirming %.3f s\n\n",
                static_cast<double>(result.totals.bytes_scanned) / 1e6, result.wall_seconds,
                result.totals.match_seconds, result.threads, total_confirm);
    std::printf("%-36s %12s %12s %10s %10s %12s %7s\n", "rule", "keyword hits", "candidates",
                "confirmed", "suppressed", "confirm ms", "share");
    for (size_t i : order) {
      std::printf("%-36s %12llu %12llu %10llu %10llu %12.2f %7s\n", enabled[i].id.c_str(),
                  static_cast<unsigned long long>(profile[i].keyword_hits),
                  static_cast<unsigned long long>(profile[i].candidates),
                  static_cast<unsigned long long>(profile[i].confirmed),
                  static_cast<unsigned long long>(profile[i].suppressed),
                  profile[i].confirm_seconds * 1e3,
                  total_confirm > 0 ? (std::to_string(static_cast<int>(
                                           100 * profile[i].confirm_seconds / total_confirm + 0.5)) + "%").c_str()
                                    : "-");
    }
  }
  for (const ScanIssue& e : result.errors) {
    std::fprintf(stderr, "layersift: %s: %s\n", result.targets[e.target_index].spec.c_str(),
                 e.message.c_str());
  }
  return result.incomplete() ? kExitIncomplete : kExitClean;
}

int RuleCommands::Export() {
  const std::vector<Rule> rules = export_flags_.Load();
  std::string text;
  size_t enabled = 0, exported = 0, multiline = 0, ripgrep_bytes = 0;
  for (const Rule& rule : rules) {
    if (!rule.enabled) continue;
    ++enabled;
    const RipgrepPattern pattern = ExportForRipgrep(rule);
    if (!pattern.ok()) {
      std::fprintf(stderr, "layersift: left out %s: %s\n", rule.id.c_str(), pattern.reason.c_str());
      continue;
    }
    ++exported;
    if (pattern.needs_multiline) ++multiline;
    ripgrep_bytes += pattern.ripgrep_bytes_estimate;
    text += pattern.pattern;
    text += '\n';
  }
  if (export_output_.empty()) {
    std::cout << text;
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("error writing the patterns");
  } else {
    std::ofstream file(export_output_, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) throw std::runtime_error("cannot write " + export_output_);
  }

  // ripgrep 13 applies 100 MiB, although its --help says 10M (grep-regex's default).
  constexpr size_t kRipgrepDefaultRegexSizeLimitBytes = size_t{100} << 20;
  constexpr size_t kMiB = size_t{1} << 20;
  std::string size_flag;
  std::fprintf(stderr, "layersift: exported %zu of %zu enabled rules%s%s\n", exported, enabled,
               export_output_.empty() ? "" : " to ", export_output_.c_str());
  std::fprintf(stderr,
               "layersift: pass rg -U (--multiline): without it rg ends every match at the end of "
               "a line, where layersift's rules match across lines");
  if (multiline > 0) {
    std::fprintf(stderr, "; and %zu patterns hold a newline, which rg refuses without -U",
                 multiline);
  }
  std::fprintf(stderr, "\n");
  if (ripgrep_bytes > kRipgrepDefaultRegexSizeLimitBytes) {
    size_t limit_mib = 128;  // a power of two with a quarter to spare over the estimate
    while (limit_mib * kMiB < ripgrep_bytes + ripgrep_bytes / 4) limit_mib *= 2;
    size_flag = " --regex-size-limit " + std::to_string(limit_mib) + "M";
    std::fprintf(stderr,
                 "layersift: rg compiles these patterns to about %zu MiB (estimated), over its "
                 "default --regex-size-limit of 100 MiB: pass%s\n",
                 (ripgrep_bytes + kMiB - 1) / kMiB, size_flag.c_str());
  } else {
    std::fprintf(stderr,
                 "layersift: rg compiles these patterns to about %zu MiB (estimated), within its "
                 "default --regex-size-limit (100 MiB in ripgrep 13, whose --help says 10M; a "
                 "smaller limit makes rg refuse them). --dfa-size-limit need not change: past it "
                 "rg is slower, not wrong\n",
                 (ripgrep_bytes + kMiB - 1) / kMiB);
  }
  std::fprintf(stderr,
               "layersift: search as layersift does (hidden files, ignore files not honoured): "
               "rg -U -uu%s -f %s PATH...\n"
               "layersift: rg reports a superset: it has the regexes only, no keywords, entropy, "
               "allowlists, path scoping, match length limit or validation\n",
               size_flag.c_str(), export_output_.empty() ? "FILE" : export_output_.c_str());
  return exported == enabled ? kExitClean : kExitFindings;
}

}  // namespace layersift
