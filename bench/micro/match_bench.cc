// The matcher alone, per backend, rule-set size and thread count, over the sample's text cut into
// chunks the way the scanner cuts a large file.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "layersift/engine/matcher.h"
#include "layersift/engine/scanner.h"
#include "layersift/rules/rule_loader.h"
#include "layersift/rules/selection.h"
#include "micro_benchmarks.h"
#include "micro_sample.h"

namespace layersift::micro {
namespace {

constexpr int64_t kRuleCounts[] = {50, 150, 500};
// Rule sets larger than this are this many real rules plus generated ones: how the matcher
// scales with the number of rules, apart from what particular real rules cost.
constexpr size_t kRealRulesInLargerSets = 150;
// Asks for every enabled built-in rule (BM_MatchBuiltin): what a default scan runs.
constexpr size_t kAllBuiltinRules = 0;

// Fixed, so every run on every machine scans with the same generated rules.
constexpr uint64_t kGeneratedRuleSeed = 0x6c61796572736966;  // "layersif"
// Long enough that a random keyword of lower-case letters (26^10 of them) practically never
// occurs in real files: the generated rules cost the prefilter and the matcher's bookkeeping,
// not confirmation.
constexpr size_t kGeneratedKeywordBytes = 10;
constexpr size_t kGeneratedSecretBytes = 32;

// SplitMix64 (Steele, Lea and Flood, 2014): its sequence is fixed by its definition, whereas
// std::uniform_int_distribution's differs between standard libraries.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// The rules a scan runs when no rule flag is given: what `layersift rules list` shows as enabled.
std::vector<Rule> EnabledBuiltinRules() {
  std::vector<Rule> rules = BuiltinRules();
  ApplyRuleSelection(rules, RuleSelection{});
  std::erase_if(rules, [](const Rule& rule) { return !rule.enabled; });
  return rules;
}

// A rule shaped like a vendor token rule (a literal keyword, then the secret), which compiles and
// prefilters like one but, its keyword being random, practically never fires.
Rule GeneratedRule(size_t number, const std::string& keyword) {
  Rule rule;
  rule.id = "micro-generated-" + std::to_string(number);
  rule.name = "Generated micro-benchmark rule " + std::to_string(number);
  rule.kind = "micro-generated";
  rule.vendor = "micro";
  rule.pattern =
      keyword + "[_-]?(?P<secret>[A-Za-z0-9]{" + std::to_string(kGeneratedSecretBytes) + "})";
  rule.keywords = {keyword};
  rule.max_match_bytes = keyword.size() + 1 + kGeneratedSecretBytes;
  rule.source = "bench/micro (generated)";
  return rule;
}

// An evenly spread subset of the enabled built-in rules (rule i * n / count for i < count, so the
// same rules every run).
std::vector<Rule> BuiltinSubset(size_t count) {
  const std::vector<Rule> builtin = EnabledBuiltinRules();
  const size_t available = builtin.size();
  std::vector<Rule> subset;
  for (size_t i = 0; i < count && i < available; ++i) {
    subset.push_back(builtin[i * available / count]);
  }
  return subset;
}

// `count` rules (kAllBuiltinRules: every enabled built-in rule). Up to kRealRulesInLargerSets, an
// evenly spread subset of the built-in rules; above, that many of them plus generated rules up to
// `count` (the "500 made by adding valid but rarely-matching rules").
std::vector<Rule> RuleSetOfSize(size_t count) {
  if (count == kAllBuiltinRules) return EnabledBuiltinRules();
  if (count <= kRealRulesInLargerSets) return BuiltinSubset(count);
  std::vector<Rule> builtin = BuiltinSubset(kRealRulesInLargerSets);
  std::set<std::string> keywords;
  for (const Rule& rule : EnabledBuiltinRules()) {
    keywords.insert(rule.keywords.begin(), rule.keywords.end());
  }
  SplitMix64 random(kGeneratedRuleSeed);
  for (size_t number = 1; builtin.size() < count; ++number) {
    std::string keyword;
    do {
      keyword.clear();
      for (size_t i = 0; i < kGeneratedKeywordBytes; ++i) {
        keyword.push_back(static_cast<char>('a' + random.Next() % 26));
      }
    } while (!keywords.insert(keyword).second);
    builtin.push_back(GeneratedRule(number, keyword));
  }
  return builtin;
}

// One chunk of the text: the part it owns, with the database's context on each side, as the
// scanner lays out a piece of a large file.
struct ScanWindow {
  size_t begin;  // of the buffer, in the text
  size_t end;
  size_t own_begin;  // relative to begin
  size_t own_end;
};

std::vector<ScanWindow> ChunkWindows(size_t text_bytes, size_t chunk_bytes, size_t context_bytes) {
  std::vector<ScanWindow> windows;
  for (size_t own = 0; own < text_bytes; own += chunk_bytes) {
    const size_t own_end = std::min(text_bytes, own + chunk_bytes);
    const size_t begin = own > context_bytes ? own - context_bytes : 0;
    const size_t end = std::min(text_bytes, own_end + context_bytes);
    windows.push_back(ScanWindow{begin, end, own - begin, own_end - begin});
  }
  return windows;
}

// One pass over the text; returns how many matches it found.
uint64_t ScanPass(ScanContext& context, std::span<const uint8_t> text,
                  const std::vector<ScanWindow>& windows, std::vector<RuleMatch>& matches) {
  uint64_t found = 0;
  for (const ScanWindow& window : windows) {
    matches.clear();  // keeps its capacity: no allocation once warm
    context.Scan(text.subspan(window.begin, window.end - window.begin), window.own_begin,
                 window.own_end, matches);
    found += matches.size();
  }
  return found;
}

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The database of the benchmark running now and one warmed ScanContext per benchmark thread.
// Compiling and the first, cold pass (regexes compiled on first use, empty DFA caches) are setup,
// not what is measured; keeping them across Google Benchmark's runs of one benchmark, and from
// threads:1 to threads:2, pays for them once. The next benchmark's database replaces this one, so
// at most one is in memory.
class MatcherCache {
 public:
  struct Lease {
    ScanContext* context = nullptr;  // this thread's; no other thread touches it
    const std::vector<ScanWindow>* windows = nullptr;
    size_t rule_count = 0;
    uint64_t matches_per_pass = 0;
    // What a scan pays once and the benchmark leaves out: compiling the database, and the first
    // pass of its first context over the text (regexes compiled on first use, cold DFA caches).
    double compile_seconds = 0;
    double first_pass_seconds = 0;
  };

  // Throws RuleError or MatcherError when the rules do not compile or the warm-up pass fails.
  Lease Acquire(MatchEngine engine, size_t rule_count, int thread_index,
                std::span<const uint8_t> text) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (database_ == nullptr || engine != engine_ || rule_count != requested_rules_) {
      contexts_.clear();  // before the database they point into
      database_.reset();
      MatcherOptions options;
      options.engine = engine;
      const std::vector<Rule> rules = RuleSetOfSize(rule_count);
      const auto start = Clock::now();
      database_ = PatternDatabase::Compile(rules, options);
      compile_seconds_ = SecondsSince(start);
      first_pass_seconds_ = 0;
      engine_ = engine;
      requested_rules_ = rule_count;
      windows_ = ChunkWindows(text.size(), ScanOptions().chunk_bytes, database_->context_bytes());
    }
    const auto index = static_cast<size_t>(thread_index);
    if (contexts_.size() <= index) contexts_.resize(index + 1);
    if (contexts_[index] == nullptr) {
      const auto start = Clock::now();
      std::unique_ptr<ScanContext> context = database_->NewContext();
      std::vector<RuleMatch> matches;
      matches_per_pass_ = ScanPass(*context, text, windows_, matches);
      if (first_pass_seconds_ == 0) first_pass_seconds_ = SecondsSince(start);
      contexts_[index] = std::move(context);
    }
    return Lease{.context = contexts_[index].get(),
                 .windows = &windows_,
                 .rule_count = database_->rules().size(),
                 .matches_per_pass = matches_per_pass_,
                 .compile_seconds = compile_seconds_,
                 .first_pass_seconds = first_pass_seconds_};
  }

 private:
  std::mutex mutex_;
  MatchEngine engine_ = MatchEngine::kVectorscan;
  size_t requested_rules_ = 0;
  std::unique_ptr<const PatternDatabase> database_;
  std::vector<ScanWindow> windows_;
  std::vector<std::unique_ptr<ScanContext>> contexts_;  // by benchmark thread index
  uint64_t matches_per_pass_ = 0;
  double compile_seconds_ = 0;
  double first_pass_seconds_ = 0;
};

MatcherCache& Cache() {
  static MatcherCache* const cache = new MatcherCache();  // never destroyed: no exit-order issues
  return *cache;
}

// Each thread scans the whole text with its own context, so bytes per thread are the text's
// size per iteration, and with real time the reported rate is all threads' together.
void BM_Match(benchmark::State& state, MatchEngine engine, size_t rule_count,
              const Sample& sample) {
  const std::span<const uint8_t> text = sample.text();
  MatcherCache::Lease lease;
  try {
    lease = Cache().Acquire(engine, rule_count, state.thread_index(), text);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());  // the loop below then runs no iteration
  }
  std::vector<RuleMatch> matches;
  matches.reserve(4096);
  for (auto _ : state) {
    try {
      benchmark::DoNotOptimize(ScanPass(*lease.context, text, *lease.windows, matches));
    } catch (const MatcherError& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
  // Per-benchmark facts, not per-thread sums: averaged over the threads, each reports the same.
  state.counters["rules"] =
      benchmark::Counter(static_cast<double>(lease.rule_count), benchmark::Counter::kAvgThreads);
  state.counters["matches"] = benchmark::Counter(static_cast<double>(lease.matches_per_pass),
                                                 benchmark::Counter::kAvgThreads);
  state.counters["compile_s"] =
      benchmark::Counter(lease.compile_seconds, benchmark::Counter::kAvgThreads);
  state.counters["first_pass_s"] =
      benchmark::Counter(lease.first_pass_seconds, benchmark::Counter::kAvgThreads);
}

}  // namespace

void RegisterMatchBenchmarks(const Sample& sample) {
  for (const MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
    const std::string name = "BM_Match/" + std::string(MatchEngineName(engine));
    benchmark::internal::Benchmark* benchmark = benchmark::RegisterBenchmark(
        name.c_str(), [engine, &sample](benchmark::State& state) {
          BM_Match(state, engine, static_cast<size_t>(state.range(0)), sample);
        });
    benchmark->ArgName("rules");
    for (const int64_t count : kRuleCounts) benchmark->Arg(count);
    benchmark->Threads(1)->Threads(2)->UseRealTime();
  }
  for (const MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
    const std::string name = "BM_MatchBuiltin/" + std::string(MatchEngineName(engine));
    benchmark::RegisterBenchmark(name.c_str(), [engine, &sample](benchmark::State& state) {
      BM_Match(state, engine, kAllBuiltinRules, sample);
    })->Threads(1)->Threads(2)->UseRealTime();
  }
}

}  // namespace layersift::micro
