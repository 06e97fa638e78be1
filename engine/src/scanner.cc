// The flow graph. This is the only file that includes tbb/flow_graph.h.
//
//   job ids --> [async_node: layer readers] --chunks--> [function_node: matchers]
//
// Layer readers are plain threads outside TBB: they block on the disk, on decompression and on
// the chunk pool, which must never happen on a TBB worker. The async_node hands each layer to
// them and they push chunks back into the graph through its gateway. Matchers run on TBB workers,
// one ScanContext per worker. Memory is bounded by the chunk pool: a reader that runs ahead of
// the matchers waits for a chunk to come back.
#include "layersift/engine/scanner.h"

#include <tbb/concurrent_queue.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/flow_graph.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "chunk.h"
#include "cpu_time.h"
#include "layer_reader.h"
#include "sanitizer_handoff.h"
#include "layersift/engine/decompress.h"
#include "layersift/engine/digest.h"
#include "layersift/engine/entry_source.h"
#include "layersift/engine/image_semantics.h"
#include "layersift/engine/path_filter.h"
#include "layersift/engine/report.h"
#include "layersift/fetch/read_ahead_source.h"

namespace layersift {

void StageStats::Add(const StageStats& o) {
  stored_bytes += o.stored_bytes;
  uncompressed_bytes += o.uncompressed_bytes;
  files_seen += o.files_seen;
  files_scanned += o.files_scanned;
  files_excluded += o.files_excluded;
  files_binary_skipped += o.files_binary_skipped;
  files_empty += o.files_empty;
  links_skipped += o.links_skipped;
  whiteouts += o.whiteouts;
  bytes_scanned += o.bytes_scanned;
  archives_expanded += o.archives_expanded;
  archive_members += o.archive_members;
  archives_skipped += o.archives_skipped;
  read_seconds += o.read_seconds;
  decompress_seconds += o.decompress_seconds;
  walk_seconds += o.walk_seconds;
  match_seconds += o.match_seconds;
}

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The stages are accounted in CPU time of the thread doing them (ThreadCpuSeconds), so they add
// up to at most the process's CPU time, which bench/suite.py checks against getrusage. A registry
// layer's read stage is therefore hashing and copying, not waiting on the network.

// Something to scan: one layer blob (for every image that has it), one directory, or the
// virtual files of one image config.
// (Its kind is in its LayerResult.)
struct Job {
  const LayerDescriptor* layer = nullptr;         // kLayer
  std::string directory;                          // kDirectory
  const std::vector<ConfigFile>* config = nullptr;  // kConfig
  bool record_entries = false;  // a layer of an image: its entries decide presence
};

// The virtual files of an image config, walked like files.
class ConfigFileWalker final : public EntrySource {
 public:
  explicit ConfigFileWalker(const std::vector<ConfigFile>& files) : files_(files) {}
  bool NextEntry(EntryInfo& info) override {
    if (next_ >= files_.size()) return false;
    current_ = &files_[next_++];
    info.path = current_->name;
    info.type = EntryType::kRegular;
    info.size_bytes = current_->content.size();
    data_pending_ = true;
    return true;
  }
  std::span<const uint8_t> ReadData() override {
    if (!data_pending_) return {};
    data_pending_ = false;
    return {reinterpret_cast<const uint8_t*>(current_->content.data()), current_->content.size()};
  }

 private:
  const std::vector<ConfigFile>& files_;
  size_t next_ = 0;
  const ConfigFile* current_ = nullptr;
  bool data_pending_ = false;
};

// Times the blocks it passes on, in thread CPU time (and counts them, for progress).
class MeteredSource final : public ByteSource {
 public:
  MeteredSource(std::unique_ptr<ByteSource> inner, double* seconds, std::atomic<uint64_t>* bytes)
      : inner_(std::move(inner)), seconds_(seconds), bytes_(bytes) {}

 private:
  std::span<const uint8_t> NextImpl() override {
    const double start = ThreadCpuSeconds();
    const std::span<const uint8_t> block = inner_->Next();
    Account(start, block.size());
    return block;
  }
  // Passed through, so that a decompressor below still writes into the read-ahead blocks above.
  size_t ReadIntoImpl(std::span<uint8_t> dst) override {
    const double start = ThreadCpuSeconds();
    const size_t n = inner_->ReadInto(dst);
    Account(start, n);
    return n;
  }
  void Account(double cpu_start, size_t bytes) {
    *seconds_ += ThreadCpuSeconds() - cpu_start;
    if (bytes_) bytes_->fetch_add(bytes, std::memory_order_relaxed);
  }

  std::unique_ptr<ByteSource> inner_;
  double* seconds_;
  std::atomic<uint64_t>* bytes_;
};

// Times the walk; decompression and reading happen inside it and are subtracted later.
class MeteredEntries final : public EntrySource {
 public:
  MeteredEntries(EntrySource& inner, double* seconds) : inner_(inner), seconds_(seconds) {}
  bool NextEntry(EntryInfo& info) override {
    const double start = ThreadCpuSeconds();
    const bool more = inner_.NextEntry(info);
    *seconds_ += ThreadCpuSeconds() - start;
    return more;
  }
  std::span<const uint8_t> ReadData() override {
    const double start = ThreadCpuSeconds();
    const std::span<const uint8_t> block = inner_.ReadData();
    *seconds_ += ThreadCpuSeconds() - start;
    return block;
  }

 private:
  EntrySource& inner_;
  double* seconds_;
};

// Newline counts of one piece of a multi-piece file, to turn offsets into line numbers.
struct PieceLines {
  uint64_t newlines = 0;          // in the piece's owned region
  int64_t last_newline = -1;      // file offset of the last one there
};

// A finding before its line number is known (it may depend on earlier pieces).
struct PendingFinding {
  uint32_t rule_index;
  uint32_t file_seq;
  uint32_t piece;
  std::string path;
  uint64_t offset;
  int64_t newline_delta;  // newlines between the piece's owned start and the secret (signed)
  uint64_t column;        // 0: no newline in the chunk before it; resolved from earlier pieces
  std::string secret;
  CheckResult check;
};

// Everything the matchers learn about one job; guarded by `mutex` (findings are rare, so the
// lock is not on the per-byte path).
struct JobState {
  std::mutex mutex;
  std::vector<PendingFinding> findings;
  std::map<uint32_t, std::vector<PieceLines>> pieces;  // file_seq -> pieces
  std::vector<std::string> errors;
  // The blob did not hash to its digest: its bytes are not the layer's, so nothing found in them
  // is reported.
  bool discard_findings = false;
  bool stopped = false;  // ScanOptions::stop cut it short, or came before it started
  double match_seconds = 0;
  // Chunks not matched yet, plus one while the reader is still on the job: whoever takes it to
  // zero completes the job.
  std::atomic<uint32_t> pending{1};
  std::vector<Finding> findings_done;  // after CompleteJob: line numbers known, no uses yet
};

uint64_t CountNewlines(const uint8_t* begin, const uint8_t* end) {
  uint64_t count = 0;
  for (const uint8_t* p = begin; p < end; ++p) count += *p == '\n';
  return count;
}

class ScanRun {
 public:
  // `database` is empty when assembling from memory: nothing is read or matched then.
  ScanRun(const std::vector<Rule>& rules, std::function<const PatternDatabase&()> database, const ScanOptions& options)
      : rules_(rules), compile_(std::move(database)), options_(options) {}

  ScanResult Run(const std::vector<std::string>& specs);
  ScanResult Assemble(std::vector<Target> targets);

 private:
  void ResolveTargets(const std::vector<std::string>& specs);
  void PlanJobs();
  // Jobs recalled from memory or left to other shards are settled here; returns those to read.
  std::vector<uint32_t> SettleJobs();
  void ReadAndMatch(const std::vector<uint32_t>& to_read);
  ScanResult Finish();
  void ReadJob(uint32_t job_id, LayerReader& reader);
  void MatchChunk(Chunk* chunk);
  void ReleaseJob(uint32_t job_id);
  void CompleteJob(uint32_t job_id);
  void FinishJob(uint32_t job_id);
  void Collect();
  void ApplyImageSemantics();
  uint32_t AddJob(JobKind kind, Job job, LayerUse use, const std::string& dedup_key,
                  std::unordered_map<std::string, uint32_t>& jobs_by_key);
  bool StopRequested() const { return options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed); }

  const std::vector<Rule>& rules_;
  std::function<const PatternDatabase&()> compile_;
  const PatternDatabase* database_ = nullptr;  // compiled once some blob must be read
  const ScanOptions& options_;
  Clock::time_point start_ = Clock::now();
  bool assembling_ = false;
  ScanResult result_;
  std::vector<Job> jobs_;
  std::vector<std::unique_ptr<JobState>> states_;
  // [target][image][layer] -> job: the layers whose entries decide presence.
  std::vector<std::vector<std::vector<uint32_t>>> layer_jobs_;
  std::unique_ptr<ChunkPool> pool_;
  struct WorkerScratch {
    std::unique_ptr<ScanContext> context;
    std::vector<RuleMatch> matches;
  };
  tbb::enumerable_thread_specific<WorkerScratch> scratch_;
  std::atomic<uint64_t> stored_bytes_done_{0};
  std::atomic<uint64_t> layers_done_{0};
  std::shared_ptr<RegistryClient> registry_;  // made for the first registry target
};

uint32_t ScanRun::AddJob(JobKind kind, Job job, LayerUse use, const std::string& dedup_key,
                        std::unordered_map<std::string, uint32_t>& jobs_by_key) {
  if (!dedup_key.empty()) {
    auto it = jobs_by_key.find(dedup_key);
    if (it != jobs_by_key.end()) {
      jobs_[it->second].record_entries |= job.record_entries;
      result_.layers[it->second].uses.push_back(use);
      return it->second;
    }
  }
  const uint32_t id = static_cast<uint32_t>(jobs_.size());
  if (!dedup_key.empty()) jobs_by_key.emplace(dedup_key, id);
  LayerResult layer;
  layer.kind = kind;
  layer.uses.push_back(use);
  if (job.layer != nullptr) layer.digest = job.layer->digest;
  if (kind == JobKind::kConfig) layer.digest = dedup_key;  // the config blob's digest
  jobs_.push_back(std::move(job));
  result_.layers.push_back(std::move(layer));
  states_.push_back(std::make_unique<JobState>());
  return id;
}

// Resolving a registry image is round trips (manifests, configs), and a registry-wide scan has
// thousands of them: this many targets are resolved at once, on plain threads (they block on the
// network). Results keep the order of the specs.
constexpr size_t kResolveConcurrency = 8;

void ScanRun::ResolveTargets(const std::vector<std::string>& specs) {
  std::mutex registry_mutex;
  ResolveOptions resolve;
  resolve.platforms = options_.platforms;
  resolve.registry = [this, &registry_mutex] {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (!registry_) registry_ = std::make_shared<RegistryClient>(options_.registry);
    return registry_;
  };
  if (options_.memory != nullptr && options_.recall) {
    resolve.recall_image = [this](const std::string& digest) { return options_.memory->RecallImage(digest); };
  }
  std::vector<std::optional<Target>> resolved(specs.size());
  std::vector<std::string> failures(specs.size());
  std::atomic<size_t> next{0};
  const auto resolve_some = [&] {
    for (size_t i; (i = next.fetch_add(1)) < specs.size();) {
      try {
        if (StopRequested()) throw TargetError(specs[i] + ": not resolved: the scan was stopped");
        resolved[i] = ResolveTarget(specs[i], resolve);
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (size_t k = 1; k < std::min(kResolveConcurrency, specs.size()); ++k) helpers.emplace_back(resolve_some);
  resolve_some();
  for (std::thread& helper : helpers) helper.join();
  for (size_t i = 0; i < specs.size(); ++i) {
    if (resolved[i]) {
      result_.targets.push_back(std::move(*resolved[i]));
      continue;
    }
    Target failed;
    failed.spec = specs[i];
    result_.targets.push_back(std::move(failed));
    ScanIssue issue;  // no image or layer: the target itself failed
    issue.target_index = result_.targets.size() - 1;
    issue.message = failures[i];
    result_.errors.push_back(std::move(issue));
  }
}

void ScanRun::PlanJobs() {
  // A blob is keyed by its digest: the same base layer in two images, or in two platforms of
  // one, is read once. Configs likewise (two tags of one image share it).
  std::unordered_map<std::string, uint32_t> blob_jobs;
  std::unordered_map<std::string, uint32_t> config_jobs;
  layer_jobs_.resize(result_.targets.size());
  for (size_t t = 0; t < result_.targets.size(); ++t) {
    const Target& target = result_.targets[t];
    if (target.kind == TargetKind::kDirectory && !target.path.empty()) {
      Job job;
      job.directory = target.path;
      AddJob(JobKind::kDirectory, std::move(job), LayerUse{t, 0, kNoLayer}, "", blob_jobs);
    }
    const bool is_image = HasImageSemantics(target.kind);
    layer_jobs_[t].resize(target.images.size());
    for (size_t i = 0; i < target.images.size(); ++i) {
      const ImageDescriptor& image = target.images[i];
      // A config is a job even with nothing to scan (no Env, no history): its scan record is what
      // lets the state store recall the image. A recalled image has no config files: the
      // config's findings are recalled with its blob.
      if (!image.config_files.empty() || !image.config_digest.empty()) {
        Job job;
        job.config = &image.config_files;
        AddJob(JobKind::kConfig, std::move(job), LayerUse{t, i, kNoLayer}, image.config_digest, config_jobs);
      }
      for (const LayerDescriptor& layer : image.layers) {
        Job job;
        job.layer = &layer;
        job.record_entries = is_image;
        layer_jobs_[t][i].push_back(
            AddJob(JobKind::kLayer, std::move(job), LayerUse{t, i, layer.index}, layer.digest, blob_jobs));
      }
    }
  }
}

void ScanRun::ReadJob(uint32_t job_id, LayerReader& reader) {
  const Job& job = jobs_[job_id];
  LayerResult& layer = result_.layers[job_id];
  JobState& state = *states_[job_id];
  StageStats& stats = layer.stats;
  double read_seconds = 0;        // on the read-ahead thread
  double decompress_seconds = 0;  // on the decompression thread
  double wait_seconds = 0;        // this thread taking decompressed bytes from the ring
  double walk_seconds = 0;        // this thread in the walker, the taking included
  const double cpu_start = ThreadCpuSeconds();
  std::string computed_digest;
  std::shared_ptr<LayerEntries> entries;
  ReadPlan plan;
  if (job.record_entries) {
    entries = std::make_shared<LayerEntries>();
    plan.entries = entries.get();
  }
  try {
    if (layer.kind == JobKind::kConfig) {
      ConfigFileWalker walker(*job.config);
      plan.apply_path_filter = false;  // virtual names, not paths
      plan.expand_archives = false;
      plan.whiteouts = false;
      reader.Read(job_id, walker, layer, plan);
    } else if (layer.kind == JobKind::kDirectory) {
      auto walker = NewDirectoryWalker(job.directory, [&](const std::string& message) {
        std::lock_guard<std::mutex> lock(state.mutex);
        state.errors.push_back(message);
      });
      plan.whiteouts = false;
      reader.Read(job_id, *walker, layer, plan);
    } else {
      // Three threads per layer, each stage overlapped with the next: reading and hashing (the
      // hash verifies an OCI blob, or gives a bare layer its digest), decompression, and this
      // reader, which walks the tar and fills chunks.
      std::unique_ptr<ByteSource> stored = job.layer->open();
      const std::string expected = job.layer->verify_digest ? job.layer->digest : "";
      stored = std::make_unique<DigestingSource>(std::move(stored), expected, &computed_digest);
      stored = std::make_unique<MeteredSource>(std::move(stored), &read_seconds, &stored_bytes_done_);
      stored = std::make_unique<ReadAheadSource>(std::move(stored));
      Compression compression = Compression::kNone;
      std::unique_ptr<ByteSource> tar = OpenDecompressed(std::move(stored), &compression);
      layer.compression = std::string(CompressionName(compression));
      tar = std::make_unique<MeteredSource>(std::move(tar), &decompress_seconds, nullptr);
      tar = std::make_unique<ReadAheadSource>(std::move(tar));
      tar = std::make_unique<MeteredSource>(std::move(tar), &wait_seconds, nullptr);
      ByteSource* const tar_stream = tar.get();
      std::unique_ptr<EntrySource> entries = NewTarWalker(std::move(tar));
      MeteredEntries metered(*entries, &walk_seconds);
      try {
        reader.Read(job_id, metered, layer, plan);
        // A tar stream ends at its end-of-archive marker; what follows (padding, or a tampered
        // tail) is still part of the blob and must be hashed before the digest can be trusted.
        while (!tar_stream->Next().empty()) {
        }
      } catch (...) {
        stats.uncompressed_bytes = tar_stream->bytes_read();
        throw;
      }
      stats.uncompressed_bytes = tar_stream->bytes_read();
    }
    layer.complete = true;
    if (entries) {
      entries->Index();
      layer.entries = std::move(entries);
    }
  } catch (const ScanStopped& e) {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.stopped = true;
    state.errors.push_back(e.what());
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(state.mutex);
    const bool mismatch = job.layer != nullptr && job.layer->verify_digest && !computed_digest.empty() &&
                          computed_digest != job.layer->digest;
    if (mismatch) {
      // The bytes are not the layer's (corrupted on the way or at rest): whatever failed first,
      // the mismatch is the cause to report.
      std::string message = e.what();
      if (message.find("digest mismatch") == std::string::npos) {
        message = "digest mismatch: expected " + job.layer->digest + ", content hashes to " +
                  computed_digest + " (" + message + ")";
      }
      state.discard_findings = true;
      state.errors.push_back(message + "; the layer's findings discarded");
    } else {
      state.errors.push_back(e.what());
    }
  }
  if (job.layer != nullptr) {
    if (layer.digest.empty()) layer.digest = computed_digest;
    stats.stored_bytes = job.layer->size_bytes;
  }
  const double total_seconds = ThreadCpuSeconds() - cpu_start;
  stats.read_seconds = read_seconds;
  stats.decompress_seconds = decompress_seconds;
  stats.walk_seconds = std::max(0.0, (job.layer ? walk_seconds : total_seconds) - wait_seconds);
}

void ScanRun::MatchChunk(Chunk* chunk) {
  // One context (regex caches, scratch) per worker thread, created on first use.
  WorkerScratch& scratch = scratch_.local();
  if (!scratch.context) scratch.context = database_->NewContext();
  ScanContext* const context = scratch.context.get();
  std::vector<RuleMatch>& matches = scratch.matches;
  HandoffAcquire(chunk);
  const double cpu_start = ThreadCpuSeconds();
  JobState& state = *states_[chunk->job];
  const uint8_t* const data = chunk->data.get();
  try {
    for (const Segment& segment : chunk->segments) {
      const uint8_t* const begin = data + segment.data_begin;
      const std::span<const uint8_t> bytes(begin, segment.data_end - segment.data_begin);
      matches.clear();
      context->Scan(bytes, segment.own_begin, segment.own_end, chunk->PathOf(segment), matches);
      PieceLines lines;
      if (segment.multi_piece) {
        lines.newlines = CountNewlines(begin + segment.own_begin, begin + segment.own_end);
        const void* last = memrchr(begin + segment.own_begin, '\n', segment.own_end - segment.own_begin);
        if (last != nullptr) {
          lines.last_newline = static_cast<int64_t>(segment.file_offset) +
                               (static_cast<const uint8_t*>(last) - begin);
        }
      }
      if (matches.empty() && !segment.multi_piece) continue;
      std::lock_guard<std::mutex> lock(state.mutex);
      if (segment.multi_piece) {
        std::vector<PieceLines>& pieces = state.pieces[segment.file_seq];
        if (pieces.size() <= segment.piece) pieces.resize(segment.piece + 1);
        pieces[segment.piece] = lines;
      }
      // Matches come sorted by offset: count newlines incrementally from the owned start.
      size_t cursor = segment.own_begin;
      int64_t newlines = 0;
      for (const RuleMatch& m : matches) {
        PendingFinding finding;
        finding.rule_index = m.rule_index;
        finding.check = m.check;
        finding.file_seq = segment.file_seq;
        finding.piece = segment.piece;
        finding.path = std::string(chunk->PathOf(segment));
        finding.offset = segment.file_offset + m.secret_begin;
        if (m.secret_begin >= segment.own_begin) {
          newlines += static_cast<int64_t>(CountNewlines(begin + cursor, begin + m.secret_begin));
          cursor = m.secret_begin;
          finding.newline_delta = newlines;
        } else {
          finding.newline_delta =
              -static_cast<int64_t>(CountNewlines(begin + m.secret_begin, begin + segment.own_begin));
        }
        const void* line_start = m.secret_begin > 0 ? memrchr(begin, '\n', m.secret_begin) : nullptr;
        if (line_start != nullptr) {
          finding.column = m.secret_begin - static_cast<uint64_t>(static_cast<const uint8_t*>(line_start) - begin);
        } else {
          finding.column = segment.file_offset == 0 ? m.secret_begin + 1 : 0;
        }
        finding.secret.assign(reinterpret_cast<const char*>(begin) + m.secret_begin,
                              m.secret_end - m.secret_begin);
        state.findings.push_back(std::move(finding));
      }
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.errors.push_back(std::string("matcher: ") + e.what());
  }
  const double seconds = ThreadCpuSeconds() - cpu_start;
  const uint32_t job_id = chunk->job;
  pool_->Release(chunk);
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.match_seconds += seconds;
  }
  ReleaseJob(job_id);
}

void ScanRun::ReleaseJob(uint32_t job_id) {
  if (states_[job_id]->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) CompleteJob(job_id);
}

// The job's last chunk is matched: line numbers, and the blob handed to memory at once, so that a
// crash loses only the blobs in flight.
void ScanRun::CompleteJob(uint32_t job_id) {
  JobState& state = *states_[job_id];
  std::lock_guard<std::mutex> lock(state.mutex);
  LayerResult& layer = result_.layers[job_id];
  layer.stats.match_seconds = state.match_seconds;
  if (state.discard_findings) state.findings.clear();
  for (PendingFinding& pending : state.findings) {
    uint64_t newlines_before_piece = 0;
    int64_t last_newline = -1;
    auto it = state.pieces.find(pending.file_seq);
    if (it != state.pieces.end()) {
      for (uint32_t p = 0; p < pending.piece && p < it->second.size(); ++p) {
        newlines_before_piece += it->second[p].newlines;
        if (it->second[p].last_newline >= 0) last_newline = it->second[p].last_newline;
      }
    }
    Finding finding;
    finding.layer_result_index = job_id;
    finding.rule_index = pending.rule_index;
    finding.path = std::move(pending.path);
    finding.offset = pending.offset;
    finding.line = static_cast<uint64_t>(1 + static_cast<int64_t>(newlines_before_piece) +
                                         pending.newline_delta);
    finding.column = pending.column != 0 ? pending.column
                                         : pending.offset - static_cast<uint64_t>(last_newline);
    finding.secret = std::move(pending.secret);
    finding.check = pending.check;
    finding.facts = SecretFactsOf(finding.secret, finding.line, finding.column);
    state.findings_done.push_back(std::move(finding));
  }
  state.findings.clear();
  // A secret near a piece boundary is seen by both pieces: keep it once.
  auto order = [this](const Finding& f) {
    return std::tie(f.path, f.offset, rules_[f.rule_index].id, f.secret);
  };
  std::sort(state.findings_done.begin(), state.findings_done.end(),
            [&](const Finding& a, const Finding& b) { return order(a) < order(b); });
  state.findings_done.erase(
      std::unique(state.findings_done.begin(), state.findings_done.end(),
                  [&](const Finding& a, const Finding& b) { return order(a) == order(b); }),
      state.findings_done.end());
  if (!state.errors.empty()) {
    layer.complete = false;
    layer.entries.reset();  // partial: cannot say what the layer removes
  }
  // A blob cut short by a stop is not worth keeping: the next run reads it again anyway.
  if (options_.memory != nullptr && !state.stopped && !assembling_) {
    try {
      options_.memory->RememberBlob(layer, state.findings_done, state.errors);
    } catch (const std::exception& e) {
      state.errors.push_back(std::string("state store: ") + e.what());
    }
  }
}

// The job's findings, errors and skips, once per use of the blob.
void ScanRun::FinishJob(uint32_t job_id) {
  JobState& state = *states_[job_id];
  // The readers and matchers are done; the lock makes that visible to sanitizers.
  std::lock_guard<std::mutex> lock(state.mutex);
  LayerResult& layer = result_.layers[job_id];
  const Job& job = jobs_[job_id];
  for (const Finding& done : state.findings_done) {
    Finding finding = done;
    finding.layer_result_index = job_id;
    // Once per image that has the blob: each has its own platform, attribution and presence.
    for (const LayerUse& use : layer.uses) {
      finding.target_index = use.target_index;
      finding.image_index = use.image_index;
      finding.layer_index = use.layer_index;
      result_.findings.push_back(finding);
    }
  }
  for (const LayerUse& use : layer.uses) {
    const ScanPlace place{use.target_index, use.image_index, use.layer_index, layer.digest};
    for (const std::string& message : state.errors) result_.errors.push_back(ScanIssue{place, message});
    for (const ScanSkip& skip : layer.skipped) {
      result_.skipped.push_back(ScanSkip{place, skip.path, skip.reason});
    }
  }
  if (!state.errors.empty()) layer.complete = false;
  if (layer.kind == JobKind::kConfig && layer.source == BlobSource::kRead) {
    result_.config_files_scanned += job.config->size();
  }
}

// Presence in the final image, and the attribution text with the secrets found in it masked.
void ScanRun::ApplyImageSemantics() {
  // Per image, its layers' entries (null where unknown).
  std::vector<std::vector<std::vector<const LayerEntries*>>> entries(result_.targets.size());
  for (size_t t = 0; t < result_.targets.size(); ++t) {
    entries[t].resize(layer_jobs_[t].size());
    for (size_t i = 0; i < layer_jobs_[t].size(); ++i) {
      for (uint32_t job : layer_jobs_[t][i]) entries[t][i].push_back(result_.layers[job].entries.get());
    }
  }
  // history index -> byte ranges of secrets found in that created_by, per image
  std::map<std::tuple<size_t, size_t, int>, std::vector<std::pair<uint64_t, uint64_t>>> history_secrets;
  for (Finding& f : result_.findings) {
    const LayerResult& job = result_.layers[f.layer_result_index];
    if (!HasImageSemantics(result_.targets[f.target_index].kind)) continue;
    if (job.kind == JobKind::kConfig) {
      f.presence.known = true;
      f.presence.present = true;  // the config is part of the image whatever its layers do
      const int k = HistoryIndexOfConfigFile(f.path);
      if (k >= 0) {
        history_secrets[{f.target_index, f.image_index, k}].emplace_back(f.offset, f.offset + f.facts.size_bytes);
      }
      continue;
    }
    // A member of an archive is there exactly when the archive is.
    const std::string_view path = std::string_view(f.path).substr(0, f.path.find('!'));
    f.presence = PresenceOf(entries[f.target_index][f.image_index], f.layer_index, path);
  }
  for (auto& [key, ranges] : history_secrets) {
    const auto& [t, i, k] = key;
    ImageDescriptor& image = result_.targets[t].images[i];
    if (image.recalled) continue;  // its created_by was stored redacted
    std::sort(ranges.begin(), ranges.end());
    for (LayerDescriptor& layer : image.layers) {
      if (layer.history_index != k) continue;
      const std::string& text = layer.created_by;
      std::string redacted;
      uint64_t done = 0;
      for (size_t r = 0; r < ranges.size();) {
        uint64_t begin = ranges[r].first, end = ranges[r].second;
        // Two rules on one secret, or overlapping secrets: mask their union once.
        for (++r; r < ranges.size() && ranges[r].first < end; ++r) end = std::max(end, ranges[r].second);
        if (begin < done || end > text.size()) continue;
        redacted.append(text, done, begin - done);
        redacted += RedactSecret(std::string_view(text).substr(begin, end - begin));
        done = end;
      }
      redacted.append(text, done);
      layer.created_by_redacted = std::move(redacted);
    }
  }
}

void ScanRun::Collect() {
  auto order = [this](const Finding& f) {
    return std::tie(f.target_index, f.image_index, f.layer_index, f.path, f.offset,
                    rules_[f.rule_index].id, f.secret);
  };
  std::vector<Finding>& findings = result_.findings;
  std::sort(findings.begin(), findings.end(),
            [&](const Finding& a, const Finding& b) { return order(a) < order(b); });
  // (Each blob's findings were made unique in CompleteJob, before they were remembered.)
  std::stable_sort(result_.errors.begin(), result_.errors.end(),
                   [](const ScanIssue& a, const ScanIssue& b) {
                     return std::tie(a.target_index, a.image_index, a.layer_index) <
                            std::tie(b.target_index, b.image_index, b.layer_index);
                   });
  std::stable_sort(result_.skipped.begin(), result_.skipped.end(),
                   [](const ScanSkip& a, const ScanSkip& b) {
                     return std::tie(a.target_index, a.image_index, a.layer_index, a.path) <
                            std::tie(b.target_index, b.image_index, b.layer_index, b.path);
                   });
  for (const LayerResult& layer : result_.layers) {
    if (layer.source == BlobSource::kRead) result_.totals.Add(layer.stats);
  }
}

ScanResult ScanRun::Run(const std::vector<std::string>& specs) {
  ResolveTargets(specs);
  PlanJobs();
  ReadAndMatch(SettleJobs());
  return Finish();
}

ScanResult ScanRun::Assemble(std::vector<Target> targets) {
  assembling_ = true;
  result_.targets = std::move(targets);
  PlanJobs();
  SettleJobs();  // every job: nothing is read
  return Finish();
}

std::vector<uint32_t> ScanRun::SettleJobs() {
  std::vector<uint32_t> to_read;
  for (uint32_t j = 0; j < jobs_.size(); ++j) {
    LayerResult& layer = result_.layers[j];
    JobState& state = *states_[j];
    const std::string& digest = layer.digest;  // empty for directories and bare layer files
    if (layer.kind == JobKind::kLayer) ++result_.blobs_scanned;
    if (!assembling_ && options_.shard_count > 1 &&
        (digest.empty() ? 0 : ShardOfDigest(digest, options_.shard_count)) != options_.shard_index) {
      layer.source = BlobSource::kOtherShard;
      if (layer.kind == JobKind::kLayer) ++result_.blobs_other_shard;
      continue;
    }
    ScanMemory* const memory = options_.memory;
    if (memory != nullptr && (options_.recall || assembling_) && !digest.empty() &&
        layer.kind != JobKind::kDirectory) {
      std::optional<RecalledBlob> blob = memory->RecallBlob(digest);
      // A layer of an image needs what it removes, for presence: one remembered without (read as a
      // bare layer) is read again.
      if (blob && (blob->entries || !jobs_[j].record_entries)) {
        layer.source = BlobSource::kRecalled;
        layer.complete = true;
        layer.compression = std::move(blob->compression);
        layer.stats = blob->stats;
        layer.skipped = std::move(blob->skipped);
        if (jobs_[j].record_entries) layer.entries = std::move(blob->entries);
        state.findings_done = std::move(blob->findings);
        if (layer.kind == JobKind::kLayer) ++result_.blobs_recalled;
        continue;
      }
      if (assembling_) {
        const std::string error = memory->LastError(digest);
        state.errors.push_back(error.empty() ? "not scanned yet" : "its last scan failed: " + error);
        continue;
      }
    }
    if (layer.kind == JobKind::kConfig && jobs_[j].config->empty() &&
        result_.targets[layer.uses.front().target_index].images[layer.uses.front().image_index].recalled) {
      state.errors.push_back("the image config " + digest +
                             " is no longer in the state store and was not read; rerun to read it");
      continue;
    }
    to_read.push_back(j);
  }
  for (const LayerResult& layer : result_.layers) {
    if (layer.kind == JobKind::kLayer) result_.layer_uses += layer.uses.size();
  }
  return to_read;
}

void ScanRun::ReadAndMatch(const std::vector<uint32_t>& to_read) {
  const unsigned threads = options_.threads > 0
                               ? options_.threads
                               : std::max(1u, std::thread::hardware_concurrency());
  result_.threads = threads;
  if (to_read.empty()) return;
  database_ = &compile_();
  // Memory plan. Each reader holds decompression state (zstd windows up to 128 MiB, typically a
  // few MiB) and each chunk costs its capacity: readers are limited to what the budget affords,
  // and the pool to a few chunks per thread, which is all the matchers can use.
  // A reader of a registry layer also holds that layer's download buffers.
  const uint64_t reader_budget_bytes = (64ull << 20) + (registry_ ? registry_->buffer_bytes_per_blob() : 0);
  const size_t context_bytes = database_->context_bytes();
  const size_t chunk_capacity =
      2 * context_bytes + std::max(options_.chunk_bytes, kBinaryProbeBytes);
  const size_t readers = std::max<size_t>(
      1, std::min<size_t>({threads, to_read.size(),
                           std::max<uint64_t>(1, options_.max_memory_bytes / 2 / reader_budget_bytes)}));
  const uint64_t chunk_budget = options_.max_memory_bytes / 2;
  // Enough for every matcher to hold one chunk while each reader fills another and one more
  // waits; more only adds memory, not speed.
  const size_t wanted_chunks = 2 * threads + 2 * readers;
  const size_t affordable_chunks = static_cast<size_t>(chunk_budget / chunk_capacity);
  const size_t chunk_count = std::max(readers + 1, std::min(wanted_chunks, affordable_chunks));
  pool_ = std::make_unique<ChunkPool>(chunk_count, chunk_capacity);

  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism, threads);
  tbb::flow::graph graph;
  using ReaderNode = tbb::flow::async_node<uint32_t, Chunk*>;
  struct Assignment {
    uint32_t job;
    ReaderNode::gateway_type* gateway;
  };
  tbb::concurrent_bounded_queue<Assignment> assignments;
  constexpr uint32_t kStop = UINT32_MAX;

  ReaderNode reader_node(graph, tbb::flow::unlimited,
                         [&](uint32_t job, ReaderNode::gateway_type& gateway) {
                           gateway.reserve_wait();  // keep the graph alive until the layer is read
                           assignments.push(Assignment{job, &gateway});
                         });
  tbb::flow::function_node<Chunk*> matcher_node(graph, tbb::flow::unlimited,
                                                [&](Chunk* chunk) { MatchChunk(chunk); });
  tbb::flow::make_edge(reader_node, matcher_node);

  PathFilter filter(options_.excluded_path_patterns);
  std::vector<std::thread> reader_threads;
  for (size_t r = 0; r < readers; ++r) {
    reader_threads.emplace_back([&] {
      ReaderNode::gateway_type* gateway = nullptr;
      LayerReader reader(*pool_, filter, context_bytes, options_,
                         [this, &gateway](Chunk* chunk) {
                           states_[chunk->job]->pending.fetch_add(1, std::memory_order_relaxed);
                           HandoffRelease(chunk);
                           gateway->try_put(chunk);
                         });
      for (;;) {
        Assignment assignment{};
        assignments.pop(assignment);
        if (assignment.job == kStop) return;
        gateway = assignment.gateway;
        if (StopRequested()) {
          JobState& state = *states_[assignment.job];
          std::lock_guard<std::mutex> lock(state.mutex);
          state.stopped = true;
          state.errors.push_back("not scanned: the scan was stopped before this layer was read");
        } else {
          ReadJob(assignment.job, reader);
        }
        layers_done_.fetch_add(1, std::memory_order_relaxed);
        ReleaseJob(assignment.job);
        gateway->release_wait();
      }
    });
  }

  std::mutex progress_mutex;
  std::condition_variable progress_cv;
  bool scanning = true;
  std::thread progress_thread;
  if (options_.on_progress) {
    uint64_t total_stored = 0;
    for (uint32_t j : to_read) total_stored += jobs_[j].layer ? jobs_[j].layer->size_bytes : 0;
    progress_thread = std::thread([&, total_stored] {
      std::unique_lock<std::mutex> lock(progress_mutex);
      while (!progress_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return !scanning; })) {
        options_.on_progress(ScanProgress{stored_bytes_done_.load(), total_stored,
                                          layers_done_.load(), to_read.size(), SecondsSince(start_)});
      }
    });
  }

  for (uint32_t j : to_read) reader_node.try_put(j);
  graph.wait_for_all();
  for (size_t r = 0; r < readers; ++r) assignments.push(Assignment{kStop, nullptr});
  for (std::thread& thread : reader_threads) thread.join();
  if (progress_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(progress_mutex);
      scanning = false;
    }
    progress_cv.notify_all();
    progress_thread.join();
  }

}

ScanResult ScanRun::Finish() {
  for (uint32_t j = 0; j < jobs_.size(); ++j) FinishJob(j);
  ApplyImageSemantics();
  Collect();
  result_.stopped = StopRequested();
  if (registry_) {
    result_.registry_requests = registry_->requests_sent();
    result_.registry_connections = registry_->connections_opened();
    result_.downloads = registry_->download_stats();
  }
  result_.wall_seconds = SecondsSince(start_);
  if (database_ != nullptr && database_->options().profile_rules) {
    result_.rule_profile.assign(rules_.size(), RuleProfile{});
    for (const WorkerScratch& scratch : scratch_) {
      if (scratch.context) scratch.context->AddProfileTo(result_.rule_profile);
    }
  }
  return std::move(result_);
}

}  // namespace

Scanner::Scanner(const PatternDatabase& database, ScanOptions options)
    : Scanner([&database]() -> const PatternDatabase& { return database; }, database.rules(), std::move(options)) {}

Scanner::Scanner(std::function<const PatternDatabase&()> database, std::vector<Rule> rules, ScanOptions options)
    : database_(std::move(database)), rules_(std::move(rules)), options_(std::move(options)) {
  if (options_.max_memory_bytes < kMinimumMaxMemoryBytes) {
    throw std::invalid_argument("--max-memory must be at least " +
                                std::to_string(kMinimumMaxMemoryBytes >> 20) + "MiB");
  }
}

ScanResult Scanner::Scan(const std::vector<std::string>& target_specs) {
  ScanRun run(rules_, database_, options_);
  return run.Run(target_specs);
}

ScanResult AssembleFromMemory(std::vector<Target> targets, const std::vector<Rule>& rules, ScanMemory& memory) {
  ScanOptions options;
  options.memory = &memory;
  ScanRun run(rules, {}, options);
  return run.Assemble(std::move(targets));
}

unsigned ShardOfDigest(const std::string& digest, unsigned shard_count) {
  if (shard_count <= 1) return 0;
  // sha256:<hex>: the hex is uniformly distributed, its first 16 digits are plenty.
  const size_t colon = digest.find(':');
  const std::string hex = digest.substr(colon == std::string::npos ? 0 : colon + 1, 16);
  uint64_t value = 0;
  for (const char c : hex) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) break;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return static_cast<unsigned>(value % shard_count);
}

}  // namespace layersift
