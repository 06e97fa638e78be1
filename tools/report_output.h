// Writing a report (of a scan, or from the state store) where the user asked: the same flags and
// the same writers for both.
#ifndef LAYERSIFT_TOOLS_REPORT_OUTPUT_H_
#define LAYERSIFT_TOOLS_REPORT_OUTPUT_H_

#include <string>
#include <vector>

#include "layersift/engine/report.h"
#include "layersift/engine/scanner.h"

namespace layersift {

struct ReportOutput {
  std::string format = "text";
  std::string output;  // "" = stdout
  bool show_secrets = false;
  bool stats = false;
  std::string rule_set_hash;
};

// Writes `result` with `rules`; throws std::runtime_error if the output cannot be written.
void WriteReport(const ScanResult& result, const std::vector<Rule>& rules, const ReportOutput& output);

// 0 no findings, 1 findings, 3 incomplete.
int ExitCodeOf(const ScanResult& result);

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_REPORT_OUTPUT_H_
