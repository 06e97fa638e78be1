// Streams blobs over HTTP as parallel byte ranges, reassembled in order, with retries, resumes,
// redirects and a fallback for servers that ignore Range. The downloader runs its transfers on a
// thread of its own (one libcurl multi handle for all blobs, so connections are reused); each
// blob is read through a ByteSource by the consumer's thread.
#ifndef LAYERSIFT_FETCH_RANGE_DOWNLOADER_H_
#define LAYERSIFT_FETCH_RANGE_DOWNLOADER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "layersift/fetch/byte_source.h"
#include "layersift/fetch/http_options.h"

namespace layersift {

// Supplies the credentials of a blob's registry requests and renews them when the registry
// answers 401 (an expired bearer token). Thread-safe.
class BlobAuthorizer {
 public:
  virtual ~BlobAuthorizer() = default;
  // The Authorization header value to send now, "" for none. Called on the downloader's thread:
  // must not wait on the network.
  virtual std::string Current() = 0;
  // Gets fresh credentials after a 401 whose WWW-Authenticate value is `challenge`. Called on the
  // consumer's thread; may block on the network. Throws (with a message for the user) when the
  // credentials cannot be renewed.
  virtual void Renew(const std::string& challenge) = 0;
};

struct BlobRequest {
  std::string url;          // the registry's /v2/<repo>/blobs/<digest> (or a foreign layer's URL)
  uint64_t size_bytes = 0;  // from the descriptor: ranges never reach past it
  std::shared_ptr<BlobAuthorizer> authorizer;  // null: anonymous
  std::string name;         // how messages name the blob ("sha256:ab12... in repo")
};

struct RangeDownloadOptions {
  HttpOptions http;
  // Ranges of one blob in flight at once; 1 streams the blob with one request (and asks for a
  // range only to resume it).
  unsigned connections_per_blob = 4;
  uint64_t range_size_bytes = 16ull << 20;    // bytes per range request
};

struct DownloadStats {
  uint64_t requests = 0;         // HTTP requests started for blobs
  uint64_t retries = 0;          // after a failure (connection, timeout, 408/429/5xx, truncation)
  uint64_t redirects = 0;        // answers sending a blob to another URL (storage, CDN)
  uint64_t redirect_renewals = 0;  // redirect URLs refused (expired) and asked for again
  uint64_t range_fallbacks = 0;  // blobs read as one stream because the server ignored Range
  uint64_t auth_renewals = 0;    // 401 answers that made credentials be renewed
  uint64_t bytes_received = 0;   // blob bytes delivered (after resumes: no byte counted twice)
  uint64_t connections_opened = 0;  // new connections (the others were reused)
  uint64_t http2_requests = 0;   // answered over HTTP/2 (multiplexed on shared connections)
};

// What a blob's bytes cost in memory: each blob holds up to connections_per_blob + 1 buffers of
// range_size_bytes (the ranges in flight and the one the consumer reads), allocated as needed.
class RangeDownloader {
 public:
  explicit RangeDownloader(RangeDownloadOptions options);
  // Releases the downloader; its transfer thread stops once the sources opened from it (which
  // share it) are gone too.
  ~RangeDownloader();
  RangeDownloader(const RangeDownloader&) = delete;
  RangeDownloader& operator=(const RangeDownloader&) = delete;

  // Starts downloading at once and returns the blob's bytes in order. The source's Next() blocks
  // until bytes arrive; it throws SourceError naming the blob, the byte range and the cause when
  // the blob cannot be read completely (after the retries the options allow). Destroying the
  // source early cancels its transfers. The bytes are not verified here: the consumer hashes them.
  std::unique_ptr<ByteSource> Open(BlobRequest request);

  DownloadStats stats() const;
  uint64_t buffer_bytes_per_blob() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_RANGE_DOWNLOADER_H_
