#include "aws_config_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "layersift/fetch/aws.h"

namespace layersift {
namespace {

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::string HomePath(const char* relative) {
  const std::string home = GetEnv("HOME");
  return home.empty() ? "" : home + "/" + relative;
}

// Sections of one INI file. `config_style`: section names are "profile NAME" (and "default"),
// other sections (sso-session, services) are ignored.
std::map<std::string, AwsProfile> ParseFile(const std::string& path, bool config_style) {
  std::map<std::string, AwsProfile> sections;
  if (path.empty()) return sections;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return sections;
    throw AwsError("cannot read AWS " + std::string(config_style ? "config" : "credentials") + " file " + path +
                   ": " + std::strerror(errno));
  }
  std::string line;
  int number = 0;
  AwsProfile* current = nullptr;
  bool in_subsection = false;  // "s3 =" followed by indented keys: not ours
  while (std::getline(in, line)) {
    ++number;
    const std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#' || trimmed[0] == ';') continue;
    const bool indented = line[0] == ' ' || line[0] == '\t';
    if (trimmed[0] == '[') {
      in_subsection = false;
      if (trimmed.back() != ']') {
        throw AwsError(path + ":" + std::to_string(number) + ": malformed section header");
      }
      std::string name = Trim(trimmed.substr(1, trimmed.size() - 2));
      current = nullptr;
      if (config_style) {
        if (name.rfind("profile ", 0) == 0) {
          name = Trim(name.substr(8));
        } else if (name != "default") {
          continue;  // sso-session, services and the like
        }
      }
      current = &sections[name];
      continue;
    }
    if (indented && in_subsection) continue;
    const size_t equals = trimmed.find('=');
    if (equals == std::string::npos) {
      throw AwsError(path + ":" + std::to_string(number) + ": expected `key = value`");
    }
    const std::string key = Trim(trimmed.substr(0, equals));
    const std::string value = Trim(trimmed.substr(equals + 1));
    in_subsection = value.empty();
    if (current == nullptr || in_subsection) continue;
    // A key given twice: the last one wins, as the AWS CLI reads it.
    (*current)[key] = value;
  }
  return sections;
}

}  // namespace

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

AwsSharedConfig AwsSharedConfig::Load() {
  std::string config = GetEnv("AWS_CONFIG_FILE");
  if (config.empty()) config = HomePath(".aws/config");
  std::string credentials = GetEnv("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials.empty()) credentials = HomePath(".aws/credentials");
  return Load(config, credentials);
}

AwsSharedConfig AwsSharedConfig::Load(const std::string& config_path, const std::string& credentials_path) {
  AwsSharedConfig loaded;
  loaded.config_path_ = config_path;
  loaded.credentials_path_ = credentials_path;
  loaded.config_profiles_ = ParseFile(config_path, /*config_style=*/true);
  loaded.credentials_profiles_ = ParseFile(credentials_path, /*config_style=*/false);
  return loaded;
}

std::optional<AwsProfile> AwsSharedConfig::Profile(const std::string& name) const {
  const auto config = config_profiles_.find(name);
  const auto credentials = credentials_profiles_.find(name);
  if (config == config_profiles_.end() && credentials == credentials_profiles_.end()) return std::nullopt;
  AwsProfile merged;
  if (config != config_profiles_.end()) merged = config->second;
  if (credentials != credentials_profiles_.end()) {
    for (const auto& [key, value] : credentials->second) merged[key] = value;
  }
  return merged;
}

}  // namespace layersift
