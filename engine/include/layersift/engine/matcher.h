// The matcher: a compiled, immutable PatternDatabase shared by all threads, and a ScanContext per
// worker (the Vectorscan model: database, scratch, input).
//
// Semantics, identical for every backend (tests/matcher_equivalence_test.cc holds them to it):
// a rule's match counts only if it contains an occurrence of one of its keywords (ASCII case
// insensitive) and is at most `max_match_bytes` long. For every keyword occurrence, the rule's
// regex is searched in the window of all such matches around it; what is found is de-duplicated.
// So the result depends only on the bytes around each keyword, which is what makes chunked and
// whole-file scanning agree.
#ifndef LAYERSIFT_ENGINE_MATCHER_H_
#define LAYERSIFT_ENGINE_MATCHER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "layersift/rules/rule.h"

namespace layersift {

enum class MatchEngine {
  kVectorscan,  // Vectorscan literal prefilter on keywords, each rule's RE2 confirms
  kRe2,         // RE2::Set over the whole buffer, RE2 confirm
};

// "vectorscan" / "re2"; ParseMatchEngine throws std::invalid_argument on anything else.
std::string_view MatchEngineName(MatchEngine engine);
MatchEngine ParseMatchEngine(std::string_view name);

// A regex engine failure while scanning (RE2 DFA out of memory, a Vectorscan error). Never
// swallowed as "no match": the caller reports it against the layer being scanned.
class MatcherError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MatcherOptions {
  MatchEngine engine = MatchEngine::kVectorscan;
  // DFA memory budget of each worker's RE2::Set (the re2 backend). Too small a budget does not
  // fail: RE2 thrashes its DFA cache and slows down about tenfold, so this is set deliberately.
  int64_t re2_set_max_mem_bytes = 64ll << 20;
  // The same for each rule's own RE2 (shared by the workers), which confirms keyword
  // occurrences. RE2's default (8 MiB) thrashed on text dense with near-miss keywords: confirming
  // the benchmark's worst-case text took 1.67 s per 16.8 MB with 8 MiB and 0.41-0.65 s with
  // 16-32 MiB, with the same peak RSS (48 MiB), since a DFA grows only as far as the text takes it.
  int64_t re2_rule_max_mem_bytes = 32ll << 20;
  // Count, per rule, the keyword occurrences confirmed and the time spent confirming them
  // (`layersift rules profile`). Costs two clock reads per candidate, so it is off for scans.
  bool profile_rules = false;
};

// Per-rule costs collected when MatcherOptions::profile_rules is set.
struct RuleProfile {
  // Occurrences of the rule's keywords the prefilter found (vectorscan backend; the re2 backend
  // only looks for them in buffers where RE2::Set says the rule matches).
  uint64_t keyword_hits = 0;
  uint64_t candidates = 0;  // keyword occurrences whose window the rule's regex searched
  uint64_t confirmed = 0;   // matches that survived every filter
  uint64_t suppressed = 0;  // matches dropped by entropy, allowlists, stop words, checks, paths
  double confirm_seconds = 0;

  void Add(const RuleProfile& other) {
    keyword_hits += other.keyword_hits;
    candidates += other.candidates;
    confirmed += other.confirmed;
    suppressed += other.suppressed;
    confirm_seconds += other.confirm_seconds;
  }
};

// The outcome of a rule's offline validity check (`validate`) on a match.
enum class CheckResult : uint8_t {
  kNotChecked,  // the rule has no check
  kPassed,
  kFailed,      // kept only when the rule says on_invalid: downgrade
};

// "passed" / "failed" / "" (not checked).
std::string_view CheckResultName(CheckResult result);

// One confirmed match, in offsets of the scanned buffer.
struct RuleMatch {
  uint32_t rule_index;  // index into PatternDatabase::rules()
  uint32_t match_begin;
  uint32_t match_end;
  uint32_t secret_begin;
  uint32_t secret_end;
  CheckResult check = CheckResult::kNotChecked;

  friend bool operator==(const RuleMatch&, const RuleMatch&) = default;
};

class ScanContext;

class PatternDatabase {
 public:
  // Compiles the enabled rules among `rules`. Throws RuleError naming the rule and its source if a
  // pattern does not compile, has no `secret` group, or cannot be prefiltered.
  static std::unique_ptr<const PatternDatabase> Compile(const std::vector<Rule>& rules,
                                                        const MatcherOptions& options);
  virtual ~PatternDatabase() = default;

  // The enabled rules, in the order RuleMatch::rule_index refers to.
  virtual const std::vector<Rule>& rules() const = 0;
  virtual const MatcherOptions& options() const = 0;

  // Bytes of context a keyword occurrence needs on each side for its matches to be found:
  // a chunk of a large file must carry this much before and after the part it owns.
  virtual size_t context_bytes() const = 0;

  // A scratch context for one worker thread. The database must outlive it.
  virtual std::unique_ptr<ScanContext> NewContext() const = 0;
};

// Per-worker scratch (regex caches, hit lists). Not thread-safe; reusable for any number of scans.
class ScanContext {
 public:
  virtual ~ScanContext() = default;

  // Appends to `out` every match produced by a keyword occurrence that starts in
  // [own_begin, own_end) of `buffer`, sorted by (secret_begin, rule_index, secret_end) and without
  // duplicates, and not suppressed by the rule's path conditions, allowlists, stop words or
  // validity check. The rest of the buffer is context. `path` is the file's path (with a leading
  // '/'), for rules' `paths` and path allowlists. Throws MatcherError on an engine failure.
  // Buffers must be smaller than 4 GiB.
  virtual void Scan(std::span<const uint8_t> buffer, size_t own_begin, size_t own_end,
                    std::string_view path, std::vector<RuleMatch>& out) = 0;

  // Adds this context's per-rule profile (indexed like PatternDatabase::rules()) to `totals`,
  // which must have one entry per rule. Nothing unless the database was compiled to profile.
  virtual void AddProfileTo(std::vector<RuleProfile>& totals) const = 0;

  // The same, for a buffer that is not a file of any path (rule examples, tests).
  void Scan(std::span<const uint8_t> buffer, size_t own_begin, size_t own_end,
            std::vector<RuleMatch>& out) {
    Scan(buffer, own_begin, own_end, std::string_view(), out);
  }
};

// Shannon entropy of `bytes`, in bits per byte.
double ShannonEntropy(std::string_view bytes);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_MATCHER_H_
