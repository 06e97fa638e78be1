// The downloader's state machine. Two kinds of thread touch a blob: the transfer thread (curl's
// callbacks and the Pump that starts, resumes, pauses and cancels transfers) and the consumer
// (Next()). Both work under the blob's mutex; curl calls are made without it held, because
// curl_easy_pause() may deliver data (and so re-enter the write callback) before it returns.
#include "layersift/fetch/range_downloader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "curl_common.h"
#include "layersift/fetch/http_parse.h"

namespace layersift {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxRedirectsInARow = 5;
constexpr int kMaxRenewalsWithoutProgress = 2;
constexpr size_t kErrorBodyBytes = 512;
// Bytes curl hands the write callback at most: below the smallest range size, so that one
// delivery never spans more than two segments.
constexpr long kReceiveBufferBytes = 256 << 10;
constexpr uint64_t kMinRangeBytes = 1 << 20;
// A waiting consumer is woken once this many bytes are ready for it (or its segment is
// complete), not for every delivery: curl hands over 16 KiB at a time, and a wake-up per
// delivery cost more CPU than the copy.
constexpr uint64_t kWakeBytes = 256 << 10;

// A byte range of the blob and the buffer it is received into.
struct Segment {
  uint64_t start = 0;
  uint64_t end = 0;                  // exclusive
  std::unique_ptr<uint8_t[]> buffer;
  uint64_t filled = 0;               // bytes received, contiguous from start
  int failures = 0;                  // failed attempts in a row without a byte of progress
  int redirects = 0;                 // redirects followed since its last byte of progress
  bool active = false;               // a transfer is filling it
  Clock::time_point not_before{};    // backoff: no new attempt before this
  uint64_t size() const { return end - start; }
  bool done() const { return filled == size(); }
};

enum class Outcome { kNone, kBadRange, kOverflow, kCancelled };

struct Blob;

struct Transfer {
  RangeDownloader::Impl* owner = nullptr;
  Blob* blob = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Segment* segment = nullptr;  // where the next byte goes
  std::string url;
  bool to_registry = true;     // false: a redirect target (no credentials sent)
  bool ranged = false;         // asked for one segment's range
  std::string authorization;   // what was sent
  uint64_t from = 0;           // first byte asked for
  uint64_t skip = 0;           // bytes to drop first (a 200 where a range was asked for)
  uint64_t progress = 0;       // blob bytes this attempt delivered
  long status = 0;             // once the first body byte (or the end) came
  bool checked = false;
  bool paused = false;
  Outcome outcome = Outcome::kNone;
  ResponseHeaders response_headers;
  std::string error_body;
  char error[CURL_ERROR_SIZE] = {};
};

struct Blob {
  explicit Blob(BlobRequest r) : request(std::move(r)) {}

  BlobRequest request;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Segment> segments;       // in blob order; the front is the consumer's
  uint64_t next_start = 0;            // first byte not in a segment yet
  uint64_t front_consumed = 0;        // bytes of the front segment handed out
  bool sequential = false;            // the server ignores ranges: one stream, in order
  bool range_headers_trusted = true;  // false: Content-Range lied, so ask for no range at all
  std::string data_url;               // where the registry redirected the blob, if it did
  std::string fatal;                  // set once: the consumer throws it
  bool renew_needed = false;
  bool renewing = false;
  std::string challenge;
  int renewals_without_progress = 0;
  bool cancelled = false;
  bool consumer_waiting = false;
  std::vector<std::unique_ptr<uint8_t[]>> spare_buffers;
  size_t buffers_in_use = 0;
  std::vector<Transfer*> transfers;   // transfer thread only
};

std::string RangeText(uint64_t first, uint64_t end) {
  return "bytes " + std::to_string(first) + "-" + std::to_string(end == 0 ? 0 : end - 1);
}

}  // namespace

class RangeDownloader::Impl {
 public:
  explicit Impl(RangeDownloadOptions options);
  ~Impl();

  std::shared_ptr<Blob> Start(BlobRequest request);
  std::span<const uint8_t> Next(const std::shared_ptr<Blob>& blob);
  void Cancel(const std::shared_ptr<Blob>& blob);
  size_t Receive(Transfer& transfer, const char* data, size_t n);

  DownloadStats stats() const {
    DownloadStats s;
    s.requests = requests_.load();
    s.retries = retries_.load();
    s.redirects = redirects_.load();
    s.redirect_renewals = redirect_renewals_.load();
    s.range_fallbacks = range_fallbacks_.load();
    s.auth_renewals = auth_renewals_.load();
    s.bytes_received = bytes_received_.load();
    s.connections_opened = connections_opened_.load();
    s.http2_requests = http2_requests_.load();
    return s;
  }
  uint64_t buffer_bytes_per_blob() const {
    return (options_.connections_per_blob + 1) * options_.range_size_bytes;
  }

 private:
  // What the transfer thread does with curl once the blob's lock is released.
  struct Actions {
    std::vector<Transfer*> start, unpause, drop;
  };

  void Wake(const std::shared_ptr<Blob>& blob);
  void Run();
  // Decides what a blob needs now under its lock: transfers to start, resume or drop. Returns
  // false when the blob needs the transfer thread no more (done, failed or cancelled).
  bool Pump(Blob& blob, Actions& actions, Clock::time_point now, Clock::time_point& wake_at);
  Transfer* NewTransfer(Blob& blob, Segment& segment);
  void Finish(Transfer* transfer, CURLcode code);
  void Retry(Blob& blob, Segment& segment, const Transfer& transfer, const std::string& cause,
             std::optional<double> retry_after);
  void SetFatal(Blob& blob, const std::string& message);
  // Switches a blob to one in-order stream: drops the segments after the first incomplete one
  // and cancels their transfers. `adopting`, if set, is a transfer whose 200 answer becomes the
  // stream (it continues where the bytes received so far end).
  void EnterSequential(Blob& blob, Transfer* adopting);
  Segment* AddSegment(Blob& blob);
  Segment* SegmentAfter(Blob& blob, const Segment* segment);
  void ReleaseSegmentBuffer(Blob& blob, Segment& segment);
  std::string Describe(const Blob& blob, const Transfer& transfer) const;
  void Destroy(Transfer* transfer);

  static size_t OnBody(char* data, size_t size, size_t count, void* user);
  static size_t OnHeader(char* data, size_t size, size_t count, void* user);

  const RangeDownloadOptions options_;
  CurlShare share_;
  CURLM* multi_ = nullptr;
  std::mutex mutex_;  // guards incoming_ and stopping_
  std::vector<std::shared_ptr<Blob>> incoming_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Blob>> blobs_;  // transfer thread only
  std::mt19937_64 random_{std::random_device{}()};
  std::atomic<uint64_t> requests_{0}, retries_{0}, redirects_{0}, redirect_renewals_{0},
      range_fallbacks_{0}, auth_renewals_{0}, bytes_received_{0}, connections_opened_{0}, http2_requests_{0};
  std::thread thread_;
};

namespace {

// The consumer's view of one blob.
class BlobSource final : public ByteSource {
 public:
  BlobSource(std::shared_ptr<RangeDownloader::Impl> downloader, std::shared_ptr<Blob> blob)
      : downloader_(std::move(downloader)), blob_(std::move(blob)) {}
  ~BlobSource() override { downloader_->Cancel(blob_); }

 private:
  std::span<const uint8_t> NextImpl() override { return downloader_->Next(blob_); }

  std::shared_ptr<RangeDownloader::Impl> downloader_;
  std::shared_ptr<Blob> blob_;
};

}  // namespace

RangeDownloader::Impl::Impl(RangeDownloadOptions options)
    : options_(std::move(options)), share_(/*share_connections=*/false) {
  if (options_.connections_per_blob == 0 || options_.connections_per_blob > 64) {
    throw std::invalid_argument("connections per blob must be between 1 and 64");
  }
  if (options_.range_size_bytes < kMinRangeBytes) {
    throw std::invalid_argument("the range size must be at least 1MiB");
  }
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw HttpError("cannot create a libcurl multi handle");
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  thread_ = std::thread([this] { Run(); });
}

RangeDownloader::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

std::shared_ptr<Blob> RangeDownloader::Impl::Start(BlobRequest request) {
  auto blob = std::make_shared<Blob>(std::move(request));
  // One connection: one streaming request, as `curl` would make (servers answer ranged requests
  // at a higher cost); ranges are then only asked for to resume after a failure.
  blob->sequential = options_.connections_per_blob == 1;
  Wake(blob);
  return blob;
}

void RangeDownloader::Impl::Wake(const std::shared_ptr<Blob>& blob) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming_.push_back(blob);
  }
  curl_multi_wakeup(multi_);
}

void RangeDownloader::Impl::Cancel(const std::shared_ptr<Blob>& blob) {
  {
    std::lock_guard<std::mutex> lock(blob->mutex);
    blob->cancelled = true;
  }
  Wake(blob);
}

std::span<const uint8_t> RangeDownloader::Impl::Next(const std::shared_ptr<Blob>& shared) {
  Blob& blob = *shared;
  std::unique_lock<std::mutex> lock(blob.mutex);
  bool wake = false;  // the transfer thread has work: a buffer came free, credentials changed
  for (;;) {
    if (!blob.fatal.empty()) throw SourceError(blob.fatal);
    if (blob.renew_needed && !blob.renewing) {
      blob.renewing = true;
      const std::string challenge = blob.challenge;
      lock.unlock();
      std::string error;
      try {
        if (!blob.request.authorizer) throw HttpError("the registry asks for credentials (HTTP 401)");
        blob.request.authorizer->Renew(challenge);
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      blob.renewing = false;
      blob.renew_needed = false;
      if (!error.empty()) SetFatal(blob, "blob " + blob.request.name + ": " + error);
      wake = true;
      continue;
    }
    std::span<const uint8_t> block;
    bool end = false;
    if (!blob.segments.empty()) {
      Segment& front = blob.segments.front();
      if (front.filled > blob.front_consumed) {
        block = std::span<const uint8_t>(front.buffer.get() + blob.front_consumed,
                                         front.filled - blob.front_consumed);
        blob.front_consumed = front.filled;
      } else if (front.done() && !front.active) {
        // Handed out completely, and the block returned last time is no longer in use.
        ReleaseSegmentBuffer(blob, front);
        blob.segments.pop_front();
        blob.front_consumed = 0;
        wake = true;
        continue;
      }
    } else if (blob.next_start >= blob.request.size_bytes) {
      end = true;
    }
    if (!block.empty() || end) {
      lock.unlock();
      if (wake) Wake(shared);
      return block;
    }
    if (wake) {
      lock.unlock();
      Wake(shared);
      lock.lock();
      wake = false;
      continue;
    }
    blob.consumer_waiting = true;
    blob.changed.wait(lock);
    blob.consumer_waiting = false;
  }
}

Segment* RangeDownloader::Impl::AddSegment(Blob& blob) {
  if (blob.next_start >= blob.request.size_bytes ||
      blob.buffers_in_use >= options_.connections_per_blob + 1) {
    return nullptr;
  }
  Segment segment;
  segment.start = blob.next_start;
  segment.end = std::min(blob.request.size_bytes, segment.start + options_.range_size_bytes);
  if (!blob.spare_buffers.empty()) {
    segment.buffer = std::move(blob.spare_buffers.back());
    blob.spare_buffers.pop_back();
  } else {
    // Not value-initialised: pages are touched only as bytes arrive.
    segment.buffer.reset(new uint8_t[options_.range_size_bytes]);
  }
  ++blob.buffers_in_use;
  blob.next_start = segment.end;
  blob.segments.push_back(std::move(segment));
  return &blob.segments.back();
}

Segment* RangeDownloader::Impl::SegmentAfter(Blob& blob, const Segment* segment) {
  for (size_t i = 0; i + 1 < blob.segments.size(); ++i) {
    if (&blob.segments[i] == segment) return &blob.segments[i + 1];
  }
  return AddSegment(blob);
}

void RangeDownloader::Impl::ReleaseSegmentBuffer(Blob& blob, Segment& segment) {
  if (!segment.buffer) return;
  blob.spare_buffers.push_back(std::move(segment.buffer));
  --blob.buffers_in_use;
}

std::string RangeDownloader::Impl::Describe(const Blob& blob, const Transfer& transfer) const {
  const uint64_t end = transfer.ranged ? transfer.segment->end : blob.request.size_bytes;
  std::string text = "blob " + blob.request.name + " (" + RangeText(transfer.from, end) + " of " +
                     std::to_string(blob.request.size_bytes) + ")";
  if (!transfer.to_registry) text += " from redirect target " + OriginOf(transfer.url);
  return text;
}

void RangeDownloader::Impl::SetFatal(Blob& blob, const std::string& message) {
  if (blob.fatal.empty()) blob.fatal = message;
  blob.changed.notify_all();
}

Transfer* RangeDownloader::Impl::NewTransfer(Blob& blob, Segment& segment) {
  auto* t = new Transfer;
  t->owner = this;
  t->blob = &blob;
  t->segment = &segment;
  t->url = blob.data_url.empty() ? blob.request.url : blob.data_url;
  t->to_registry = OriginOf(t->url) == OriginOf(blob.request.url);
  t->from = segment.start + segment.filled;
  t->ranged = !blob.sequential;
  t->easy = curl_easy_init();
  if (t->easy == nullptr) {
    delete t;
    throw HttpError("cannot create a libcurl handle");
  }
  ConfigureEasy(t->easy, options_.http, share_.get());
  std::string range;
  if (t->ranged) {
    range = "Range: bytes=" + std::to_string(t->from) + "-" + std::to_string(segment.end - 1);
  } else if (blob.range_headers_trusted && t->from > 0) {
    range = "Range: bytes=" + std::to_string(t->from) + "-";  // if ignored, the start is skipped
  }
  if (!range.empty()) t->headers = curl_slist_append(t->headers, range.c_str());
  if (t->to_registry && blob.request.authorizer) {
    t->authorization = blob.request.authorizer->Current();
    if (!t->authorization.empty()) {
      t->headers = curl_slist_append(t->headers, ("Authorization: " + t->authorization).c_str());
    }
  }
  curl_easy_setopt(t->easy, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, &Impl::OnBody);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, &Impl::OnHeader);
  curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  segment.active = true;
  blob.transfers.push_back(t);
  ++requests_;
  return t;
}

void RangeDownloader::Impl::Destroy(Transfer* transfer) {
  curl_easy_cleanup(transfer->easy);
  curl_slist_free_all(transfer->headers);
  delete transfer;
}

size_t RangeDownloader::Impl::OnHeader(char* data, size_t size, size_t count, void* user) {
  static_cast<Transfer*>(user)->response_headers.AddLine(std::string_view(data, size * count));
  return size * count;
}

size_t RangeDownloader::Impl::OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  return t->owner->Receive(*t, data, size * count);
}

void RangeDownloader::Impl::EnterSequential(Blob& blob, Transfer* adopting) {
  blob.sequential = true;
  ++range_fallbacks_;
  size_t first = 0;
  while (first < blob.segments.size() && blob.segments[first].done()) ++first;
  if (first == blob.segments.size()) {
    // Everything materialised is complete: the stream continues in a new segment (or waits for
    // the consumer to free a buffer).
    first = blob.segments.empty() ? 0 : blob.segments.size() - 1;
  }
  for (Transfer* t : blob.transfers) {
    if (t != adopting) t->outcome = Outcome::kCancelled;  // their segments are about to go
  }
  while (blob.segments.size() > first + 1) {
    ReleaseSegmentBuffer(blob, blob.segments.back());
    blob.segments.pop_back();
  }
  if (blob.segments.empty()) return;
  Segment& keep = blob.segments.back();
  keep.active = false;
  keep.failures = 0;
  blob.next_start = keep.end;
  if (adopting != nullptr) {
    adopting->segment = &keep;
    adopting->ranged = false;
    keep.active = true;
  }
}

size_t RangeDownloader::Impl::Receive(Transfer& t, const char* data, size_t n) {
  Blob& blob = *t.blob;
  std::lock_guard<std::mutex> lock(blob.mutex);
  if (blob.cancelled || !blob.fatal.empty() || t.outcome == Outcome::kCancelled) {
    t.outcome = Outcome::kCancelled;
    return 0;  // aborts the transfer
  }
  if (!t.checked) {
    t.checked = true;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status);
    const uint64_t size = blob.request.size_bytes;
    if (t.status == 206) {
      const auto header = t.response_headers.Get("content-range");
      const auto range = header ? ParseContentRange(*header) : std::nullopt;
      const uint64_t last = t.ranged ? t.segment->end - 1 : size - 1;
      if (!range || range->first != t.from || range->last != last || (range->total && *range->total != size)) {
        t.outcome = Outcome::kBadRange;
        return 0;
      }
    } else if (t.status == 200 && (t.ranged || t.from > 0)) {
      // The server ignored Range: this body is the whole blob from byte 0.
      if (!blob.sequential) EnterSequential(blob, &t);
      t.from = t.segment->start + t.segment->filled;
      t.skip = t.from;
    }
  }
  if (t.status < 200 || t.status > 299) {
    t.error_body.append(data, std::min(n, kErrorBodyBytes - std::min(kErrorBodyBytes, t.error_body.size())));
    return n;
  }
  const size_t drop = static_cast<size_t>(std::min<uint64_t>(t.skip, n));
  const size_t bytes = n - drop;
  Segment* segment = t.segment;
  const uint64_t space = segment->size() - segment->filled;
  Segment* next = nullptr;
  if (bytes > space) {
    if (t.ranged) {
      t.outcome = Outcome::kOverflow;  // more than the range asked for
      return 0;
    }
    next = SegmentAfter(blob, segment);
    if (next == nullptr) {
      if (blob.next_start >= blob.request.size_bytes) {
        SetFatal(blob, "blob " + blob.request.name + " is larger than the " +
                           std::to_string(blob.request.size_bytes) + " bytes its descriptor gives");
        return 0;
      }
      t.paused = true;  // every buffer is full: wait for the consumer (the data comes again)
      return CURL_WRITEFUNC_PAUSE;
    }
  }
  t.skip -= drop;
  const uint8_t* in = reinterpret_cast<const uint8_t*>(data) + drop;
  size_t left = bytes;
  while (left > 0) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(left, segment->size() - segment->filled));
    std::memcpy(segment->buffer.get() + segment->filled, in, take);
    segment->filled += take;
    in += take;
    left -= take;
    if (left > 0) {
      segment->active = false;
      segment = next;
      segment->active = true;
      t.segment = segment;
    }
  }
  t.progress += bytes;
  bytes_received_ += bytes;
  if (bytes > 0) {
    blob.renewals_without_progress = 0;
    segment->redirects = 0;
  }
  if (blob.consumer_waiting) {
    const Segment& front = blob.segments.front();
    if (front.done() || front.filled - blob.front_consumed >= kWakeBytes) blob.changed.notify_all();
  }
  return n;
}

void RangeDownloader::Impl::Retry(Blob& blob, Segment& segment, const Transfer& t, const std::string& cause,
                                  std::optional<double> retry_after) {
  if (t.progress > 0) segment.failures = 0;  // a resumed transfer starts its count afresh
  if (++segment.failures > options_.http.max_retries) {
    SetFatal(blob, Describe(blob, t) + ": " + cause + " (gave up after " +
                       std::to_string(options_.http.max_retries) + " retries)");
    return;
  }
  ++retries_;
  const double wait = BackoffSeconds(options_.http, segment.failures, retry_after, random_);
  segment.not_before = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait));
}

void RangeDownloader::Impl::Finish(Transfer* t, CURLcode code) {
  Blob& blob = *t->blob;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  long connects = 0;
  if (curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) connections_opened_ += connects;
  long version = 0;
  if (curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK && version == CURL_HTTP_VERSION_2_0) {
    ++http2_requests_;
  }
  std::string location;
  if (const char* url = nullptr; curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &url) == CURLE_OK && url) {
    location = url;
  }
  std::lock_guard<std::mutex> lock(blob.mutex);
  blob.transfers.erase(std::find(blob.transfers.begin(), blob.transfers.end(), t));
  if (t->outcome == Outcome::kCancelled || blob.cancelled || !blob.fatal.empty()) {
    Destroy(t);
    return;
  }
  Segment& segment = *t->segment;
  segment.active = false;
  const std::string what = Describe(blob, *t);
  if (t->outcome == Outcome::kBadRange || t->outcome == Outcome::kOverflow) {
    // Ranges cannot be trusted on this server: read the blob as one stream, asking for no range.
    blob.range_headers_trusted = false;
    if (!blob.sequential) EnterSequential(blob, nullptr);
  } else if (code == CURLE_OK && status >= 200 && status <= 299) {
    const bool complete = t->ranged ? segment.done()
                                    : segment.done() && blob.next_start >= blob.request.size_bytes;
    if (complete) {
      segment.failures = 0;
    } else {
      Retry(blob, segment, *t, "the server ended the answer early", std::nullopt);
    }
  } else if (code == CURLE_OK) {
    const auto header = [&](const char* name) { return t->response_headers.Get(name).value_or(""); };
    if (status >= 300 && status <= 399) {
      if (location.empty()) {
        SetFatal(blob, what + ": " + StatusText(status) + " without a Location");
      } else if (++segment.redirects > kMaxRedirectsInARow) {
        SetFatal(blob, what + ": more than " + std::to_string(kMaxRedirectsInARow) + " redirects in a row");
      } else {
        blob.data_url = location;
        ++redirects_;
      }
    } else if (status == 401 && t->to_registry) {
      const std::string current = blob.request.authorizer ? blob.request.authorizer->Current() : "";
      if (blob.request.authorizer && current != t->authorization) {
        // Renewed meanwhile: try again with the new credentials.
      } else if (++blob.renewals_without_progress > kMaxRenewalsWithoutProgress) {
        SetFatal(blob, what + ": " + StatusText(status) + " after renewing the credentials");
      } else {
        blob.renew_needed = true;
        blob.challenge = header("www-authenticate");
        ++auth_renewals_;
      }
    } else if ((status == 403 || status == 401) && !t->to_registry) {
      // A presigned storage URL that expired (or was refused): ask the registry for a fresh one.
      blob.data_url.clear();
      ++redirect_renewals_;
      Retry(blob, segment, *t, StatusText(status) + " from the redirect target", 0.0);
    } else if (IsRetryableStatus(status)) {
      std::optional<double> retry_after;
      if (const auto value = t->response_headers.Get("retry-after")) {
        retry_after = ParseRetryAfter(*value, std::time(nullptr));
      }
      if (retry_after && *retry_after > options_.http.max_retry_after_seconds) {
        SetFatal(blob, what + ": " + StatusText(status) + " with Retry-After " +
                           std::to_string(static_cast<long>(*retry_after)) + " s (longer than the " +
                           std::to_string(static_cast<long>(options_.http.max_retry_after_seconds)) +
                           " s allowed)");
      } else {
        Retry(blob, segment, *t, StatusText(status), retry_after);
      }
    } else {
      std::string body = t->error_body;
      for (char& c : body) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      SetFatal(blob, what + ": " + StatusText(status) + (body.empty() ? "" : " (" + body + ")"));
    }
  } else if (IsRetryableCurlCode(code)) {
    Retry(blob, segment, *t, t->error[0] != '\0' ? t->error : curl_easy_strerror(code), std::nullopt);
  } else {
    SetFatal(blob, what + ": " + (t->error[0] != '\0' ? t->error : curl_easy_strerror(code)));
  }
  blob.changed.notify_all();
  Destroy(t);
}

bool RangeDownloader::Impl::Pump(Blob& blob, Actions& actions, Clock::time_point now,
                                 Clock::time_point& wake_at) {
  std::lock_guard<std::mutex> lock(blob.mutex);
  if (blob.cancelled || !blob.fatal.empty()) {
    actions.drop.insert(actions.drop.end(), blob.transfers.begin(), blob.transfers.end());
    blob.transfers.clear();
    return false;
  }
  for (auto it = blob.transfers.begin(); it != blob.transfers.end();) {
    if ((*it)->outcome == Outcome::kCancelled) {
      actions.drop.push_back(*it);
      it = blob.transfers.erase(it);
    } else {
      ++it;
    }
  }
  if (blob.renew_needed || blob.renewing) return true;
  auto start_if_due = [&](Segment& segment) {
    if (now >= segment.not_before) {
      actions.start.push_back(NewTransfer(blob, segment));
    } else {
      wake_at = std::min(wake_at, segment.not_before);
    }
  };
  if (!blob.sequential) {
    while (AddSegment(blob) != nullptr) {
    }
    size_t active = blob.transfers.size();
    for (Segment& segment : blob.segments) {
      if (active >= options_.connections_per_blob) break;
      if (segment.done() || segment.active) continue;
      const size_t before = actions.start.size();
      start_if_due(segment);
      active += actions.start.size() - before;
    }
  } else if (blob.transfers.empty()) {
    Segment* first = nullptr;
    for (Segment& segment : blob.segments) {
      if (!segment.done()) {
        first = &segment;
        break;
      }
    }
    if (first == nullptr) first = AddSegment(blob);  // null: finished, or waiting for a buffer
    if (first != nullptr) start_if_due(*first);
  } else {
    Transfer* t = blob.transfers.front();
    if (t->paused && (blob.buffers_in_use < options_.connections_per_blob + 1 ||
                      &blob.segments.back() != t->segment)) {
      t->paused = false;
      actions.unpause.push_back(t);
    }
  }
  const bool finished = blob.transfers.empty() && blob.next_start >= blob.request.size_bytes &&
                        std::all_of(blob.segments.begin(), blob.segments.end(),
                                    [](const Segment& s) { return s.done(); });
  return !finished;
}

void RangeDownloader::Impl::Run() {
  for (;;) {
    std::vector<std::shared_ptr<Blob>> incoming;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
      incoming.swap(incoming_);
    }
    for (std::shared_ptr<Blob>& blob : incoming) {
      if (std::find(blobs_.begin(), blobs_.end(), blob) == blobs_.end()) blobs_.push_back(std::move(blob));
    }
    const Clock::time_point now = Clock::now();
    Clock::time_point wake_at = now + std::chrono::seconds(1);
    Actions actions;
    for (auto it = blobs_.begin(); it != blobs_.end();) {
      it = Pump(**it, actions, now, wake_at) ? it + 1 : blobs_.erase(it);
    }
    for (Transfer* t : actions.drop) {
      curl_multi_remove_handle(multi_, t->easy);
      Destroy(t);
    }
    for (Transfer* t : actions.start) curl_multi_add_handle(multi_, t->easy);
    for (Transfer* t : actions.unpause) curl_easy_pause(t->easy, CURLPAUSE_CONT);
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = message->data.result;
      curl_multi_remove_handle(multi_, t->easy);
      Finish(t, code);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - Clock::now());
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000)), nullptr);
  }
  for (const std::shared_ptr<Blob>& blob : blobs_) {
    for (Transfer* t : blob->transfers) {
      curl_multi_remove_handle(multi_, t->easy);
      Destroy(t);
    }
    blob->transfers.clear();
  }
}

RangeDownloader::RangeDownloader(RangeDownloadOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

RangeDownloader::~RangeDownloader() = default;

std::unique_ptr<ByteSource> RangeDownloader::Open(BlobRequest request) {
  std::shared_ptr<Blob> blob = impl_->Start(std::move(request));
  return std::make_unique<BlobSource>(impl_, std::move(blob));
}

DownloadStats RangeDownloader::stats() const { return impl_->stats(); }

uint64_t RangeDownloader::buffer_bytes_per_blob() const { return impl_->buffer_bytes_per_blob(); }

}  // namespace layersift
