// Report writers: sinks that the scan's results are pushed into, in order.
#ifndef LAYERSIFT_ENGINE_REPORT_H_
#define LAYERSIFT_ENGINE_REPORT_H_

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "layersift/engine/matcher.h"
#include "layersift/engine/scanner.h"

namespace layersift {

enum class ReportFormat { kText, kJson, kJsonl, kSarif, kGitleaksJson };

// Throws std::invalid_argument for an unknown name.
ReportFormat ParseReportFormat(std::string_view name);

struct ReportOptions {
  bool show_secrets = false;  // raw secrets are written only when the user asks for them
  bool include_stats = false; // text format: append the per-stage statistics
  bool color = false;         // text format: ANSI colours
  std::string rule_set_hash;  // RuleSetHash() of the rules the scan ran with; "" if several
  bool from_state = false;    // a report from the state file: no raw secrets, nothing was read
};

// A sink for one scan's results. PushReport calls OnFinding for each finding in order, then
// OnError for each error, then Finish once.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  virtual void OnFinding(const Finding& finding) = 0;
  virtual void OnError(const ScanIssue& error) = 0;
  virtual void Finish() = 0;
};

// `result` and `rules` must outlive the sink.
std::unique_ptr<ReportSink> NewReportWriter(ReportFormat format, const ScanResult& result,
                                            const std::vector<Rule>& rules,
                                            const ReportOptions& options, std::ostream& out);

void PushReport(const ScanResult& result, ReportSink& sink);

// "AKIA…20": the first characters (4, fewer for short secrets) and the length.
std::string RedactSecret(std::string_view secret);

// Hex SHA-256 of the secret bytes: lets users match findings to known secrets without the raw
// value being stored anywhere.
std::string SecretSha256(std::string_view secret);

// The facts of `secret`, found at 1-based `line` and `column`.
SecretFacts SecretFactsOf(std::string_view secret, uint64_t line, uint64_t column);

// Stable per rule, location (layer digest or target, path, offset) and secret.
std::string FindingFingerprint(const Finding& finding, const ScanResult& result,
                               const std::vector<Rule>& rules);
// The same from its parts: `location` is the layer or config blob's digest (or the target, for
// directories).
std::string FingerprintOf(std::string_view rule_id, std::string_view location, std::string_view path,
                          uint64_t offset, std::string_view secret_sha256);

inline constexpr std::string_view kReportSchemaVersion = "1";

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_REPORT_H_
