// Writing a report (of a scan, or from the state store) where the user asked: the same flags and
// the same writers for both.
#ifndef LAYERSIFT_TOOLS_REPORT_OUTPUT_H_
#define LAYERSIFT_TOOLS_REPORT_OUTPUT_H_

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "layersift/engine/report.h"
#include "layersift/engine/scanner.h"
#include "layersift/engine/suppression.h"

namespace layersift {

struct ReportOutput {
  std::string format = "text";
  std::string output;  // "" = stdout
  bool show_secrets = false;
  bool stats = false;
  std::string rule_set_hash;
  bool from_state = false;
};

// --baseline, --ignore-file, --no-ignore-file: findings not to report again.
struct SuppressionFlags {
  std::string baseline;
  std::vector<std::string> ignore_files;
  bool no_ignore_file = false;

  void AddTo(CLI::App& command);
  // The baseline and ignore files named, and ./.layersiftignore if there is one. Throws
  // std::invalid_argument for a file that cannot be used.
  Suppressions Load() const;
};

// Writes `result` with `rules`; throws std::runtime_error if the output cannot be written.
void WriteReport(const ScanResult& result, const std::vector<Rule>& rules, const ReportOutput& output);

// --findings-exit-code N (0 to 255, default 1) into `code`: the exit code of a complete run with
// findings. scan and report both take it.
void AddFindingsExitCodeOption(CLI::App& command, int& code);

// 0 no findings, `findings_exit_code` findings (after suppressions and --present-only), 3
// incomplete (whatever the findings).
int ExitCodeOf(const ScanResult& result, int findings_exit_code);

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_REPORT_OUTPUT_H_
