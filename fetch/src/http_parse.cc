#include "layersift/fetch/http_parse.h"

#include <curl/curl.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace layersift {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over a header value with the few lexical pieces RFC 9110 headers are made of.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }
  void Rewind(size_t pos) { pos_ = pos; }
  void Skip() { ++pos_; }
  void SkipSpaces() {
    while (!done() && IsSpace(text_[pos_])) ++pos_;
  }
  void SkipSpacesAndCommas() {
    while (!done() && (IsSpace(text_[pos_]) || text_[pos_] == ',')) ++pos_;
  }
  // A run of characters up to a delimiter of the header grammar.
  std::string_view Token() {
    const size_t begin = pos_;
    while (!done() && !IsSpace(text_[pos_]) && text_[pos_] != ',' && text_[pos_] != '=' &&
           text_[pos_] != ';' && text_[pos_] != '"') {
      ++pos_;
    }
    return text_.substr(begin, pos_ - begin);
  }
  // A quoted-string with backslash escapes, or a token.
  std::string Value() {
    if (peek() != '"') return std::string(Token());
    ++pos_;
    std::string value;
    while (!done() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.push_back(text_[pos_++]);
    }
    if (!done()) ++pos_;  // closing quote
    return value;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

template <typename T>
std::optional<T> Number(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

struct UrlHandle {
  UrlHandle() : handle(curl_url()) {
    if (handle == nullptr) throw std::bad_alloc();
  }
  ~UrlHandle() { curl_url_cleanup(handle); }
  std::string Get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    if (curl_url_get(handle, part, &out, flags) != CURLUE_OK) return "";
    std::string value(out);
    curl_free(out);
    return value;
  }
  CURLU* handle;
};

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::vector<AuthChallenge> ParseWwwAuthenticate(std::string_view value) {
  std::vector<AuthChallenge> challenges;
  Lexer lex(value);
  for (;;) {
    lex.SkipSpacesAndCommas();
    if (lex.done()) break;
    const std::string_view scheme = lex.Token();
    if (scheme.empty()) {  // stray delimiter: skip it
      lex.Skip();
      continue;
    }
    AuthChallenge challenge;
    challenge.scheme = Lower(scheme);
    for (;;) {
      lex.SkipSpacesAndCommas();
      if (lex.done()) break;
      const size_t start = lex.pos();
      const std::string_view name = lex.Token();
      lex.SkipSpaces();
      if (name.empty() || lex.peek() != '=') {
        lex.Rewind(start);  // not name=value: the next challenge's scheme
        if (name.empty()) lex.Skip();
        break;
      }
      lex.Skip();  // '='
      lex.SkipSpaces();
      challenge.params[Lower(name)] = lex.Value();
    }
    challenges.push_back(std::move(challenge));
  }
  return challenges;
}

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  while (!value.empty() && IsSpace(value.front())) value.remove_prefix(1);
  while (!value.empty() && (IsSpace(value.back()) || value.back() == '\r' || value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.size() < 6 || Lower(value.substr(0, 6)) != "bytes ") return std::nullopt;
  value.remove_prefix(6);
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
  const auto first = Number<uint64_t>(value.substr(0, dash));
  const auto last = Number<uint64_t>(value.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange range{*first, *last, std::nullopt};
  const std::string_view total = value.substr(slash + 1);
  if (total != "*") {
    range.total = Number<uint64_t>(total);
    if (!range.total || *range.total <= *last) return std::nullopt;
  }
  return range;
}

std::optional<std::string> NextLinkTarget(std::string_view value) {
  size_t pos = 0;
  while (pos < value.size()) {
    const size_t open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    const size_t close = value.find('>', open);
    if (close == std::string_view::npos) break;
    const std::string target(value.substr(open + 1, close - open - 1));
    // Parameters run to the next link (a ',' outside quotes).
    Lexer lex(value.substr(close + 1));
    bool next = false;
    for (;;) {
      lex.SkipSpaces();
      if (lex.peek() != ';') break;
      lex.Skip();
      lex.SkipSpaces();
      const std::string name = Lower(lex.Token());
      lex.SkipSpaces();
      std::string param;
      if (lex.peek() == '=') {
        lex.Skip();
        lex.SkipSpaces();
        param = lex.Value();
      }
      if (name == "rel") {
        // rel may hold several space-separated relation types
        const std::string rels = " " + Lower(param) + " ";
        if (rels.find(" next ") != std::string::npos) next = true;
      }
    }
    if (next) return target;
    pos = close + 1 + lex.pos();
    const size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return std::nullopt;
}

std::optional<double> ParseRetryAfter(std::string_view value, std::time_t now) {
  while (!value.empty() && IsSpace(value.front())) value.remove_prefix(1);
  while (!value.empty() && (IsSpace(value.back()) || value.back() == '\r' || value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (const auto seconds = Number<uint64_t>(value)) return static_cast<double>(*seconds);
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::time_t when = timegm(&tm);
  return when > now ? static_cast<double>(when - now) : 0.0;
}

std::string ResolveUrl(const std::string& base, const std::string& relative) {
  UrlHandle url;
  if (curl_url_set(url.handle, CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) {
    throw std::invalid_argument("not an absolute URL: " + base);
  }
  // Setting a URL on a handle that holds one resolves it relative to that one.
  if (curl_url_set(url.handle, CURLUPART_URL, relative.c_str(), 0) != CURLUE_OK) {
    throw std::invalid_argument("cannot resolve '" + relative + "' against " + base);
  }
  return url.Get(CURLUPART_URL);
}

std::string OriginOf(const std::string& url) {
  UrlHandle handle;
  if (curl_url_set(handle.handle, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  return Lower(handle.Get(CURLUPART_SCHEME) + "://" + handle.Get(CURLUPART_HOST) + ":" +
               handle.Get(CURLUPART_PORT, CURLU_DEFAULT_PORT));
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                       uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kBase64Alphabet[(n >> shift) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;  // line breaks may appear anywhere
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    const char* found = c == '\0' ? nullptr : std::strchr(kBase64Alphabet, c);
    if (found == nullptr) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(found - kBase64Alphabet);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || padding > 2) return std::nullopt;
  if (count == 2) out.push_back(static_cast<char>((bits >> 4) & 0xff));
  if (count == 3) {
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace layersift
