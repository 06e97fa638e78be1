#include "layersift/fetch/image_reference.h"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace layersift {
namespace {

constexpr std::string_view kTransport = "docker://";
constexpr size_t kMaxRepositoryLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: lower-case alphanumerics joined by '.', '_', '__' or runs of '-'.
bool ValidPathComponent(std::string_view part) {
  if (part.empty() || !IsLowerAlnum(part.front()) || !IsLowerAlnum(part.back())) return false;
  for (size_t i = 0; i < part.size(); ++i) {
    const char c = part[i];
    if (IsLowerAlnum(c)) continue;
    if (c == '-') continue;  // runs of dashes are allowed
    if (c == '.' || c == '_') {
      // a separator is followed by an alphanumeric, except the second '_' of "__"
      const bool double_underscore = c == '_' && i + 1 < part.size() && part[i + 1] == '_';
      const size_t next = i + (double_underscore ? 2 : 1);
      if (next >= part.size() || !IsLowerAlnum(part[next])) return false;
      i = next - 1;
      continue;
    }
    return false;
  }
  return true;
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag.front())) return false;
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// A registry host: DNS labels or an IPv4 address, an optional port; "[v6]" literals too.
bool ValidRegistry(std::string_view host) {
  if (host.empty()) return false;
  size_t port_colon = std::string_view::npos;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return false;
      port_colon = close + 1;
    }
  } else {
    port_colon = host.find(':');
    const std::string_view name = host.substr(0, port_colon);
    if (name.empty()) return false;
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
    }
  }
  if (port_colon != std::string_view::npos) {
    const std::string_view port = host.substr(port_colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Whether the first component of a name is a registry rather than part of a docker.io path.
bool LooksLikeRegistry(std::string_view component) {
  if (component.empty()) return false;  // "/x": an empty path component, rejected later
  return component.find('.') != std::string_view::npos ||
         component.find(':') != std::string_view::npos || component == "localhost" ||
         component.front() == '[' ||
         std::any_of(component.begin(), component.end(),
                     [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
}

[[noreturn]] void Fail(std::string_view text, const std::string& why) {
  throw ReferenceError("invalid image reference '" + std::string(text) + "': " + why);
}

// Validated and lower-cased; docker.io's other names become docker.io.
std::string NormalizedRegistry(std::string_view original, std::string_view host) {
  if (!ValidRegistry(host)) Fail(original, "bad registry host '" + std::string(host) + "'");
  std::string registry(host);
  for (char& c : registry) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (registry == "index.docker.io" || registry == "registry-1.docker.io") registry = kDockerHub;
  return registry;
}

// Splits "REGISTRY/PATH" (or a bare docker.io path) and validates both.
std::pair<std::string, std::string> SplitName(std::string_view original, std::string_view name) {
  std::string registry(kDockerHub);
  std::string repository(name);
  const size_t slash = name.find('/');
  if (slash != std::string_view::npos && LooksLikeRegistry(name.substr(0, slash))) {
    registry = std::string(name.substr(0, slash));
    repository = std::string(name.substr(slash + 1));
  }
  registry = NormalizedRegistry(original, registry);
  if (repository.empty()) Fail(original, "no repository");
  if (registry == kDockerHub && repository.find('/') == std::string::npos) {
    repository = "library/" + repository;
  }
  if (repository.size() > kMaxRepositoryLength) Fail(original, "repository name longer than 255 characters");
  size_t begin = 0;
  while (begin <= repository.size()) {
    const size_t end = std::min(repository.find('/', begin), repository.size());
    const std::string_view part = std::string_view(repository).substr(begin, end - begin);
    if (!ValidPathComponent(part)) {
      Fail(original, "bad repository path component '" + std::string(part) +
                         "' (lower-case letters, digits and single separators . _ __ -)");
    }
    begin = end + 1;
  }
  return {registry, repository};
}

}  // namespace

std::string ImageReference::ToString() const {
  std::string text = registry + "/" + repository;
  if (!tag.empty()) text += ":" + tag;
  if (!digest.empty()) text += "@" + digest;
  return text;
}

ImageReference ParseImageReference(std::string_view text) {
  std::string_view rest = text;
  if (rest.substr(0, kTransport.size()) == kTransport) rest.remove_prefix(kTransport.size());
  if (rest.empty()) Fail(text, "empty");
  ImageReference ref;
  const size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    if (!IsSha256Digest(ref.digest)) Fail(text, "bad digest '" + ref.digest + "' (expected sha256:<64 lower-case hex>)");
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!ValidTag(ref.tag)) Fail(text, "bad tag '" + ref.tag + "'");
    rest = rest.substr(0, colon);
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  std::tie(ref.registry, ref.repository) = SplitName(text, rest);
  return ref;
}

std::pair<std::string, std::string> ParseRegistryAndRepository(std::string_view text) {
  std::string_view rest = text;
  if (rest.substr(0, kTransport.size()) == kTransport) rest.remove_prefix(kTransport.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) Fail(text, "empty");
  const size_t slash = rest.find('/');
  const std::string_view first = rest.substr(0, slash);
  if (slash == std::string_view::npos && LooksLikeRegistry(first)) {
    return {NormalizedRegistry(text, first), ""};
  }
  if (rest.find('@') != std::string_view::npos ||
      (rest.rfind(':') != std::string_view::npos && rest.rfind(':') > rest.rfind('/'))) {
    Fail(text, "a listing names a registry or a repository, not a tag or digest");
  }
  return SplitName(text, rest);
}

bool IsSha256Digest(std::string_view digest) {
  if (digest.size() != 7 + 64 || digest.substr(0, 7) != "sha256:") return false;
  return digest.find_first_not_of("0123456789abcdef", 7) == std::string_view::npos;
}

std::string RegistryApiHost(const std::string& registry) {
  return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

}  // namespace layersift
