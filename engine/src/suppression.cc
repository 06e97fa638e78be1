#include "layersift/engine/suppression.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "layersift/engine/report.h"

namespace layersift {
namespace {

constexpr size_t kFingerprintHexDigits = 32;

bool IsFingerprint(std::string_view text) {
  return text.size() == kFingerprintHexDigits &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string_view Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

void Suppressions::AddBaselineReport(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read baseline " + path);
  nlohmann::json report;
  try {
    report = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("baseline " + path + " is not valid JSON: " + e.what());
  }
  if (!report.is_object() || !report.contains("findings") || !report["findings"].is_array()) {
    throw std::invalid_argument("baseline " + path +
                                " is not a layersift JSON report (scan --format json)");
  }
  for (const nlohmann::json& finding : report["findings"]) {
    const nlohmann::json fingerprint = finding.is_object() ? finding.value("fingerprint", nlohmann::json()) : nlohmann::json();
    if (!fingerprint.is_string() || !IsFingerprint(fingerprint.get<std::string>())) {
      throw std::invalid_argument("baseline " + path + ": a finding has no valid fingerprint");
    }
    fingerprints_.insert(fingerprint.get<std::string>());
  }
}

void Suppressions::AddIgnoreFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read ignore file " + path);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    std::string_view text = line;
    text = Trim(text.substr(0, text.find('#')));
    if (text.empty()) continue;
    // The fingerprint, then optionally a note on why it is accepted.
    const std::string_view fingerprint = text.substr(0, text.find_first_of(" \t"));
    if (!IsFingerprint(fingerprint)) {
      throw std::invalid_argument(path + ":" + std::to_string(number) + ": '" + std::string(fingerprint) +
                                  "' is not a finding fingerprint (32 lowercase hex digits)");
    }
    fingerprints_.insert(std::string(fingerprint));
  }
}

bool Suppressions::Contains(std::string_view fingerprint) const {
  return fingerprints_.count(std::string(fingerprint)) > 0;
}

void ApplySuppressions(const Suppressions& suppressions, const std::vector<Rule>& rules,
                       ScanResult& result) {
  if (suppressions.size() == 0) return;
  std::vector<Finding>& findings = result.findings;
  const auto kept = std::remove_if(findings.begin(), findings.end(), [&](const Finding& f) {
    return suppressions.Contains(FindingFingerprint(f, result, rules));
  });
  result.findings_suppressed += static_cast<uint64_t>(findings.end() - kept);
  findings.erase(kept, findings.end());
}

void KeepPresentOnly(ScanResult& result) {
  std::vector<Finding>& findings = result.findings;
  const auto kept = std::remove_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.presence.known && !f.presence.present;
  });
  result.findings_not_present += static_cast<uint64_t>(findings.end() - kept);
  findings.erase(kept, findings.end());
}

}  // namespace layersift
