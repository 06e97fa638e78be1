// Image references as docker and skopeo write them: "docker://REGISTRY/REPO[:TAG][@DIGEST]", or
// the bare form with docker.io and library/ defaults ("alpine", "localhost:5000/app:1").
#ifndef LAYERSIFT_FETCH_IMAGE_REFERENCE_H_
#define LAYERSIFT_FETCH_IMAGE_REFERENCE_H_

#include <stdexcept>
#include <string>
#include <string_view>

namespace layersift {

// A reference that does not follow the distribution grammar; the message says which part.
class ReferenceError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr std::string_view kDockerHub = "docker.io";

struct ImageReference {
  std::string registry;    // "docker.io", "ghcr.io", "localhost:5000", "127.0.0.1:5000"
  std::string repository;  // "library/alpine", "team/app"
  std::string tag;         // "latest" when neither a tag nor a digest was given
  std::string digest;      // "sha256:<64 hex>" when pinned, else empty

  // What a manifest request asks for: the digest when pinned, else the tag.
  const std::string& ManifestReference() const { return digest.empty() ? tag : digest; }
  // Normalised, without the transport: "docker.io/library/alpine:3.19@sha256:...".
  std::string ToString() const;
};

// Parses "docker://..." or a bare reference. A reference without a registry part (its first
// path component has no '.', no ':' and is not "localhost") is on docker.io, and a one-component
// docker.io name is under library/. Throws ReferenceError naming the text and the bad part.
ImageReference ParseImageReference(std::string_view text);

// "registry:catalog" listings name a registry, optionally a repository: "localhost:5000",
// "docker://ghcr.io/team/app". Returns the registry and the repository (empty for the catalog).
// Throws ReferenceError.
std::pair<std::string, std::string> ParseRegistryAndRepository(std::string_view text);

// Whether `digest` is "sha256:" and 64 lower-case hex digits: the only digest layersift verifies.
bool IsSha256Digest(std::string_view digest);

// The host that serves a registry's API: docker.io's is registry-1.docker.io.
std::string RegistryApiHost(const std::string& registry);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_IMAGE_REFERENCE_H_
