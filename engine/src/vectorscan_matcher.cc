// The default backend: a Vectorscan literal database of every rule's keywords finds the keyword
// occurrences, and each rule's own RE2 confirms them (Confirmer::ConfirmHits: a rule's clustered
// occurrences in one sweep).
//
// There is no RE2::Set stage. One used to filter dense clusters of occurrences before the rules
// confirmed them one by one; once a rule's cluster cost one sweep instead of one pass per
// occurrence, the set (about 300 MB/s cold and warm, 0.3 s to compile) became the slowest stage:
// matcher CPU on the node_modules of the benchmark image went from 1.22 s to 0.52 s without it,
// on the worst-case text from 1.16 s to 0.79 s per 16.8 MB, and on the realistic 550 MB layer it
// made no difference (0.34-0.38 s).
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

class VectorscanScanContext final : public ScanContext {
 public:
  VectorscanScanContext(const RuleTable& table, const hs_database_t* db)
      : table_(table), db_(db), confirmer_(table), rule_hits_(table.rules.size()) {
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
    // Each rule gets its occurrences (in order) together, so it can sweep its clusters.
    for (const KeywordHit& hit : hits_) {
      for (uint32_t rule : table_.keyword_rules[hit.keyword]) {
        std::vector<KeywordHit>& rule_hits = rule_hits_[rule];
        if (rule_hits.empty()) touched_rules_.push_back(rule);
        rule_hits.push_back(hit);
      }
    }
    for (uint32_t rule : touched_rules_) {
      confirmer_.ConfirmHits(rule, rule_hits_[rule], buffer, out);
      rule_hits_[rule].clear();  // keeps its capacity for the next scan
    }
    touched_rules_.clear();
    SortAndDeduplicate(out, first);
  }

 private:
  static int OnKeyword(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                       unsigned int /*flags*/, void* context) {
    auto* self = static_cast<VectorscanScanContext*>(context);
    const size_t begin = self->own_begin_ + to - self->table_.keywords[id].size();
    if (begin < self->own_end_) self->hits_.push_back(KeywordHit{id, static_cast<uint32_t>(begin)});
    return 0;  // keep scanning
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
  std::vector<std::vector<KeywordHit>> rule_hits_;  // per rule, during a scan
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
