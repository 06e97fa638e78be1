// Blocking HTTP requests for the small documents of the registry API: the /v2/ ping, manifests,
// tokens, catalogs and tag lists. Blobs go through the RangeDownloader instead.
#ifndef LAYERSIFT_FETCH_HTTP_CLIENT_H_
#define LAYERSIFT_FETCH_HTTP_CLIENT_H_

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "curl_common.h"
#include "layersift/fetch/http_options.h"

namespace layersift {

struct HttpRequest {
  std::string method = "GET";           // GET, HEAD, POST or PUT
  std::string url;
  std::vector<std::string> headers;     // "Name: value"
  // The Authorization value; sent to the request's origin only, never across a redirect to
  // another host (presigned storage URLs must not see registry credentials).
  std::string authorization;
  std::string body;                     // for POST and PUT
  std::string content_type;             // for POST
  size_t max_body_bytes = 4 << 20;      // a longer answer is an error, not a truncation
};

struct HttpResponse {
  long status = 0;
  ResponseHeaders headers;
  std::string body;
  std::string url;   // the URL that answered (after redirects)
  int retries = 0;   // transient failures retried on the way (said in error messages)
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);

  // Sends the request, following up to kMaxRedirects redirects and retrying transient failures
  // (connection errors, timeouts, 408, 429, 5xx) with backoff up to options().max_retries times.
  // Returns the final answer whatever its status (a retryable status that persisted included).
  // Throws HttpError when no answer came or the body exceeds max_body_bytes. Thread-safe.
  HttpResponse Send(const HttpRequest& request) const;

  const HttpOptions& options() const { return options_; }
  uint64_t requests_sent() const { return requests_sent_.load(); }
  uint64_t connections_opened() const { return connections_opened_.load(); }

  static constexpr int kMaxRedirects = 5;

 private:
  // One attempt at one URL; `curl_error` receives the failure when no answer came.
  CURLcode Perform(const HttpRequest& request, const std::string& url, bool with_auth,
                   HttpResponse& response, std::string& curl_error) const;

  HttpOptions options_;
  CurlShare share_;
  mutable std::mutex random_mutex_;
  mutable std::mt19937_64 random_;
  mutable std::atomic<uint64_t> requests_sent_{0};
  mutable std::atomic<uint64_t> connections_opened_{0};
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_HTTP_CLIENT_H_
