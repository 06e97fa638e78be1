// An OCI Distribution client: manifests, blobs and listings from a registry, with the auth
// schemes registries use (anonymous, Basic, Bearer tokens) and credentials found where docker
// keeps them. Blobs stream through the RangeDownloader.
#ifndef LAYERSIFT_FETCH_REGISTRY_CLIENT_H_
#define LAYERSIFT_FETCH_REGISTRY_CLIENT_H_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "layersift/fetch/aws.h"
#include "layersift/fetch/byte_source.h"
#include "layersift/fetch/range_downloader.h"

namespace layersift {

// A registry request that failed: unreachable, refused, unknown manifest, unusable answer. The
// message names the registry (and repository or reference) and what to do where that is clear.
class RegistryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RegistryOptions {
  bool plain_http = false;  // http:// instead of https:// (local test registries)
  // Credentials for every registry of the run (--username with --password-stdin); when empty,
  // they come from docker's config (credHelpers, credsStore, auths), or none.
  std::string username;
  std::string password;
  std::string docker_config_dir;  // "" = $DOCKER_CONFIG, else ~/.docker
  RangeDownloadOptions download;  // HTTP options included
  // AWS access for ECR registries (ACCOUNT.dkr.ecr.REGION.amazonaws.com and the like): their
  // password comes from ecr:GetAuthorizationToken (unless `username` is given: then those
  // credentials are used as for any registry). Null: a session with the default credential chain
  // is made when the first ECR registry is met.
  std::shared_ptr<AwsSession> aws;
  // Log in to public.ecr.aws with ecr-public:GetAuthorizationToken instead of pulling anonymously.
  bool ecr_public_auth = false;
};

// The media types a manifest request accepts: images and indexes, OCI and Docker schema 2.
inline constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

struct ManifestResponse {
  std::string bytes;          // exactly as served: its SHA-256 is the manifest's digest
  std::string media_type;     // the Content-Type
  std::string header_digest;  // Docker-Content-Digest, if the registry sent one
};

// Thread-safe. Holds a transfer thread (the downloader) and a connection pool.
class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/<repository>/manifests/<reference> (a tag or a digest). Refuses Docker schema 1
  // manifests with a RegistryError; does not verify the digest (the caller knows what it pinned).
  ManifestResponse GetManifest(const std::string& registry, const std::string& repository,
                               const std::string& reference);

  // Streams a blob of `size_bytes` (from its descriptor). Credentials are obtained before this
  // returns; failures while streaming come out of the source as SourceError. The bytes are not
  // verified: the caller hashes them.
  std::unique_ptr<ByteSource> OpenBlob(const std::string& registry, const std::string& repository,
                                       const std::string& digest, uint64_t size_bytes);

  // Streams a foreign (non-distributable) layer from one of its descriptor's `urls`, without
  // credentials.
  std::unique_ptr<ByteSource> OpenUrl(const std::string& url, uint64_t size_bytes, const std::string& name);

  // Every repository of the catalog, and every tag of a repository, asking for `page_size` per
  // page and following Link pagination (relative or absolute targets).
  static constexpr unsigned kDefaultPageSize = 1000;
  std::vector<std::string> ListRepositories(const std::string& registry, unsigned page_size = kDefaultPageSize);
  std::vector<std::string> ListTags(const std::string& registry, const std::string& repository,
                                    unsigned page_size = kDefaultPageSize);

  DownloadStats download_stats() const;
  uint64_t requests_sent() const;              // small requests: pings, tokens, manifests, lists
  uint64_t connections_opened() const;         // by small requests (see DownloadStats for blobs)
  uint64_t buffer_bytes_per_blob() const;      // see RangeDownloader

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_REGISTRY_CLIENT_H_
