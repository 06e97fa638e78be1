#include "report_output.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <stdexcept>

#include "exit_codes.h"

namespace layersift {

void WriteReport(const ScanResult& result, const std::vector<Rule>& rules, const ReportOutput& output) {
  std::ofstream file;
  if (!output.output.empty()) {
    file.open(output.output, std::ios::binary | std::ios::trunc);
    if (!file) throw std::runtime_error("cannot write " + output.output);
  }
  std::ostream& out = output.output.empty() ? std::cout : file;
  ReportOptions options;
  options.show_secrets = output.show_secrets;
  options.include_stats = output.stats;
  options.color = output.output.empty() && isatty(STDOUT_FILENO);
  options.rule_set_hash = output.rule_set_hash;
  const ReportFormat format = ParseReportFormat(output.format);
  PushReport(result, *NewReportWriter(format, result, rules, options, out));
  out.flush();
  if (!out) throw std::runtime_error("error writing the report");
}

int ExitCodeOf(const ScanResult& result) {
  if (result.incomplete()) return kExitIncomplete;
  return result.findings.empty() ? kExitClean : kExitFindings;
}

}  // namespace layersift
