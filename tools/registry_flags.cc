#include "registry_flags.h"

#include <iostream>
#include <iterator>
#include <stdexcept>

#include "size_parse.h"

namespace layersift {

void RegistryFlags::AddTo(CLI::App& app) {
  const std::string group = "Registry";
  app.add_flag("--plain-http", plain_http, "Talk to registries over plain HTTP (local test registries)")
      ->group(group);
  app.add_flag("--insecure-tls", insecure_tls,
               "Do not verify registries' TLS certificates (self-signed test registries; "
               "verification is on by default)")
      ->group(group);
  app.add_option("--username", username,
                 "User name for the registry (with --password-stdin); by default credentials come "
                 "from docker's config.json ($DOCKER_CONFIG or ~/.docker: credHelpers, credsStore, "
                 "auths), or none")
      ->group(group);
  app.add_flag("--password-stdin", password_stdin, "Read the registry password (or token) from stdin")
      ->group(group);
  app.add_option("--fetch-connections", fetch_connections,
                 "Byte ranges of one layer downloaded in parallel (default 4); 1 streams each "
                 "layer with one request, asking for a range only to resume it")
      ->check(CLI::Range(1u, 64u))
      ->group(group);
  app.add_option("--range-size", range_size,
                 "Bytes per range request, e.g. 16MiB (default; at least 1MiB). Each layer being "
                 "downloaded holds (connections + 1) buffers of this size, counted in --max-memory")
      ->group(group);
  app.add_option("--max-retries", max_retries,
                 "Retries of a request or of a byte range that makes no progress, after connection "
                 "errors, timeouts, 408, 429 and 5xx answers (default 5)")
      ->check(CLI::Range(0, 100))
      ->group(group);
  app.add_option("--stall-timeout", stall_timeout_seconds,
                 "Seconds without a byte before a transfer is broken off and resumed (default 30)")
      ->check(CLI::Range(1.0, 3600.0))
      ->group(group);
  app.add_option("--retry-backoff", retry_backoff_seconds,
                 "Seconds before the first retry; doubled for each next one, with jitter, up to 30 s "
                 "(default 0.5; a Retry-After from the server is honoured instead)")
      ->check(CLI::Range(0.0, 60.0))
      ->group(group);
  app.add_flag("--ecr-public-auth", ecr_public_auth,
               "Log in to public.ecr.aws with AWS credentials (ecr-public:GetAuthorizationToken in "
               "us-east-1, for its higher pull limits) instead of pulling anonymously")
      ->group(group);
  aws.AddTo(app);
}

HttpOptions RegistryFlags::Http() const {
  HttpOptions http;
  http.insecure_tls = insecure_tls;
  http.max_retries = max_retries;
  http.stall_timeout_seconds = stall_timeout_seconds;
  http.retry_base_seconds = retry_backoff_seconds;
  return http;
}

RegistryOptions RegistryFlags::Options() const {
  RegistryOptions options;
  options.plain_http = plain_http;
  options.download.http = Http();
  options.aws = aws.Session(options.download.http);
  options.ecr_public_auth = ecr_public_auth;
  options.download.connections_per_blob = fetch_connections;
  options.download.range_size_bytes = ParseByteSize(range_size, "--range-size");
  if (options.download.range_size_bytes < (1ull << 20)) {
    throw std::invalid_argument("--range-size must be at least 1MiB");
  }
  if (password_stdin && username.empty()) throw std::invalid_argument("--password-stdin needs --username");
  if (!username.empty() && !password_stdin) {
    throw std::invalid_argument("--username needs --password-stdin (passwords are not taken on the command line)");
  }
  options.username = username;
  if (password_stdin) {
    std::string password((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (password.empty()) throw std::invalid_argument("--password-stdin: nothing was read from stdin");
    options.password = std::move(password);
  }
  return options;
}

}  // namespace layersift
