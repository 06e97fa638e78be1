#include "layersift/fetch/registry_client.h"

#include <nlohmann/json.hpp>
#include <set>

#include "docker_credentials.h"
#include "http_client.h"
#include "layersift/fetch/http_parse.h"
#include "registry_auth.h"

namespace layersift {
namespace {

using nlohmann::json;

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxListingPageBytes = 16 << 20;
constexpr int kMaxListingPages = 100000;

bool IsSchema1(const std::string& media_type, const std::string& body) {
  if (media_type.find("application/vnd.docker.distribution.manifest.v1") != std::string::npos) return true;
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() && parsed.value("schemaVersion", json(0)) == json(1);
}

// The blob requests of one repository, with credentials renewed through the registry's auth.
class RepositoryAuthorizer final : public BlobAuthorizer {
 public:
  RepositoryAuthorizer(RegistryAuth& auth, std::string registry, std::string scope)
      : auth_(auth), registry_(std::move(registry)), scope_(std::move(scope)) {}
  std::string Current() override { return auth_.Cached(registry_, scope_); }
  void Renew(const std::string& challenge) override { auth_.Renew(registry_, scope_, challenge); }

 private:
  RegistryAuth& auth_;
  std::string registry_;
  std::string scope_;
};

}  // namespace

class RegistryClient::Impl {
 public:
  explicit Impl(RegistryOptions options)
      : options_(std::move(options)),
        http_(options_.download.http),
        credentials_(options_.username, options_.password, options_.docker_config_dir),
        ecr_(
            [this] {
              if (options_.aws) return options_.aws;
              AwsOptions aws;
              aws.http = options_.download.http;
              return std::make_shared<AwsSession>(aws);
            },
            options_.ecr_public_auth),
        // Credentials given on the command line win: `aws ecr get-login-password | layersift scan
        // --username AWS --password-stdin ...` logs in with them, not with the AWS chain.
        auth_(http_, credentials_, options_.plain_http, options_.username.empty() ? &ecr_ : nullptr),
        downloader_(options_.download) {}

  // A GET within `scope`, authorised, renewing the credentials once after a 401.
  HttpResponse Get(const std::string& registry, const std::string& scope, const std::string& url,
                   std::vector<std::string> headers, size_t max_bytes) {
    HttpRequest request{.url = url, .headers = std::move(headers), .max_body_bytes = max_bytes};
    request.authorization = auth_.Authorize(registry, scope);
    HttpResponse response = Send(registry, request);
    if (response.status == 401) {
      auth_.Renew(registry, scope, response.headers.Get("www-authenticate").value_or(""));
      request.authorization = auth_.Authorize(registry, scope);
      response = Send(registry, request);
      if (response.status == 401) {
        throw RegistryError(registry + " refused the credentials for " + scope + " (HTTP 401)");
      }
    }
    return response;
  }

  HttpResponse Send(const std::string& registry, const HttpRequest& request) {
    try {
      return http_.Send(request);
    } catch (const HttpError& e) {
      throw RegistryError("registry " + registry + ": " + e.what());
    }
  }

  // Every item of a paginated listing (the catalog, a tag list).
  std::vector<std::string> List(const std::string& registry, const std::string& scope, std::string url,
                                const char* field, const std::string& what) {
    std::vector<std::string> items;
    std::set<std::string> seen_pages;
    for (int page = 0; page < kMaxListingPages; ++page) {
      if (!seen_pages.insert(url).second) break;  // a Link that points back: stop, not loop
      const HttpResponse response = Get(registry, scope, url, {"Accept: application/json"}, kMaxListingPageBytes);
      if (response.status != 200) {
        throw RegistryError(what + ": " + RegistryErrorText(response));
      }
      const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
      if (!body.is_object()) throw RegistryError(what + ": the answer is not a JSON object");
      const json list = body.value(field, json::array());
      if (list.is_array()) {  // a repository without tags answers "tags": null
        for (const json& item : list) {
          if (item.is_string()) items.push_back(item.get<std::string>());
        }
      }
      const auto link = response.headers.Get("link");
      const auto next = link ? NextLinkTarget(*link) : std::nullopt;
      if (!next) return items;
      url = ResolveUrl(response.url, *next);
    }
    return items;
  }

  RegistryOptions options_;
  HttpClient http_;
  CredentialStore credentials_;
  EcrLogins ecr_;
  RegistryAuth auth_;
  RangeDownloader downloader_;
};

RegistryClient::RegistryClient(RegistryOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

RegistryClient::~RegistryClient() = default;

ManifestResponse RegistryClient::GetManifest(const std::string& registry, const std::string& repository,
                                             const std::string& reference) {
  const std::string url = impl_->auth_.BaseUrl(registry) + "/v2/" + repository + "/manifests/" + reference;
  const std::string where = registry + "/" + repository + (reference.rfind("sha256:", 0) == 0 ? "@" : ":") + reference;
  const HttpResponse response = impl_->Get(registry, RepositoryPullScope(repository), url,
                                           {std::string("Accept: ") + kManifestAccept}, kMaxManifestBytes);
  if (response.status == 404) {
    throw RegistryError("manifest " + where + " not found (" + RegistryErrorText(response) + ")");
  }
  if (response.status != 200) {
    throw RegistryError("manifest " + where + ": " + RegistryErrorText(response));
  }
  ManifestResponse manifest;
  manifest.bytes = response.body;
  manifest.media_type = response.headers.Get("content-type").value_or("");
  const size_t semicolon = manifest.media_type.find(';');
  if (semicolon != std::string::npos) manifest.media_type.resize(semicolon);
  manifest.header_digest = response.headers.Get("docker-content-digest").value_or("");
  if (IsSchema1(manifest.media_type, manifest.bytes)) {
    throw RegistryError("manifest " + where + " is a Docker schema 1 manifest, which layersift does not read "
                        "(deprecated since 2017, it has no config blob); push the image again with a current "
                        "docker, podman or skopeo");
  }
  return manifest;
}

std::unique_ptr<ByteSource> RegistryClient::OpenBlob(const std::string& registry, const std::string& repository,
                                                     const std::string& digest, uint64_t size_bytes) {
  const std::string scope = RepositoryPullScope(repository);
  impl_->auth_.Authorize(registry, scope);  // a valid token before the first range goes out
  BlobRequest request;
  request.url = impl_->auth_.BaseUrl(registry) + "/v2/" + repository + "/blobs/" + digest;
  request.size_bytes = size_bytes;
  request.authorizer = std::make_shared<RepositoryAuthorizer>(impl_->auth_, registry, scope);
  request.name = digest + " of " + registry + "/" + repository;
  return impl_->downloader_.Open(std::move(request));
}

std::unique_ptr<ByteSource> RegistryClient::OpenUrl(const std::string& url, uint64_t size_bytes,
                                                    const std::string& name) {
  BlobRequest request;
  request.url = url;
  request.size_bytes = size_bytes;
  request.name = name;
  return impl_->downloader_.Open(std::move(request));
}

std::vector<std::string> RegistryClient::ListRepositories(const std::string& registry, unsigned page_size) {
  return impl_->List(registry, kCatalogScope,
                     impl_->auth_.BaseUrl(registry) + "/v2/_catalog?n=" + std::to_string(page_size), "repositories",
                     "catalog of " + registry);
}

std::vector<std::string> RegistryClient::ListTags(const std::string& registry, const std::string& repository,
                                                 unsigned page_size) {
  return impl_->List(registry, RepositoryPullScope(repository),
                     impl_->auth_.BaseUrl(registry) + "/v2/" + repository + "/tags/list?n=" + std::to_string(page_size),
                     "tags", "tags of " + registry + "/" + repository);
}

DownloadStats RegistryClient::download_stats() const { return impl_->downloader_.stats(); }

uint64_t RegistryClient::requests_sent() const { return impl_->http_.requests_sent(); }

uint64_t RegistryClient::connections_opened() const { return impl_->http_.connections_opened(); }

uint64_t RegistryClient::buffer_bytes_per_blob() const { return impl_->downloader_.buffer_bytes_per_blob(); }

}  // namespace layersift
