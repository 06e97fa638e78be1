// How layersift talks HTTP: TLS, timeouts and the retry policy shared by every request.
#ifndef LAYERSIFT_FETCH_HTTP_OPTIONS_H_
#define LAYERSIFT_FETCH_HTTP_OPTIONS_H_

#include <stdexcept>
#include <string>

namespace layersift {

struct HttpOptions {
  bool insecure_tls = false;               // skip TLS certificate checks (test registries only)
  double connect_timeout_seconds = 30;
  // A transfer that receives no byte for this long is broken off and retried (a stalled server
  // must not hang a scan).
  double stall_timeout_seconds = 30;
  // Retries of one request (or of one range of a blob, counted while it makes no progress) after
  // connection errors, timeouts, 408, 429 and 5xx answers.
  int max_retries = 5;
  double retry_base_seconds = 0.5;         // the first backoff; doubled per retry, with jitter
  double retry_max_seconds = 30;           // the longest backoff
  double max_retry_after_seconds = 300;    // a longer Retry-After fails the request instead
  std::string user_agent = "layersift";
};

// A request that failed for good: connection errors after the last retry, or an answer that
// retrying cannot change. The message names the URL and the cause ("HTTP 503 after 5 retries").
class HttpError : public std::runtime_error {
 public:
  HttpError(const std::string& message, long status = 0)
      : std::runtime_error(message), status_(status) {}
  long status() const { return status_; }  // the last HTTP status, 0 if none came

 private:
  long status_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_HTTP_OPTIONS_H_
