#include "layersift/engine/report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

#include "layersift/engine/decompress.h"
#include "layersift/engine/digest.h"
#include "layersift/engine/image_semantics.h"
#include "layersift/engine/rule_set.h"
#include "report_fields.h"
#include "report_internal.h"

namespace layersift {

using nlohmann::json;
using nlohmann::ordered_json;

const ImageDescriptor* ImageOf(const ScanResult& result, size_t target, size_t image) {
  const Target& t = result.targets[target];
  return image < t.images.size() ? &t.images[image] : nullptr;
}

std::string LayerDigestOf(const Finding& f, const ScanResult& result) {
  return f.layer_index == kNoLayer ? std::string() : result.layers[f.layer_result_index].digest;
}

std::string CreatedByOf(const Finding& f, const ScanResult& result, bool show_secrets) {
  const ImageDescriptor* image = ImageOf(result, f.target_index, f.image_index);
  if (image == nullptr || f.layer_index == kNoLayer ||
      static_cast<size_t>(f.layer_index) >= image->layers.size()) {
    return "";
  }
  const LayerDescriptor& layer = image->layers[static_cast<size_t>(f.layer_index)];
  return show_secrets ? layer.created_by : layer.created_by_redacted;
}

nlohmann::ordered_json FindingJson(const Finding& f, const ScanResult& result, const std::vector<Rule>& rules,
                         const ReportOptions& options) {
  const Rule& rule = rules[f.rule_index];
  const ImageDescriptor* image = ImageOf(result, f.target_index, f.image_index);
  ordered_json j;
  j["rule_id"] = rule.id;
  j["rule_name"] = rule.name;
  j["kind"] = rule.kind;
  j["vendor"] = rule.vendor.empty() ? json(nullptr) : json(rule.vendor);
  j["confidence"] = std::string(ConfidenceName(EffectiveConfidence(rule, f.check)));
  j["validation"] =
      f.check == CheckResult::kNotChecked ? json(nullptr) : json(std::string(CheckResultName(f.check)));
  j["target"] = result.targets[f.target_index].spec;
  j["image_digest"] = image && !image->image_digest.empty() ? json(image->image_digest) : json(nullptr);
  j["platform"] = image && !image->platform.empty() ? json(image->platform) : json(nullptr);
  j["layer_index"] = f.layer_index == kNoLayer ? json(nullptr) : json(f.layer_index);
  const std::string layer_digest = LayerDigestOf(f, result);
  j["layer_digest"] = layer_digest.empty() ? json(nullptr) : json(layer_digest);
  j["path"] = f.path;
  j["line"] = f.line;
  j["column"] = f.column;
  j["offset"] = f.offset;
  j["present_in_final_image"] = f.presence.known ? json(f.presence.present) : json(nullptr);
  if (f.presence.known && !f.presence.present) {
    j["removed_by"] = ordered_json{{"layer_index", f.presence.removed_by_layer},
                                   {"reason", std::string(RemovalReasonName(f.presence.reason))}};
  } else {
    j["removed_by"] = nullptr;
  }
  const std::string created_by = CreatedByOf(f, result, options.show_secrets);
  j["created_by"] = created_by.empty() ? json(nullptr) : json(created_by);
  j["secret_redacted"] = f.facts.redacted;
  j["secret_sha256"] = f.facts.sha256;
  j["fingerprint"] = FindingFingerprint(f, result, rules);
  if (options.show_secrets) j["secret"] = f.secret;
  return j;
}

nlohmann::ordered_json WhereJson(const ScanResult& result, const ScanPlace& place) {
  const ImageDescriptor* image = ImageOf(result, place.target_index, place.image_index);
  ordered_json j;
  j["target"] = result.targets[place.target_index].spec;
  j["image_digest"] = image && !image->image_digest.empty() ? json(image->image_digest) : json(nullptr);
  j["layer_index"] = place.layer_index == kNoLayer ? json(nullptr) : json(place.layer_index);
  j["layer_digest"] = place.layer_digest.empty() ? json(nullptr) : json(place.layer_digest);
  return j;
}

namespace {

// Paths (and raw secrets, when shown) need not be UTF-8, which JSON strings must be: invalid
// bytes become U+FFFD rather than failing the whole report.
std::string Dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

double MegabytesPerSecond(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
}

ordered_json StatsJson(const ScanResult& result) {
  const StageStats& s = result.totals;
  ordered_json j;
  j["wall_seconds"] = result.wall_seconds;
  j["threads"] = result.threads;
  j["gzip_backend"] = std::string(GzipBackendName());
  j["layers"] = result.layer_uses;
  j["layers_failed"] = std::count_if(result.layers.begin(), result.layers.end(),
                                     [](const LayerResult& l) {
                                       return !l.complete && l.source != BlobSource::kOtherShard;
                                     });
  j["stored_bytes"] = s.stored_bytes;
  j["uncompressed_bytes"] = s.uncompressed_bytes;
  j["uncompressed_mb_per_second"] = MegabytesPerSecond(s.uncompressed_bytes, result.wall_seconds);
  j["files_seen"] = s.files_seen;
  j["files_scanned"] = s.files_scanned;
  j["files_excluded"] = s.files_excluded;
  j["files_binary_skipped"] = s.files_binary_skipped;
  j["files_empty"] = s.files_empty;
  j["links_skipped"] = s.links_skipped;
  j["whiteouts"] = s.whiteouts;
  j["bytes_scanned"] = s.bytes_scanned;
  j["layer_uses"] = result.layer_uses;
  j["blobs_scanned"] = result.blobs_scanned;
  j["blobs_recalled"] = result.blobs_recalled;  // from the state file, not read
  j["blobs_other_shard"] = result.blobs_other_shard;
  j["config_files_scanned"] = result.config_files_scanned;
  j["archives_expanded"] = s.archives_expanded;
  j["archive_members"] = s.archive_members;
  j["archives_skipped"] = s.archives_skipped;
  j["findings_suppressed"] = result.findings_suppressed;
  j["findings_not_present"] = result.findings_not_present;
  j["stage_seconds"] = ordered_json{{"read", s.read_seconds},
                                    {"decompress", s.decompress_seconds},
                                    {"walk", s.walk_seconds},
                                    {"match", s.match_seconds}};
  if (result.registry_requests > 0 || result.downloads.requests > 0) {
    const DownloadStats& d = result.downloads;
    j["registry"] = ordered_json{{"requests", result.registry_requests},
                                 {"connections", result.registry_connections},
                                 {"blob_requests", d.requests},
                                 {"blob_connections", d.connections_opened},
                                 {"blob_http2_requests", d.http2_requests},
                                 {"blob_bytes", d.bytes_received},
                                 {"retries", d.retries},
                                 {"redirects", d.redirects},
                                 {"redirect_renewals", d.redirect_renewals},
                                 {"range_fallbacks", d.range_fallbacks},
                                 {"auth_renewals", d.auth_renewals}};
  }
  j["findings"] = result.findings.size();
  j["errors"] = result.errors.size();
  j["skipped"] = result.skipped.size();
  return j;
}

ordered_json ErrorJson(const ScanIssue& e, const ScanResult& result) {
  ordered_json j = WhereJson(result, e);
  j["message"] = e.message;
  return j;
}

ordered_json SkipJson(const ScanSkip& skip, const ScanResult& result) {
  ordered_json j = WhereJson(result, skip);
  j["path"] = skip.path;
  j["reason"] = skip.reason;
  return j;
}

ordered_json TargetsJson(const ScanResult& result) {
  ordered_json targets = ordered_json::array();
  for (const Target& t : result.targets) {
    ordered_json target;
    target["target"] = t.spec;
    target["kind"] = std::string(TargetKindName(t.kind));
    ordered_json images = ordered_json::array();
    for (const ImageDescriptor& image : t.images) {
      ordered_json layers = ordered_json::array();
      for (const LayerDescriptor& layer : image.layers) {
        layers.push_back(ordered_json{{"index", layer.index},
                                      {"digest", layer.digest.empty() ? json(nullptr) : json(layer.digest)},
                                      {"media_type", layer.media_type},
                                      {"size", layer.size_bytes}});
      }
      images.push_back(ordered_json{
          {"image_digest", image.image_digest.empty() ? json(nullptr) : json(image.image_digest)},
          {"reference", image.reference},
          {"platform", image.platform},
          {"config_digest", image.config_digest.empty() ? json(nullptr) : json(image.config_digest)},
          {"layers", std::move(layers)}});
    }
    target["images"] = std::move(images);
    targets.push_back(std::move(target));
  }
  // Layers whose digest was only known after streaming (bare layer files).
  for (const LayerResult& layer : result.layers) {
    if (layer.kind != JobKind::kLayer) continue;
    for (const LayerUse& use : layer.uses) {
      ordered_json& entry = targets[use.target_index]["images"][use.image_index]["layers"][static_cast<size_t>(use.layer_index)];
      if (entry["digest"].is_null() && !layer.digest.empty()) entry["digest"] = layer.digest;
      entry["compression"] = layer.compression;
      entry["complete"] = layer.complete;
      entry["source"] = layer.source == BlobSource::kRecalled     ? "state"
                        : layer.source == BlobSource::kOtherShard ? "other-shard"
                                                                  : "read";
    }
  }
  return targets;
}

class JsonWriter final : public ReportSink {
 public:
  JsonWriter(const ScanResult& result, const std::vector<Rule>& rules, const ReportOptions& options,
             std::ostream& out)
      : result_(result), rules_(rules), options_(options), out_(out) {
    document_["version"] = std::string(EngineVersion());
    document_["schema_version"] = std::string(kReportSchemaVersion);
    document_["rule_set_hash"] = options.rule_set_hash;
    document_["targets"] = TargetsJson(result);
    document_["findings"] = ordered_json::array();
    document_["errors"] = ordered_json::array();
  }
  void OnFinding(const Finding& f) override {
    document_["findings"].push_back(FindingJson(f, result_, rules_, options_));
  }
  void OnError(const ScanIssue& e) override { document_["errors"].push_back(ErrorJson(e, result_)); }
  void Finish() override {
    document_["skipped"] = ordered_json::array();
    for (const ScanSkip& skip : result_.skipped) document_["skipped"].push_back(SkipJson(skip, result_));
    document_["stats"] = StatsJson(result_);
    out_ << Dump(document_, 2) << "\n";
  }

 private:
  const ScanResult& result_;
  const std::vector<Rule>& rules_;
  const ReportOptions& options_;
  std::ostream& out_;
  ordered_json document_;
};

// One JSON object per line, written as results are pushed: {"type": "finding" | "error" |
// "stats", ...}.
class JsonlWriter final : public ReportSink {
 public:
  JsonlWriter(const ScanResult& result, const std::vector<Rule>& rules, const ReportOptions& options,
              std::ostream& out)
      : result_(result), rules_(rules), options_(options), out_(out) {}
  void OnFinding(const Finding& f) override {
    ordered_json j{{"type", "finding"}};
    j.update(FindingJson(f, result_, rules_, options_));
    out_ << Dump(j) << "\n";
  }
  void OnError(const ScanIssue& e) override {
    ordered_json j{{"type", "error"}};
    j.update(ErrorJson(e, result_));
    out_ << Dump(j) << "\n";
  }
  void Finish() override {
    for (const ScanSkip& skip : result_.skipped) {
      ordered_json line{{"type", "skipped"}};
      line.update(SkipJson(skip, result_));
      out_ << Dump(line) << "\n";
    }
    ordered_json j{{"type", "stats"},
                   {"version", std::string(EngineVersion())},
                   {"rule_set_hash", options_.rule_set_hash}};
    j.update(StatsJson(result_));
    out_ << Dump(j) << "\n";
  }

 private:
  const ScanResult& result_;
  const std::vector<Rule>& rules_;
  const ReportOptions& options_;
  std::ostream& out_;
};

// For people: the same secret found by the same rule in several places (layers, images, paths)
// is one heading with all its locations, in the order first found.
class TextWriter final : public ReportSink {
 public:
  TextWriter(const ScanResult& result, const std::vector<Rule>& rules, const ReportOptions& options,
             std::ostream& out)
      : result_(result), rules_(rules), options_(options), out_(out) {}

  void OnFinding(const Finding& f) override {
    std::string key = rules_[f.rule_index].id;
    key.push_back('\0');
    key += f.facts.sha256;
    auto [it, inserted] = group_of_.emplace(std::move(key), groups_.size());
    if (inserted) groups_.emplace_back();
    groups_[it->second].push_back(&f);
  }

  // Called once the findings are in: prints them grouped.
  void PrintGroups() {
    for (const std::vector<const Finding*>& group : groups_) {
      const Finding& first = *group.front();
      const Rule& rule = rules_[first.rule_index];
      const std::string secret = options_.show_secrets ? first.secret : first.facts.redacted;
      out_ << "\n" << Red(rule.id) << "  " << secret << "  "
           << ConfidenceName(EffectiveConfidence(rule, first.check));
      if (first.check != CheckResult::kNotChecked) out_ << ", check " << CheckResultName(first.check);
      out_ << "  (" << group.size() << " location" << (group.size() == 1 ? "" : "s") << ")\n";
      for (const Finding* f : group) PrintLocation(*f);
    }
  }

  void PrintLocation(const Finding& f) {
    const ImageDescriptor* image = ImageOf(result_, f.target_index, f.image_index);
    out_ << "  " << Bold(f.path) << ":" << f.line << ":" << f.column << "\n      "
         << result_.targets[f.target_index].spec;
    if (image && !image->platform.empty()) out_ << "  " << image->platform;
    if (f.layer_index != kNoLayer) {
      out_ << "  layer " << f.layer_index << " " << Short(LayerDigestOf(f, result_));
    } else if (image != nullptr && result_.layers[f.layer_result_index].kind == JobKind::kConfig) {
      out_ << "  image config";
    }
    if (f.presence.known) {
      if (f.presence.present) {
        out_ << "  present in the final image";
      } else {
        out_ << "  removed by layer " << f.presence.removed_by_layer << " ("
             << RemovalReasonName(f.presence.reason) << ")";
      }
    }
    out_ << "\n";
    const std::string created_by = CreatedByOf(f, result_, options_.show_secrets);
    if (!created_by.empty()) out_ << "      created by: " << OneLine(created_by) << "\n";
  }

  void OnError(const ScanIssue& e) override { errors_.push_back(&e); }

  void PrintErrors() {
    for (const ScanIssue* e : errors_) PrintError(*e);
  }

  void PrintError(const ScanIssue& e) {
    if (errors_printed_++ == 0) out_ << "\n" << Bold("Errors (these parts were not fully scanned):") << "\n";
    const std::string& spec = result_.targets[e.target_index].spec;
    // A target that could not be resolved says so in a message that already names it.
    const bool named = e.layer_index == kNoLayer && e.message.rfind(spec + ": ", 0) == 0;
    out_ << "  " << (named ? "" : spec);
    if (e.layer_index != kNoLayer) {
      out_ << ", layer " << e.layer_index;
      if (!e.layer_digest.empty()) out_ << " (" << Short(e.layer_digest) << ")";
    }
    out_ << (named ? "" : ": ") << e.message << "\n";
  }

  void Finish() override {
    PrintGroups();
    PrintErrors();
    if (!result_.skipped.empty()) {
      out_ << "\n" << Bold("Skipped (deliberately not scanned):") << "\n";
      for (const ScanSkip& skip : result_.skipped) {
        out_ << "  " << result_.targets[skip.target_index].spec;
        if (skip.layer_index != kNoLayer) out_ << ", layer " << skip.layer_index;
        out_ << ": " << skip.path << ": " << skip.reason << "\n";
      }
    }
    const StageStats& s = result_.totals;
    const uint64_t blobs_read = result_.blobs_scanned - result_.blobs_recalled - result_.blobs_other_shard;
    std::string elsewhere;
    if (result_.blobs_recalled > 0) elsewhere += ", " + std::to_string(result_.blobs_recalled) + " recalled from the state file";
    if (result_.blobs_other_shard > 0) elsewhere += ", " + std::to_string(result_.blobs_other_shard) + " left to other shards";
    char line[640];
    std::snprintf(line, sizeof(line),
                  "\n%zu finding%s (%zu distinct secret%s), %zu error%s, %zu skipped; %llu layer%s "
                  "(%llu blob%s read%s), %llu files scanned, %.1f MB uncompressed in %.2f s (%.0f MB/s)\n",
                  result_.findings.size(), result_.findings.size() == 1 ? "" : "s",
                  groups_.size(), groups_.size() == 1 ? "" : "s",
                  result_.errors.size(), result_.errors.size() == 1 ? "" : "s",
                  result_.skipped.size(),
                  static_cast<unsigned long long>(result_.layer_uses), result_.layer_uses == 1 ? "" : "s",
                  static_cast<unsigned long long>(blobs_read), blobs_read == 1 ? "" : "s", elsewhere.c_str(),
                  static_cast<unsigned long long>(s.files_scanned),
                  static_cast<double>(s.uncompressed_bytes) / 1e6, result_.wall_seconds,
                  MegabytesPerSecond(s.uncompressed_bytes, result_.wall_seconds));
    if (options_.from_state) {
      std::snprintf(line, sizeof(line),
                    "\n%zu finding%s (%zu distinct secret%s), %zu error%s, %zu skipped; %llu layer%s, "
                    "from the state file\n",
                    result_.findings.size(), result_.findings.size() == 1 ? "" : "s", groups_.size(),
                    groups_.size() == 1 ? "" : "s", result_.errors.size(), result_.errors.size() == 1 ? "" : "s",
                    result_.skipped.size(), static_cast<unsigned long long>(result_.layer_uses),
                    result_.layer_uses == 1 ? "" : "s");
    }
    out_ << line;
    if (result_.findings_suppressed > 0) {
      out_ << result_.findings_suppressed << " finding" << (result_.findings_suppressed == 1 ? "" : "s")
           << " suppressed by the baseline or ignore file.\n";
    }
    if (result_.findings_not_present > 0) {
      out_ << result_.findings_not_present << " finding" << (result_.findings_not_present == 1 ? "" : "s")
           << " no longer present in the final image not shown (--present-only).\n";
    }
    if (!options_.rule_set_hash.empty()) out_ << "Rule set " << options_.rule_set_hash.substr(0, 19) << "\n";
    if (!options_.show_secrets && !options_.from_state && !result_.findings.empty()) {
      out_ << "Secrets are redacted; --show-secrets prints them.\n";
    }
    if (options_.include_stats) {
      std::snprintf(line, sizeof(line),
                    "\nStages (CPU seconds, summed over threads): read %.3f, decompress %.3f, walk "
                    "%.3f, match %.3f\nFiles: %llu seen, %llu scanned, %llu excluded by path, "
                    "%llu binary skipped, %llu empty, %llu links skipped, %llu whiteouts\n"
                    "Bytes: %llu stored, %llu uncompressed, %llu scanned; %u threads, gzip via %s\n",
                    s.read_seconds, s.decompress_seconds, s.walk_seconds, s.match_seconds,
                    static_cast<unsigned long long>(s.files_seen),
                    static_cast<unsigned long long>(s.files_scanned),
                    static_cast<unsigned long long>(s.files_excluded),
                    static_cast<unsigned long long>(s.files_binary_skipped),
                    static_cast<unsigned long long>(s.files_empty),
                    static_cast<unsigned long long>(s.links_skipped),
                    static_cast<unsigned long long>(s.whiteouts),
                    static_cast<unsigned long long>(s.stored_bytes),
                    static_cast<unsigned long long>(s.uncompressed_bytes),
                    static_cast<unsigned long long>(s.bytes_scanned), result_.threads,
                    std::string(GzipBackendName()).c_str());
      out_ << line;
      if (result_.registry_requests > 0 || result_.downloads.requests > 0) {
        const DownloadStats& d = result_.downloads;
        std::snprintf(line, sizeof(line),
                      "Registry: %llu requests, %llu blob range requests (%llu bytes), %llu retries, "
                      "%llu redirects (%llu renewed), %llu range fallbacks, %llu credential renewals\n",
                      static_cast<unsigned long long>(result_.registry_requests),
                      static_cast<unsigned long long>(d.requests),
                      static_cast<unsigned long long>(d.bytes_received),
                      static_cast<unsigned long long>(d.retries),
                      static_cast<unsigned long long>(d.redirects),
                      static_cast<unsigned long long>(d.redirect_renewals),
                      static_cast<unsigned long long>(d.range_fallbacks),
                      static_cast<unsigned long long>(d.auth_renewals));
        out_ << line;
      }
    }
  }

 private:
  static std::string Short(const std::string& digest) {
    return digest.size() > 19 ? digest.substr(0, 19) : digest;
  }
  std::string Bold(const std::string& s) const {
    return options_.color ? "\033[1m" + s + "\033[0m" : s;
  }
  std::string Red(const std::string& s) const {
    return options_.color ? "\033[31m" + s + "\033[0m" : s;
  }

  // Dockerfile instructions can span lines (heredocs, "&& \\" continuations).
  static std::string OneLine(std::string text) {
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    constexpr size_t kMaxShownBytes = 200;
    if (text.size() > kMaxShownBytes) text = text.substr(0, kMaxShownBytes) + "\xE2\x80\xA6";
    return text;
  }

  const ScanResult& result_;
  const std::vector<Rule>& rules_;
  const ReportOptions& options_;
  std::ostream& out_;
  std::unordered_map<std::string, size_t> group_of_;  // rule id + secret -> index in groups_
  std::vector<std::vector<const Finding*>> groups_;
  std::vector<const ScanIssue*> errors_;
  size_t errors_printed_ = 0;
};

}  // namespace

ReportFormat ParseReportFormat(std::string_view name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "json") return ReportFormat::kJson;
  if (name == "jsonl") return ReportFormat::kJsonl;
  if (name == "sarif") return ReportFormat::kSarif;
  if (name == "gitleaks-json") return ReportFormat::kGitleaksJson;
  throw std::invalid_argument("unknown format '" + std::string(name) +
                              "' (expected text, json, jsonl, sarif or gitleaks-json)");
}

std::unique_ptr<ReportSink> NewReportWriter(ReportFormat format, const ScanResult& result,
                                            const std::vector<Rule>& rules,
                                            const ReportOptions& options, std::ostream& out) {
  switch (format) {
    case ReportFormat::kJson: return std::make_unique<JsonWriter>(result, rules, options, out);
    case ReportFormat::kJsonl: return std::make_unique<JsonlWriter>(result, rules, options, out);
    case ReportFormat::kSarif: return NewSarifWriter(result, rules, options, out);
    case ReportFormat::kGitleaksJson: return NewGitleaksWriter(result, rules, options, out);
    case ReportFormat::kText: break;
  }
  return std::make_unique<TextWriter>(result, rules, options, out);
}

void PushReport(const ScanResult& result, ReportSink& sink) {
  for (const Finding& finding : result.findings) sink.OnFinding(finding);
  for (const ScanIssue& error : result.errors) sink.OnError(error);
  sink.Finish();
}

std::string RedactSecret(std::string_view secret) {
  // Short secrets (passwords) would be mostly given away by four characters.
  const size_t shown = secret.size() >= 16 ? 4 : secret.size() / 4;
  std::string redacted(secret.substr(0, shown));
  for (char& c : redacted) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return redacted + "\xE2\x80\xA6" + std::to_string(secret.size());
}

std::string SecretSha256(std::string_view secret) { return Sha256::HexOf(secret); }

SecretFacts SecretFactsOf(std::string_view secret, uint64_t line, uint64_t column) {
  SecretFacts facts;
  facts.sha256 = SecretSha256(secret);
  facts.redacted = RedactSecret(secret);
  facts.size_bytes = secret.size();
  const TextPosition end = PositionAfter({line, column}, secret);
  facts.end_line = end.line;
  facts.end_column = end.column;
  const TextPosition last = secret.empty() ? TextPosition{line, column}
                                           : PositionAfter({line, column}, secret.substr(0, secret.size() - 1));
  facts.last_line = last.line;
  facts.last_column = last.column;
  facts.entropy = ShannonEntropy(secret);
  return facts;
}

std::string FindingFingerprint(const Finding& f, const ScanResult& result,
                               const std::vector<Rule>& rules) {
  // Where the secret is, independent of how the image was reached: the layer blob, else the
  // image config (for its virtual files), else the target as given (directories).
  std::string location = LayerDigestOf(f, result);
  if (location.empty() && result.layers[f.layer_result_index].kind == JobKind::kConfig) {
    location = result.layers[f.layer_result_index].digest;
    if (const ImageDescriptor* image = ImageOf(result, f.target_index, f.image_index)) {
      location = image->config_digest;
    }
  }
  if (location.empty()) location = result.targets[f.target_index].spec;
  return FingerprintOf(rules[f.rule_index].id, location, f.path, f.offset, f.facts.sha256);
}

std::string FingerprintOf(std::string_view rule_id, std::string_view location, std::string_view path,
                          uint64_t offset, std::string_view secret_sha256) {
  std::string key(rule_id);
  key.push_back('\0');
  key += location;
  key.push_back('\0');
  key += path;
  key.push_back('\0');
  key += std::to_string(offset);
  key.push_back('\0');
  key += secret_sha256;
  return Sha256::HexOf(key).substr(0, 32);
}

}  // namespace layersift
