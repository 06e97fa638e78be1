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
  options.from_state = output.from_state;
  const ReportFormat format = ParseReportFormat(output.format);
  PushReport(result, *NewReportWriter(format, result, rules, options, out));
  out.flush();
  if (!out) throw std::runtime_error("error writing the report");
}

void SuppressionFlags::AddTo(CLI::App& command) {
  command.add_option("--baseline", baseline,
                     "A previous JSON report (--format json): its findings are not reported "
                     "again (matched by fingerprint; counted as suppressed)");
  command.add_option("--ignore-file", ignore_files,
                     "File of finding fingerprints to suppress, one per line, # comments "
                     "(repeatable; default: ./.layersiftignore if it exists)")
      ->allow_extra_args(false);
  command.add_flag("--no-ignore-file", no_ignore_file, "Do not read ./.layersiftignore");
}

Suppressions SuppressionFlags::Load() const {
  Suppressions suppressions;
  if (!baseline.empty()) suppressions.AddBaselineReport(baseline);
  for (const std::string& file : ignore_files) suppressions.AddIgnoreFile(file);
  if (!no_ignore_file && ignore_files.empty()) {
    const std::string local(kIgnoreFileName);
    if (access(local.c_str(), F_OK) == 0) suppressions.AddIgnoreFile(local);
  }
  return suppressions;
}

void AddFindingsExitCodeOption(CLI::App& command, int& code) {
  command.add_option("--findings-exit-code", code,
                     "Exit code of a complete run with findings (after suppressions and "
                     "--present-only), 0 to 255 (default 1); 0 lets a job succeed with findings "
                     "while usage errors (2), incomplete runs (3) and signals (128+N) still fail it")
      ->check(CLI::Range(0, 255));
}

int ExitCodeOf(const ScanResult& result, int findings_exit_code) {
  if (result.incomplete()) return kExitIncomplete;
  return result.findings.empty() ? kExitClean : findings_exit_code;
}

}  // namespace layersift
