#include "layersift/engine/rule_eval.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <stdexcept>

namespace layersift {
namespace {

// Vendor names as the eval files spell them ("telegram_token", "stripe_key") and as our rules do
// ("telegram", "stripe").
std::string NormalizeVendor(std::string vendor) {
  std::transform(vendor.begin(), vendor.end(), vendor.begin(), [](unsigned char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(c));
  });
  static constexpr std::array<std::string_view, 4> kSuffixes = {"-token", "-key", "-oauth",
                                                                "-api-key"};
  for (std::string_view suffix : kSuffixes) {
    if (vendor.size() > suffix.size() && vendor.ends_with(suffix)) {
      vendor.resize(vendor.size() - suffix.size());
    }
  }
  return vendor;
}

// Kinds in the eval files that our rule set names differently.
bool KindMatches(const std::string& rule_kind, const std::string& example_kind) {
  if (rule_kind == example_kind) return true;
  static const std::map<std::string, std::vector<std::string>> kAliases = {
      {"google/gcp", {"gcp", "google"}},
      {"generic-password", {"generic-secret"}},
      {"url-credentials", {"basic-auth-url"}},
  };
  auto it = kAliases.find(example_kind);
  return it != kAliases.end() &&
         std::find(it->second.begin(), it->second.end(), rule_kind) != it->second.end();
}

// Kinds that are only a bag of vendors: rules are matched to them by vendor.
bool KindIsByVendor(const std::string& kind) {
  return kind == "other-service" || kind == "email-service";
}

bool Covers(const Rule& rule, const std::string& normalized_rule_vendor, const std::string& kind,
            const std::string& normalized_vendor) {
  if (KindIsByVendor(kind)) {
    return !normalized_rule_vendor.empty() && normalized_rule_vendor == normalized_vendor;
  }
  return KindMatches(rule.kind, kind);
}

}  // namespace

bool RuleCoversExample(const Rule& rule, const std::string& kind, const std::string& vendor) {
  return Covers(rule, NormalizeVendor(rule.vendor), kind, NormalizeVendor(vendor));
}

std::vector<LabelledExample> LoadLabelledExamples(const std::string& jsonl_path) {
  std::ifstream in(jsonl_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + jsonl_path);
  std::vector<LabelledExample> examples;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::string where = jsonl_path + ":" + std::to_string(number);
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) throw std::runtime_error(where + ": not a JSON object");
    auto text_field = [&](const char* name, bool required) -> std::string {
      const auto it = record.find(name);
      if (it == record.end() || it->is_null()) {
        if (required) throw std::runtime_error(where + ": missing field '" + name + "'");
        return "";
      }
      if (!it->is_string()) throw std::runtime_error(where + ": field '" + name + "' is not a string");
      return it->get<std::string>();
    };
    LabelledExample example;
    example.text = text_field("text", true);
    const std::string label = text_field("label", true);
    if (label != "positive" && label != "negative") {
      throw std::runtime_error(where + ": label must be positive or negative, not '" + label + "'");
    }
    example.positive = label == "positive";
    example.kind = text_field("kind", true);
    example.vendor = text_field("vendor", false);
    example.path = text_field("path", false);
    const auto synthetic = record.find("synthetic");
    example.synthetic = synthetic != record.end() && synthetic->is_boolean() && synthetic->get<bool>();
    example.origin = where;
    examples.push_back(std::move(example));
  }
  return examples;
}

EvalReport EvaluateRules(const std::vector<Rule>& rules,
                         const std::vector<LabelledExample>& examples, MatchEngine engine) {
  MatcherOptions options;
  options.engine = engine;
  const auto database = PatternDatabase::Compile(rules, options);
  const std::vector<Rule>& enabled = database->rules();
  const auto context = database->NewContext();

  std::vector<std::string> rule_vendors;
  for (const Rule& rule : enabled) rule_vendors.push_back(NormalizeVendor(rule.vendor));
  std::map<std::pair<std::string, std::string>, EvalRow> rows;
  std::vector<RuleMatch> matches;
  std::vector<uint8_t> covering(enabled.size());
  std::string path;
  for (const LabelledExample& example : examples) {
    // Vendor-bag kinds get a row per vendor; the others one row per kind.
    const std::string vendor = KindIsByVendor(example.kind) ? NormalizeVendor(example.vendor) : "";
    EvalRow& row = rows[{example.kind, vendor}];
    row.kind = example.kind;
    row.vendor = vendor;
    const std::string normalized_vendor = NormalizeVendor(example.vendor);
    for (size_t r = 0; r < enabled.size(); ++r) {
      covering[r] = Covers(enabled[r], rule_vendors[r], example.kind, normalized_vendor);
      row.covered = row.covered || covering[r];
    }
    matches.clear();
    path = example.path.empty() ? "example.txt" : example.path;
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(example.text.data()),
                                         example.text.size());
    context->Scan(bytes, 0, bytes.size(), path, matches);
    const bool fired = std::any_of(matches.begin(), matches.end(),
                                   [&](const RuleMatch& m) { return covering[m.rule_index] != 0; });
    if (!example.positive) {
      ++row.negatives;
      row.false_alarms += fired;
    } else if (example.synthetic) {
      ++row.synthetic_positives;
      row.synthetic_detected += fired;
    } else {
      ++row.positives;
      row.detected += fired;
    }
  }
  EvalReport report;
  auto add = [](EvalRow& total, const EvalRow& row) {
    total.positives += row.positives;
    total.detected += row.detected;
    total.synthetic_positives += row.synthetic_positives;
    total.synthetic_detected += row.synthetic_detected;
    total.negatives += row.negatives;
    total.false_alarms += row.false_alarms;
  };
  report.covered_total.kind = "covered";
  report.covered_total.covered = true;
  report.uncovered_total.kind = "not covered";
  for (auto& [key, row] : rows) {
    add(row.covered ? report.covered_total : report.uncovered_total, row);
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace layersift
