// Measuring a rule set against labelled examples (`layersift rules eval`): recall on positives
// and false alarms on negatives, per kind of secret.
#ifndef LAYERSIFT_ENGINE_RULE_EVAL_H_
#define LAYERSIFT_ENGINE_RULE_EVAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "layersift/engine/matcher.h"
#include "layersift/rules/rule.h"

namespace layersift {

// One labelled example: `text` is scanned as a whole file at `path`.
struct LabelledExample {
  std::string text;
  std::string path;
  bool positive = false;
  std::string kind;    // coarse kind: aws, github, ..., other-service
  std::string vendor;
  bool synthetic = false;
  std::string origin;  // "FILE:LINE", for messages
};

// Reads JSON lines with `text`, `label` (positive/negative), `kind`, and optionally `vendor`,
// `synthetic`, `path`. Throws std::runtime_error naming the file and line of a bad record.
std::vector<LabelledExample> LoadLabelledExamples(const std::string& jsonl_path);

// Counts for one kind (or, for kind other-service, one vendor).
struct EvalRow {
  std::string kind;
  std::string vendor;     // set only for the vendor-bag kinds' rows (other-service, email-service)
  bool covered = false;   // an enabled rule of this kind (vendor) exists
  uint64_t positives = 0, detected = 0;                      // non-synthetic
  uint64_t synthetic_positives = 0, synthetic_detected = 0;
  uint64_t negatives = 0, false_alarms = 0;
};

struct EvalReport {
  std::vector<EvalRow> rows;  // sorted by kind, then vendor
  EvalRow covered_total;      // sums over covered rows
  EvalRow uncovered_total;    // sums over rows no enabled rule covers
};

// Whether a rule counts for an example's kind and vendor: same kind (with the aliases the eval
// files use, e.g. google/gcp for gcp), or, for the vendor-bag kinds other-service and
// email-service, the same vendor (`_` and `-` are the same, and suffixes such as _token or _key
// are ignored).
bool RuleCoversExample(const Rule& rule, const std::string& kind, const std::string& vendor);

// Scans every example with the enabled rules of `rules` (whole-file, under its path) and counts
// per kind: a positive is detected when a covering rule fires; a negative is a false alarm when
// a covering rule fires.
EvalReport EvaluateRules(const std::vector<Rule>& rules,
                         const std::vector<LabelledExample>& examples, MatchEngine engine);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_RULE_EVAL_H_
