// What every report writer needs to say about a finding, in one place, so the formats agree.
#ifndef LAYERSIFT_ENGINE_SRC_REPORT_INTERNAL_H_
#define LAYERSIFT_ENGINE_SRC_REPORT_INTERNAL_H_

#include <nlohmann/json.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "layersift/engine/report.h"

namespace layersift {

// The image a finding or issue belongs to; null for directories and unresolved targets.
const ImageDescriptor* ImageOf(const ScanResult& result, size_t target, size_t image);

// The layer blob's digest; empty for config and directory findings.
std::string LayerDigestOf(const Finding& f, const ScanResult& result);

// The instruction that made the finding's layer (redacted unless show_secrets); empty if unknown
// or the finding is not in a layer.
std::string CreatedByOf(const Finding& f, const ScanResult& result, bool show_secrets);

// A finding as the json and jsonl reports write it; other formats pick their fields from it, so
// that every format says the same thing the same way.
nlohmann::ordered_json FindingJson(const Finding& f, const ScanResult& result,
                                   const std::vector<Rule>& rules, const ReportOptions& options);

// Where an error or skip happened: target, image_digest, layer_index, layer_digest.
nlohmann::ordered_json WhereJson(const ScanResult& result, const ScanPlace& place);

// The SARIF 2.1.0 and gitleaks-report writers (report_sarif.cc, report_gitleaks.cc).
std::unique_ptr<ReportSink> NewSarifWriter(const ScanResult& result, const std::vector<Rule>& rules,
                                           const ReportOptions& options, std::ostream& out);
std::unique_ptr<ReportSink> NewGitleaksWriter(const ScanResult& result,
                                              const std::vector<Rule>& rules,
                                              const ReportOptions& options, std::ostream& out);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_REPORT_INTERNAL_H_
