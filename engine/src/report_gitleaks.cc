// The report shape of gitleaks (v8 `--report-format json`): a JSON array of its Finding objects,
// so that tools which already import gitleaks reports (DefectDojo, for one) take ours.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "layersift/engine/matcher.h"
#include "report_fields.h"
#include "report_internal.h"

namespace layersift {
namespace {

using nlohmann::ordered_json;

// gitleaks' Commit names the git commit a secret was added in; the blob that added ours (the
// layer, or the image config for its virtual files) is the nearest equivalent.
std::string CommitOf(const Finding& f, const ScanResult& result) {
  if (f.layer_index != kNoLayer) return LayerDigestOf(f, result);
  const ImageDescriptor* image = ImageOf(result, f.target_index, f.image_index);
  return image != nullptr ? image->config_digest : "";
}

class GitleaksWriter final : public ReportSink {
 public:
  GitleaksWriter(const ScanResult& result, const std::vector<Rule>& rules,
                 const ReportOptions& options, std::ostream& out)
      : result_(result), rules_(rules), options_(options), out_(out) {}

  void OnFinding(const Finding& f) override {
    const Rule& rule = rules_[f.rule_index];
    const std::string& secret = options_.show_secrets ? f.secret : f.facts.redacted;
    ordered_json j;
    j["RuleID"] = rule.id;
    j["Description"] = rule.name;
    j["StartLine"] = f.line;
    // gitleaks' end column is the column of the last character, not the one past it.
    j["EndLine"] = f.facts.last_line;
    j["StartColumn"] = f.column;
    j["EndColumn"] = f.facts.last_column;
    // Only the secret is kept, not the whole match: Match repeats it.
    j["Match"] = secret;
    j["Secret"] = secret;
    j["File"] = f.path;
    j["SymlinkFile"] = "";
    j["Commit"] = CommitOf(f, result_);
    j["Entropy"] = f.facts.entropy;
    j["Author"] = "";
    j["Email"] = "";
    j["Date"] = "";
    j["Message"] = CreatedByOf(f, result_, options_.show_secrets);
    j["Tags"] = RuleTags(rule);
    j["Fingerprint"] = FindingFingerprint(f, result_, rules_);
    findings_.push_back(std::move(j));
  }

  // gitleaks' shape has no place for errors; the CLI counts them on stderr and exits with 3.
  void OnError(const ScanIssue&) override {}

  void Finish() override {
    // Paths and raw secrets need not be UTF-8, which JSON strings must be.
    out_ << findings_.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  }

 private:
  const ScanResult& result_;
  const std::vector<Rule>& rules_;
  const ReportOptions& options_;
  std::ostream& out_;
  ordered_json findings_ = ordered_json::array();
};

}  // namespace

std::unique_ptr<ReportSink> NewGitleaksWriter(const ScanResult& result,
                                              const std::vector<Rule>& rules,
                                              const ReportOptions& options, std::ostream& out) {
  return std::make_unique<GitleaksWriter>(result, rules, options, out);
}

}  // namespace layersift
