// SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format): one log with one run, so that
// code-scanning dashboards and SARIF viewers can import a scan.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "layersift/engine/matcher.h"
#include "layersift/engine/rule_set.h"
#include "report_fields.h"
#include "report_internal.h"

namespace layersift {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kSarifSchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";

// Keys of result.partialFingerprints. Versioned, as SARIF asks, so that a later change of what
// goes into a fingerprint cannot be mistaken for the same one.
constexpr std::string_view kFingerprintKey = "layersift/v1";
constexpr std::string_view kSecretSha256Key = "secretSha256/v1";

// SARIF's level says how much a result matters; how sure we are that it is a real secret is the
// closest thing a finding has.
std::string LevelOf(Confidence confidence) {
  switch (confidence) {
    case Confidence::kHigh:
      return "error";
    case Confidence::kMedium:
      return "warning";
    case Confidence::kLow:
      break;
  }
  return "note";
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// A relative URI reference (RFC 3986) for a path in a layer or directory, which reads back as the
// path once percent-decoded. Unreserved characters, '/' and the '!' and '@' of archive members and
// versioned names stay as they are; so does ':' after the first '/', where it cannot read as a
// scheme (as in "config:Env[3]"). Everything else is percent-encoded: '[', ']', '#', '?' and '%'
// mean something else in a URI, and a path's bytes need not be UTF-8. A leading "//" would read
// as an authority, so its second '/' is encoded.
std::string PathUri(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const size_t first_slash = path.find('/');
  std::string uri;
  uri.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    const bool literal = IsUnreserved(c) || c == '!' || c == '@' ||
                         (c == '/' && !(i == 1 && path[0] == '/')) || (c == ':' && first_slash < i);
    if (literal) {
      uri.push_back(static_cast<char>(c));
    } else {
      uri.push_back('%');
      uri.push_back(kHex[c >> 4]);
      uri.push_back(kHex[c & 0xF]);
    }
  }
  return uri;
}

// helpUri must be an absolute URI: only references that plainly are one qualify.
bool IsPlainHttpUrl(std::string_view s) {
  if (s.rfind("https://", 0) != 0 && s.rfind("http://", 0) != 0) return false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!IsUnreserved(c) &&
        std::string_view(":/?#[]@!$&'()*+,;=%").find(ch) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

ordered_json RuleDescriptor(const Rule& rule) {
  ordered_json d;
  d["id"] = rule.id;
  d["name"] = rule.name;
  d["shortDescription"] = {{"text", rule.name}};
  if (!rule.description.empty()) {
    d["fullDescription"] = {{"text", rule.description}};
    std::string help = rule.description;
    if (!rule.references.empty()) {
      help += "\n\nReferences:";
      for (const std::string& reference : rule.references) help += "\n- " + reference;
    }
    d["help"] = {{"text", help}};
  }
  for (const std::string& reference : rule.references) {
    if (IsPlainHttpUrl(reference)) {
      d["helpUri"] = reference;
      break;
    }
  }
  d["defaultConfiguration"] = {{"level", LevelOf(rule.confidence)}};
  ordered_json tags = ordered_json::array({"security", "secret"});
  for (const std::string& tag : RuleTags(rule)) {
    if (tag != "security" && tag != "secret") tags.push_back(tag);
  }
  d["properties"] =
      ordered_json{{"kind", rule.kind},
                   {"vendor", rule.vendor.empty() ? json(nullptr) : json(rule.vendor)},
                   {"confidence", std::string(ConfidenceName(rule.confidence))},
                   // GitHub code scanning reads `precision` to rank alerts.
                   {"precision", std::string(ConfidenceName(rule.confidence))},
                   {"tags", std::move(tags)}};
  return d;
}

// The layer a finding, error or skip is in, as message text: ", layer 2 (sha256:…)".
std::string LayerText(int layer_index, const std::string& layer_digest) {
  if (layer_index == kNoLayer) return "";
  std::string text = ", layer " + std::to_string(layer_index);
  if (!layer_digest.empty()) text += " (" + layer_digest + ")";
  return text;
}

class SarifWriter final : public ReportSink {
 public:
  SarifWriter(const ScanResult& result, const std::vector<Rule>& rules,
              const ReportOptions& options, std::ostream& out)
      : result_(result), rules_(rules), options_(options), out_(out) {}

  void OnFinding(const Finding& f) override { results_.push_back(ResultJson(f)); }

  void OnError(const ScanIssue& e) override {
    ordered_json n;
    n["level"] = "error";
    n["message"] = {{"text", result_.targets[e.target_index].spec +
                                 LayerText(e.layer_index, e.layer_digest) + ": " + e.message}};
    n["properties"] = WhereJson(result_, e);
    notifications_.push_back(std::move(n));
  }

  void Finish() override {
    // Skips are not errors (the scan did what it was told), but nothing may go unmentioned.
    for (const ScanSkip& s : result_.skipped) notifications_.push_back(SkipJson(s));

    ordered_json driver;
    driver["name"] = "layersift";
    driver["version"] = std::string(EngineVersion());
    driver["rules"] = std::move(rule_descriptors_);

    ordered_json invocation;
    invocation["executionSuccessful"] = result_.errors.empty();
    invocation["toolExecutionNotifications"] = std::move(notifications_);

    ordered_json run;
    run["tool"] = {{"driver", std::move(driver)}};
    run["invocations"] = ordered_json::array({std::move(invocation)});
    run["results"] = std::move(results_);
    // Columns count bytes, as in every layersift report; on ASCII lines that is also SARIF's
    // default unit.
    run["properties"] = {{"rule_set_hash", options_.rule_set_hash}, {"column_unit", "bytes"}};

    ordered_json log;
    log["$schema"] = std::string(kSarifSchemaUri);
    log["version"] = "2.1.0";
    log["runs"] = ordered_json::array({std::move(run)});
    // Paths and raw secrets need not be UTF-8, which JSON strings must be.
    out_ << log.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  }

 private:
  // The index of the finding's rule in tool.driver.rules, which lists the rules that have results
  // in the order of their first result.
  size_t RuleIndexOf(uint32_t rule_index) {
    const auto [it, inserted] = rule_positions_.try_emplace(rule_index, rule_descriptors_.size());
    if (inserted) rule_descriptors_.push_back(RuleDescriptor(rules_[rule_index]));
    return it->second;
  }

  ordered_json ResultJson(const Finding& f) {
    const Rule& rule = rules_[f.rule_index];
    const std::string layer_digest = LayerDigestOf(f, result_);
    const std::string& secret_redacted = f.facts.redacted;
    const std::string& secret_sha256 = f.facts.sha256;
    const Confidence confidence = EffectiveConfidence(rule, f.check);

    ordered_json region;
    if (f.line >= 1 && f.column >= 1) {
      region["startLine"] = f.line;
      region["startColumn"] = f.column;
      region["endLine"] = f.facts.end_line;
      region["endColumn"] = f.facts.end_column;  // SARIF's end column is the one just past the region
    }
    region["byteOffset"] = f.offset;
    region["byteLength"] = f.facts.size_bytes;
    if (options_.show_secrets) region["snippet"] = {{"text", f.secret}};

    ordered_json location;
    location["physicalLocation"]["artifactLocation"]["uri"] = PathUri(f.path);
    location["physicalLocation"]["region"] = std::move(region);

    ordered_json r;
    r["ruleId"] = rule.id;
    r["ruleIndex"] = RuleIndexOf(f.rule_index);
    r["level"] = LevelOf(confidence);
    r["message"] = {{"text", rule.name + " in " + f.path + LayerText(f.layer_index, layer_digest) +
                                 ": " + (options_.show_secrets ? f.secret : secret_redacted)}};
    r["locations"] = ordered_json::array({std::move(location)});
    r["partialFingerprints"][std::string(kFingerprintKey)] = FindingFingerprint(f, result_, rules_);
    r["partialFingerprints"][std::string(kSecretSha256Key)] = secret_sha256;

    // The json report's fields that say where and what, under the same names.
    const ordered_json finding = FindingJson(f, result_, rules_, options_);
    ordered_json p;
    for (const char* key : {"target", "image_digest", "platform", "layer_index", "layer_digest",
                            "present_in_final_image", "removed_by", "created_by", "secret_redacted",
                            "secret_sha256", "confidence", "validation"}) {
      p[key] = finding.at(key);
    }
    r["properties"] = std::move(p);
    return r;
  }

  ordered_json SkipJson(const ScanSkip& s) const {
    ordered_json n;
    n["level"] = "warning";
    n["message"] = {{"text", "not scanned: " + (s.path.empty() ? "" : s.path + " in ") +
                                 result_.targets[s.target_index].spec +
                                 LayerText(s.layer_index, s.layer_digest) + ": " + s.reason}};
    if (!s.path.empty()) {
      ordered_json location;
      location["physicalLocation"]["artifactLocation"]["uri"] = PathUri(s.path);
      n["locations"] = ordered_json::array({std::move(location)});
    }
    n["properties"] = WhereJson(result_, s);
    n["properties"]["path"] = s.path;
    n["properties"]["reason"] = s.reason;
    return n;
  }

  const ScanResult& result_;
  const std::vector<Rule>& rules_;
  const ReportOptions& options_;
  std::ostream& out_;
  std::map<uint32_t, size_t> rule_positions_;  // rules_ index -> tool.driver.rules index
  ordered_json rule_descriptors_ = ordered_json::array();
  ordered_json results_ = ordered_json::array();
  ordered_json notifications_ = ordered_json::array();
};

}  // namespace

std::unique_ptr<ReportSink> NewSarifWriter(const ScanResult& result, const std::vector<Rule>& rules,
                                           const ReportOptions& options, std::ostream& out) {
  return std::make_unique<SarifWriter>(result, rules, options, out);
}

}  // namespace layersift
