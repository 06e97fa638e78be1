// The state store on the command line: scan's --state, --no-state, --rescan and --shard, the
// stop signals, and the `report`, `status` and `merge` subcommands.
#ifndef LAYERSIFT_TOOLS_STATE_COMMANDS_H_
#define LAYERSIFT_TOOLS_STATE_COMMANDS_H_

#include <CLI/CLI.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "exit_codes.h"
#include "layersift/engine/scanner.h"
#include "layersift/engine/state_store.h"
#include "report_output.h"

namespace layersift {

// scan's state flags.
struct StateFlags {
  std::string state;  // --state PATH
  bool no_state = false;
  bool rescan = false;
  std::string shard;  // --shard I/N

  void AddTo(CLI::App& scan);
  // The store for this scan (opened, rules recorded, run begun), or null with --no-state or
  // LAYERSIFT_STATE=off. Also sets options.memory, recall and the shard. Throws
  // std::invalid_argument for a malformed --shard, StateError for a state file that cannot be used.
  std::unique_ptr<StateStore> Open(const std::vector<Rule>& rules, const std::string& rule_set_hash,
                                   const std::string& arguments, bool show_secrets, ScanOptions& options) const;
};

// Set by SIGINT and SIGTERM once the handler is installed: the scan stops taking new layers and
// cuts short the ones in flight; a second signal ends the process at once.
const std::atomic<bool>* InstallStopHandler();
// 128 + the signal that stopped the scan, or 0.
int StopExitCode();

class StateCommands {
 public:
  void AddTo(CLI::App& app);
  // Runs the subcommand that was parsed; returns the exit code, or -1 if none of ours ran.
  int Run();

 private:
  int Report();
  int Status();
  int Merge();

  CLI::App* report_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* merge_ = nullptr;
  std::string state_;
  ReportOutput output_;
  SuppressionFlags suppressions_;
  std::vector<std::string> repositories_;
  std::vector<std::string> rule_ids_;
  bool present_only_ = false;
  int findings_exit_code_ = kExitFindings;
  std::string since_;
  bool quiet_ = false;
  std::string status_format_ = "text";
  std::string merge_output_;
  std::vector<std::string> merge_inputs_;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_STATE_COMMANDS_H_
