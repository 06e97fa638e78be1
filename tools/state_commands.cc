#include "state_commands.h"

#include <unistd.h>

#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fnmatch.h>
#include <iostream>
#include <nlohmann/json.hpp>

#include "exit_codes.h"
#include "size_parse.h"
#include "layersift/engine/suppression.h"
#include "layersift/fetch/ecr.h"

namespace layersift {
namespace {

constexpr const char* kStateEnv = "LAYERSIFT_STATE";

std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};

extern "C" void OnStopSignal(int signal_number) {
  g_stop_requested.store(true);
  g_stop_signal.store(signal_number);
  static const char kMessage[] =
      "\nlayersift: stopping: layers in flight are cut short, what is done is kept; signal again to abort\n";
  const ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
  std::signal(signal_number, SIG_DFL);  // a second signal ends the process
}

// --state, else $LAYERSIFT_STATE, else the cache directory; "" when the state is off.
std::string StatePath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(kStateEnv); env != nullptr && env[0] != '\0') {
    return std::strcmp(env, "off") == 0 ? "" : env;
  }
  return DefaultStatePath();
}

// An existing state file (reports and status never create one).
std::unique_ptr<StateStore> OpenExisting(const std::string& flag) {
  const std::string path = StatePath(flag);
  if (path.empty()) throw std::invalid_argument(std::string(kStateEnv) + "=off: give --state PATH");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw std::invalid_argument("no state file at " + path + " (scans write it; give --state PATH for another)");
  }
  return StateStore::Open(path);
}

// A --since DATE as the store writes times ("2026-01-31T12:00:00.000Z"), so that they compare as
// text.
std::string NormalizeSince(const std::string& text) {
  const std::optional<double> seconds = ParseUtcDateTime(text);
  if (!seconds) {
    throw std::invalid_argument("--since " + text + ": not a date; give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  }
  const std::time_t t = static_cast<std::time_t>(*seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[40];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return out;
}


}  // namespace

const std::atomic<bool>* InstallStopHandler() {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  return &g_stop_requested;
}

int StopExitCode() {
  const int signal_number = g_stop_signal.load();
  return signal_number == 0 ? 0 : 128 + signal_number;
}

void StateFlags::AddTo(CLI::App& scan) {
  const std::string group = "State (incremental and resumable scans)";
  scan.add_option("--state", state,
                  "State file: layers already scanned with the same rules are not downloaded again, "
                  "and each layer's findings are committed as soon as it is done, so a killed scan "
                  "resumes where it stopped (default: $LAYERSIFT_STATE, else "
                  "$XDG_CACHE_HOME/layersift/state.db; LAYERSIFT_STATE=off disables it)")
      ->group(group);
  scan.add_flag("--no-state", no_state, "Neither read nor write a state file")->group(group);
  scan.add_flag("--rescan", rescan,
                "Read every layer again even if the state file has it (the results replace the stored "
                "ones); --show-secrets implies it, since the state file never holds raw secrets")
      ->group(group);
  scan.add_option("--shard", shard,
                  "I/N: scan only the layers whose digest falls to shard I of N (0 <= I < N), so that "
                  "N machines split one scan with no coordination; each writes its own --state file, "
                  "combined with `layersift merge`")
      ->group(group);
}

std::unique_ptr<StateStore> StateFlags::Open(const std::vector<Rule>& rules, const std::string& rule_set_hash,
                                             const std::string& arguments, bool show_secrets,
                                             ScanOptions& options) const {
  if (!shard.empty()) {
    unsigned index = 0, count = 0;
    char tail = 0;
    if (std::sscanf(shard.c_str(), "%u/%u%c", &index, &count, &tail) != 2 || count == 0 || index >= count ||
        shard.find('-') != std::string::npos) {
      throw std::invalid_argument("--shard " + shard + ": expected I/N with 0 <= I < N, e.g. 0/4");
    }
    options.shard_index = index;
    options.shard_count = count;
  }
  if (no_state && !state.empty()) throw std::invalid_argument("--state and --no-state contradict each other");
  if (no_state) return nullptr;
  const std::string path = StatePath(state);
  if (path.empty()) return nullptr;
  std::unique_ptr<StateStore> store = StateStore::Open(path);
  store->UseRules(rules, rule_set_hash);
  store->BeginRun(arguments, shard);
  options.memory = store.get();
  options.recall = !rescan && !show_secrets;
  return store;
}

void StateCommands::AddTo(CLI::App& app) {
  const char* state_help = "State file (default: $LAYERSIFT_STATE, else $XDG_CACHE_HOME/layersift/state.db)";
  report_ = app.add_subcommand(
      "report",
      "Report the findings in the state file, without scanning: every image scans recorded, with "
      "presence and attribution recomputed from the stored layer order; each layer's newest "
      "complete scan is used. Exit codes as for scan");
  report_->add_option("--state", state_, state_help);
  report_->add_option("--format", output_.format, "text (default), json, jsonl, sarif or gitleaks-json")
      ->check(CLI::IsMember({"text", "json", "jsonl", "sarif", "gitleaks-json"}));
  report_->add_option("-o,--output", output_.output, "Write the report to FILE instead of stdout");
  report_->add_option("--repo", repositories_,
                      "Only images of repositories matching this glob (`*` also matches `/`; matched "
                      "against REPO and REGISTRY/REPO, or the path of local images; repeatable)")
      ->allow_extra_args(false);
  report_->add_option("--rule", rule_ids_, "Only findings of this rule id (repeatable)")->allow_extra_args(false);
  report_->add_flag("--present-only", present_only_,
                    "Only secrets still present in the final image of their image");
  report_->add_option("--since", since_,
                      "Only images seen by a scan since this UTC date or time (YYYY-MM-DD or "
                      "YYYY-MM-DDTHH:MM:SSZ)");
  suppressions_.AddTo(*report_);
  AddFindingsExitCodeOption(*report_, findings_exit_code_);
  report_->add_flag("-q,--quiet", quiet_, "No summary on stderr");

  status_ = app.add_subcommand("status", "Summarise the state file: runs, images, layers scanned, findings, errors, size");
  status_->add_option("--state", state_, state_help);
  status_->add_option("--format", status_format_, "text (default) or json")->check(CLI::IsMember({"text", "json"}));

  merge_ = app.add_subcommand(
      "merge",
      "Combine state files (the shards of a --shard scan) into OUT: images, layers and runs are "
      "united; a layer scanned in several keeps its complete, then newest, scan. Merging a file "
      "again changes nothing");
  merge_->add_option("out", merge_output_, "The state file to merge into (created if missing)")->required();
  merge_->add_option("inputs", merge_inputs_, "State files to merge")->required();
}

int StateCommands::Run() {
  if (report_->parsed()) return Report();
  if (status_->parsed()) return Status();
  if (merge_->parsed()) return Merge();
  return -1;
}

int StateCommands::Report() {
  const std::string since = since_.empty() ? "" : NormalizeSince(since_);
  const Suppressions suppressions = suppressions_.Load();
  std::unique_ptr<StateStore> store = OpenExisting(state_);
  StateQuery query;
  query.repository_globs = repositories_;
  query.seen_since = since;
  std::vector<Rule> rules;
  std::vector<Target> targets = store->LoadTargets(query, &rules);
  ScanResult result = AssembleFromMemory(std::move(targets), rules, *store);
  if (!rule_ids_.empty()) {
    std::erase_if(result.findings, [&](const Finding& f) {
      return std::find(rule_ids_.begin(), rule_ids_.end(), rules[f.rule_index].id) == rule_ids_.end();
    });
  }
  ApplySuppressions(suppressions, rules, result);
  if (present_only_) KeepPresentOnly(result);
  output_.from_state = true;
  WriteReport(result, rules, output_);
  if (!quiet_ && output_.format != "text") {
    std::fprintf(stderr, "layersift: %zu findings, %zu errors from %s (%zu images)\n", result.findings.size(),
                 result.errors.size(), store->path().c_str(), result.targets.size());
  }
  return ExitCodeOf(result, findings_exit_code_);
}

int StateCommands::Status() {
  std::unique_ptr<StateStore> store = OpenExisting(state_);
  const StateStatus s = store->Status();
  if (status_format_ == "json") {
    const nlohmann::ordered_json j = {{"state", store->path()},
                                      {"schema_version", s.schema_version},
                                      {"runs", s.runs},
                                      {"runs_unfinished", s.runs_unfinished},
                                      {"last_run_started", s.last_run_started},
                                      {"last_run_ended", s.last_run_ended},
                                      {"last_run_exit_status", s.last_run_exit_status},
                                      {"images", s.images},
                                      {"repositories", s.repositories},
                                      {"layers_scanned", s.layers_scanned},
                                      {"layers_failed", s.layers_failed},
                                      {"findings", s.findings},
                                      {"rule_sets", s.rule_sets},
                                      {"database_bytes", s.database_bytes}};
    std::cout << j.dump(2) << "\n";
    return kExitClean;
  }
  std::printf("state file    %s (schema v%d, %s)\n", store->path().c_str(), s.schema_version,
              HumanSize(s.database_bytes).c_str());
  std::printf("runs          %llu (%llu unfinished)", static_cast<unsigned long long>(s.runs),
              static_cast<unsigned long long>(s.runs_unfinished));
  if (!s.last_run_started.empty()) {
    std::printf("; last started %s, %s", s.last_run_started.c_str(),
                s.last_run_ended.empty() ? "unfinished"
                                         : ("ended " + s.last_run_ended + ", exit " +
                                            std::to_string(s.last_run_exit_status)).c_str());
  }
  std::printf("\nimages        %llu in %llu repositories\n", static_cast<unsigned long long>(s.images),
              static_cast<unsigned long long>(s.repositories));
  std::printf("layers        %llu scanned (layers and configs), %llu failed\n",
              static_cast<unsigned long long>(s.layers_scanned), static_cast<unsigned long long>(s.layers_failed));
  // A report shows a shared layer's findings once per image; here each layer counts once.
  std::printf("findings      %llu (in distinct layers and configs)\n", static_cast<unsigned long long>(s.findings));
  std::printf("rule sets     %llu\n", static_cast<unsigned long long>(s.rule_sets));
  return kExitClean;
}

int StateCommands::Merge() {
  std::unique_ptr<StateStore> out = StateStore::Open(merge_output_);
  for (const std::string& input : merge_inputs_) {
    out->Merge(input);
    std::fprintf(stderr, "layersift: merged %s into %s\n", input.c_str(), merge_output_.c_str());
  }
  return kExitClean;
}

}  // namespace layersift
