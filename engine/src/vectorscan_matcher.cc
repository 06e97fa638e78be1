// The default backend: a Vectorscan literal database of every rule's keywords finds the keyword
// occurrences; RE2::Set runs only over the windows around them, and each rule the set reports is
// confirmed by its own RE2 around each of its occurrences.
#include <hs/hs.h>

#include <algorithm>

#include "matcher_internal.h"

namespace layersift::matcher_internal {
namespace {

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
struct HsScratchDeleter {
  void operator()(hs_scratch_t* scratch) const { hs_free_scratch(scratch); }
};

class VectorscanDatabase;

// A region's occurrences are confirmed rule by rule (each rule's own small regex over its window)
// unless that would read the region more than this many times over; then one pass of the
// RE2::Set of all rules filters first. The set's DFA is large (hundreds of rules), costs about
// 0.3 s to compile and is slow while cold, so it only pays off on dense clusters of keywords: on
// the benchmark layer with 311 rules, matcher CPU was 2.5-3.6 s with the set on every region and
// 0.8-1.0 s confirming directly (README.md, "Performance"); 16 reads per byte measured
// 1.4-1.55 s, 64 measured 0.8-1.1 s.
constexpr size_t kMaxDirectConfirmReadsPerByte = 64;

class VectorscanScanContext final : public ScanContext {
 public:
  VectorscanScanContext(const RuleTable& table, const hs_database_t* db)
      : table_(table), db_(db), confirmer_(table, /*shared_set=*/true),
        rule_marks_(table.rules.size(), 0),
        rule_hits_(table.rules.size()) {
    hs_scratch_t* scratch = nullptr;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
      throw MatcherError("cannot allocate Vectorscan scratch space");
    }
    scratch_.reset(scratch);
  }

  void Scan(std::span<const uint8_t> bytes, size_t own_begin, size_t own_end,
            std::string_view path, std::vector<RuleMatch>& out) override {
    const std::string_view buffer(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    confirmer_.SetPath(path);
    hits_.clear();
    own_begin_ = own_begin;
    own_end_ = own_end;
    // Occurrences starting outside [own_begin, own_end) belong to a neighbouring piece, so the
    // literal scan covers only ours (plus the tail of a keyword starting just before own_end).
    const size_t scan_end = std::min(buffer.size(), own_end + table_.longest_keyword_bytes);
    if (own_begin >= scan_end) return;
    const hs_error_t rc =
        hs_scan(db_, buffer.data() + own_begin, static_cast<unsigned>(scan_end - own_begin), 0,
                scratch_.get(), &VectorscanScanContext::OnKeyword, this);
    if (rc != HS_SUCCESS) {
      throw MatcherError("Vectorscan scan failed with error " + std::to_string(rc));
    }
    if (hits_.empty()) return;
    if (confirmer_.profiling()) {  // not a pass over the hits on every scan
      for (const KeywordHit& hit : hits_) confirmer_.CountKeywordHit(hit.keyword);
    }
    const size_t first = out.size();
    std::sort(hits_.begin(), hits_.end(),
              [](const KeywordHit& a, const KeywordHit& b) { return a.begin < b.begin; });
    // Group occurrences whose windows overlap into regions; one RE2::Set pass per region.
    size_t region_first = 0;
    while (region_first < hits_.size()) {
      size_t region_begin = WindowBegin(hits_[region_first]);
      size_t region_end = WindowEnd(hits_[region_first], buffer.size());
      size_t region_last = region_first + 1;
      while (region_last < hits_.size() && WindowBegin(hits_[region_last]) <= region_end) {
        region_end = std::max(region_end, WindowEnd(hits_[region_last], buffer.size()));
        ++region_last;
      }
      // Same results either way: the set only filters which rules to confirm.
      const size_t direct_budget = kMaxDirectConfirmReadsPerByte * (region_end - region_begin);
      size_t direct_bytes = 0;
      for (size_t h = region_first; h < region_last && direct_bytes <= direct_budget; ++h) {
        direct_bytes += table_.keyword_rules[hits_[h].keyword].size() * 2 *
                        table_.keyword_window_bytes[hits_[h].keyword];
      }
      if (direct_bytes <= direct_budget) {
        ConfirmRegion(region_first, region_last, /*only_marked=*/false, buffer, out);
        region_first = region_last;
        continue;
      }
      confirmer_.MatchSet(buffer.substr(region_begin, region_end - region_begin), matched_);
      if (!matched_.empty()) {
        for (int r : matched_) rule_marks_[static_cast<size_t>(r)] = 1;
        ConfirmRegion(region_first, region_last, /*only_marked=*/true, buffer, out);
        for (int r : matched_) rule_marks_[static_cast<size_t>(r)] = 0;
      }
      region_first = region_last;
    }
    SortAndDeduplicate(out, first);
  }

 private:
  // Confirms the occurrences hits_[first, last) rule by rule (only the rules marked in
  // rule_marks_ if `only_marked`), so that a rule's clustered occurrences are read together.
  void ConfirmRegion(size_t first, size_t last, bool only_marked, std::string_view buffer,
                     std::vector<RuleMatch>& out) {
    for (size_t h = first; h < last; ++h) {
      for (uint32_t rule : table_.keyword_rules[hits_[h].keyword]) {
        if (only_marked && !rule_marks_[rule]) continue;
        std::vector<KeywordHit>& rule_hits = rule_hits_[rule];
        if (rule_hits.empty()) touched_rules_.push_back(rule);
        rule_hits.push_back(hits_[h]);
      }
    }
    for (uint32_t rule : touched_rules_) {
      confirmer_.ConfirmHits(rule, rule_hits_[rule], buffer, out);
      rule_hits_[rule].clear();  // keeps its capacity for the next region
    }
    touched_rules_.clear();
  }

  static int OnKeyword(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                       unsigned int /*flags*/, void* context) {
    auto* self = static_cast<VectorscanScanContext*>(context);
    const size_t begin = self->own_begin_ + to - self->table_.keywords[id].size();
    if (begin < self->own_end_) self->hits_.push_back(KeywordHit{id, static_cast<uint32_t>(begin)});
    return 0;  // keep scanning
  }

  size_t WindowBegin(const KeywordHit& hit) const {
    const size_t end = hit.begin + table_.keywords[hit.keyword].size();
    const size_t window = table_.keyword_window_bytes[hit.keyword];
    return end > window ? end - window : 0;
  }
  size_t WindowEnd(const KeywordHit& hit, size_t buffer_size) const {
    return std::min(buffer_size, static_cast<size_t>(hit.begin) +
                                     table_.keyword_window_bytes[hit.keyword]);
  }

 public:
  void AddProfileTo(std::vector<RuleProfile>& totals) const override {
    confirmer_.AddProfileTo(totals);
  }

 private:
  const RuleTable& table_;
  const hs_database_t* db_;
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> scratch_;
  Confirmer confirmer_;
  std::vector<KeywordHit> hits_;
  std::vector<int> matched_;
  std::vector<uint8_t> rule_marks_;
  std::vector<std::vector<KeywordHit>> rule_hits_;  // per rule, during ConfirmRegion
  std::vector<uint32_t> touched_rules_;             // rules with hits in rule_hits_
  size_t own_begin_ = 0;
  size_t own_end_ = 0;
};

class VectorscanDatabase final : public PatternDatabase {
 public:
  explicit VectorscanDatabase(std::unique_ptr<RuleTable> table) : table_(std::move(table)) {
    Confirmer::Validate(*table_);  // reject bad patterns here, not in a worker
    std::vector<const char*> literals;
    std::vector<size_t> lengths;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (uint32_t k = 0; k < table_->keywords.size(); ++k) {
      literals.push_back(table_->keywords[k].data());
      lengths.push_back(table_->keywords[k].size());
      flags.push_back(HS_FLAG_CASELESS);
      ids.push_back(k);
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_lit_multi(literals.data(), flags.data(), ids.data(), lengths.data(),
                             static_cast<unsigned>(literals.size()), HS_MODE_BLOCK, nullptr, &db,
                             &error) != HS_SUCCESS) {
      std::string message = error && error->message ? error->message : "unknown error";
      const int bad = error ? error->expression : -1;
      hs_free_compile_error(error);
      throw RuleError("Vectorscan cannot compile keyword" +
                      (bad >= 0 ? " '" + table_->keywords[static_cast<size_t>(bad)] + "'"
                                : std::string()) +
                      ": " + message);
    }
    db_.reset(db);
  }

  const std::vector<Rule>& rules() const override { return table_->rules; }
  const MatcherOptions& options() const override { return table_->options; }
  size_t context_bytes() const override { return table_->context_bytes; }
  std::unique_ptr<ScanContext> NewContext() const override {
    return std::make_unique<VectorscanScanContext>(*table_, db_.get());
  }

 private:
  std::unique_ptr<RuleTable> table_;
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> db_;
};

}  // namespace

std::unique_ptr<const PatternDatabase> NewVectorscanDatabase(std::unique_ptr<RuleTable> table) {
  return std::make_unique<VectorscanDatabase>(std::move(table));
}

}  // namespace layersift::matcher_internal
