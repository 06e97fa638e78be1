#include "layersift/rules/regex_export.h"

#include <re2/re2.h>

#include <algorithm>
#include <bitset>
#include <cassert>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "layersift/rules/regex_syntax.h"
#include "layersift/rules/rule_regex.h"

namespace layersift {
namespace {

using ByteSet = std::bitset<256>;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsAsciiAlnum(unsigned char c) {
  return IsDigit(static_cast<char>(c)) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `c` written so that it stands for itself, outside a class or inside one (where `&&`, `--` and
// `~~` are set operators in regex-syntax, so a single &, - or ~ is escaped too). Only characters
// regex-syntax 0.6 (ripgrep 13) treats as special are escaped: it rejects `\/` or `\"`.
void AppendByte(std::string& out, unsigned char c, bool in_class) {
  switch (c) {
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\v':
      out += "\\v";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      break;
  }
  if (c < 0x20 || c >= 0x7f) {
    constexpr char kHex[] = "0123456789ABCDEF";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
    return;
  }
  // Outside a class, & - ~ are plain characters in regex-syntax as well.
  const std::string_view special = in_class ? "\\[]^-&~" : "\\.+*?()|[]{}^$#";
  const bool escape = special.find(static_cast<char>(c)) != std::string_view::npos;
  if (escape) out += '\\';
  out += static_cast<char>(c);
}

// Digits, upper-case letters, lower-case letters, anything else: a range is kept within one, so
// that a class reads [+/0-9A-Za-z] rather than the equal [+/-9A-Za-z].
int ByteKind(int c) {
  if (c >= '0' && c <= '9') return 0;
  if (c >= 'A' && c <= 'Z') return 1;
  if (c >= 'a' && c <= 'z') return 2;
  return 3;
}

// The members of `set` as the inside of a class: runs of three or more bytes as ranges.
std::string ClassBody(const ByteSet& set) {
  std::string body;
  for (int lo = 0; lo < 256;) {
    if (!set[lo]) {
      ++lo;
      continue;
    }
    int hi = lo;
    while (hi + 1 < 256 && set[hi + 1] && ByteKind(hi + 1) == ByteKind(lo)) ++hi;
    AppendByte(body, static_cast<unsigned char>(lo), true);
    if (hi - lo >= 2) body += '-';
    if (hi > lo) AppendByte(body, static_cast<unsigned char>(hi), true);
    lo = hi + 1;
  }
  return body;
}

// Rust's (?i) folds ASCII letters in a class it is given; a set RE2 made under (?i) is already
// closed under that, unless RE2 folded differently, in which case the set must be shielded.
bool ClosedUnderAsciiCase(const ByteSet& set) {
  for (int c = 'A'; c <= 'Z'; ++c) {
    if (set[c] != set[c + ('a' - 'A')]) return false;
  }
  return true;
}

// Every byte, in order: a class matches exactly one byte, so searching this text finds each
// byte it matches.
const std::string& AllBytes() {
  static const std::string bytes = [] {
    std::string s(256, '\0');
    for (int i = 0; i < 256; ++i) s[static_cast<size_t>(i)] = static_cast<char>(i);
    return s;
  }();
  return bytes;
}

// The bytes RE2, as the engine runs it, lets `atom` match: a class, a Perl or Unicode class, or
// one escaped character. Asking RE2 rather than re-implementing its classes keeps every detail
// (POSIX names, \p{Greek} restricted to Latin-1, Latin-1 case folding) exactly as the engine has
// it. nullopt when RE2 rejects the atom.
std::optional<ByteSet> BytesMatched(std::string_view atom, bool fold_case) {
  std::string pattern = fold_case ? "(?i:" : "(?:";
  pattern.append(atom);
  pattern += ')';
  const RE2 regex(pattern, RuleRegexOptions());
  if (!regex.ok()) return std::nullopt;
  const std::string& all = AllBytes();
  const re2::StringPiece text(all.data(), all.size());
  ByteSet set;
  re2::StringPiece match;
  size_t pos = 0;
  while (pos < all.size() && regex.Match(text, pos, all.size(), RE2::UNANCHORED, &match, 1) &&
         !match.empty()) {
    const size_t at = static_cast<size_t>(match.data() - all.data());
    set.set(at);
    pos = at + 1;
  }
  return set;
}

struct Flags {
  bool fold_case = false;   // (?i)
  bool multi_line = false;  // (?m): ^ and $ at line boundaries
};

// One pass over an RE2 pattern that RE2 has accepted, writing the Rust equivalent. Group
// structure comes from ScanRegex, token boundaries of classes, \Q...\E and \p{...} from
// RegexTokenEnd; the rest is read here.
class Translator {
 public:
  explicit Translator(std::string_view re) : re_(re), shape_(ScanRegex(re)) {}

  RipgrepPattern Run() {
    RipgrepPattern result;
    out_ = "(?-u:";
    size_t i = 0;
    while (i < re_.size() && reason_.empty()) i = Step(i);
    if (!reason_.empty()) {
      result.reason = reason_;
      return result;
    }
    out_ += ')';
    assert(out_.find('\n') == std::string::npos);
    result.pattern = std::move(out_);
    result.needs_multiline = needs_multiline_;
    return result;
  }

 private:
  size_t Fail(std::string reason) {
    if (reason_.empty()) reason_ = std::move(reason);
    return re_.size();
  }

  // Translates the token at `i`; returns the offset past it.
  size_t Step(size_t i) {
    const char c = re_[i];
    switch (c) {
      case '(':
        return OpenGroup(i);
      case ')':
        if (!scopes_.empty()) {
          flags_ = scopes_.back();
          scopes_.pop_back();
        }
        out_ += ')';
        return i + 1;
      case '|':
      case '*':
      case '+':
      case '?':
      case '.':  // the same bytes in both with and without (?s), which is passed through
        out_ += c;
        return i + 1;
      case '^':
        // Rust's ^ would depend on rg's settings (rg turns multi-line on); say which one.
        out_ += flags_.multi_line ? "(?m:^)" : "\\A";
        return i + 1;
      case '$':
        // RE2's $ without (?m) is the end of the text only, like \z (RE2 has no \Z).
        out_ += flags_.multi_line ? "(?m:$)" : "\\z";
        return i + 1;
      case '{':
        return Brace(i);
      case '[': {
        const size_t end = RegexTokenEnd(re_, i);
        AppendClass(re_.substr(i, end - i));
        return end;
      }
      case '\\':
        return Escape(i);
      default:
        AppendLiteral(static_cast<unsigned char>(c));
        return i + 1;
    }
  }

  size_t OpenGroup(size_t i) {
    const RegexGroup* group = shape_.GroupAt(i);
    if (group == nullptr || group->close == std::string_view::npos) {
      return Fail("unbalanced parenthesis");
    }
    if (group->flags_only()) {  // (?i): for the rest of the enclosing group
      std::string rust_flags;
      if (!ApplyFlags(re_.substr(i + 2, group->close - i - 2), rust_flags)) return re_.size();
      if (!rust_flags.empty()) out_ += "(?" + rust_flags + ")";
      return group->close + 1;
    }
    scopes_.push_back(flags_);
    if (group->capturing) {
      // rg joins all patterns into one regex, where a second `secret` group is an error.
      out_ += "(?:";
      return i + group->open_len;
    }
    std::string rust_flags;  // "(?:" or "(?flags:"
    if (!ApplyFlags(re_.substr(i + 2, group->open_len - 3), rust_flags)) return re_.size();
    out_ += "(?" + rust_flags + ":";
    return i + group->open_len;
  }

  // Applies RE2 flags ("i", "i-s", "-m") to flags_ and writes those Rust needs into
  // `rust_flags`: i, s and U mean the same in both; m is left out because ^ and $ are written
  // explicitly.
  bool ApplyFlags(std::string_view text, std::string& rust_flags) {
    std::string on, off;
    bool negated = false;
    for (const char f : text) {
      switch (f) {
        case '-':
          negated = true;
          continue;
        case 'i':
          flags_.fold_case = !negated;
          break;
        case 'm':
          flags_.multi_line = !negated;
          continue;
        case 's':
        case 'U':
          break;
        default:
          Fail(std::string("flag '") + f + "' has no Rust equivalent");
          return false;
      }
      (negated ? off : on) += f;
    }
    rust_flags = on;
    if (!off.empty()) rust_flags += "-" + off;
    return true;
  }

  // RE2 reads {n}, {n,} and {n,m} as repetition and any other '{' as a literal; Rust's parser
  // rejects a '{' that does not start a repetition.
  size_t Brace(size_t i) {
    size_t j = i + 1;
    const size_t first_digit = j;
    while (j < re_.size() && IsDigit(re_[j])) ++j;
    bool repetition = j > first_digit && j < re_.size();
    if (repetition && re_[j] == ',') {
      ++j;
      while (j < re_.size() && IsDigit(re_[j])) ++j;
    }
    repetition = repetition && j < re_.size() && re_[j] == '}';
    if (!repetition) {
      out_ += "\\{";
      return i + 1;
    }
    out_.append(re_.substr(i, j + 1 - i));
    return j + 1;
  }

  size_t Escape(size_t i) {
    if (i + 1 >= re_.size()) return Fail("trailing backslash");
    const char e = re_[i + 1];
    switch (e) {
      case 'Q': {  // literal text up to \E or the end of the pattern
        const size_t end = RegexTokenEnd(re_, i);
        const bool closed = end >= i + 4 && re_.substr(end - 2, 2) == "\\E";
        for (const char c : re_.substr(i + 2, end - (i + 2) - (closed ? 2 : 0))) {
          AppendLiteral(static_cast<unsigned char>(c));
        }
        return end;
      }
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W':
        AppendClass(re_.substr(i, 2));
        return i + 2;
      case 'p':
      case 'P': {
        const size_t end = (i + 2 < re_.size() && re_[i + 2] == '{') ? RegexTokenEnd(re_, i)
                                                                     : std::min(i + 3, re_.size());
        AppendClass(re_.substr(i, end - i));
        return end;
      }
      case 'b':  // ASCII word boundaries in both, Rust's because Unicode is off
      case 'B':
      case 'A':
      case 'z':
        out_ += '\\';
        out_ += e;
        return i + 2;
      case 'C':  // any byte, newline included
        out_ += "(?s:.)";
        return i + 2;
      case 'x':
        return HexEscape(i);
      case 'a':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case 'v': {
        // The control characters' escapes, in the order of "afnrtv".
        static constexpr std::string_view kLetters = "afnrtv", kBytes = "\a\f\n\r\t\v";
        AppendLiteral(static_cast<unsigned char>(kBytes[kLetters.find(e)]));
        return i + 2;
      }
      default:
        break;
    }
    if (IsOctal(e)) return OctalEscape(i);
    if (!IsAsciiAlnum(static_cast<unsigned char>(e))) {  // escaped punctuation: the character
      AppendLiteral(static_cast<unsigned char>(e));
      return i + 2;
    }
    return Fail(std::string("escape \\") + e + " has no Rust equivalent");
  }

  // \xHH or \x{H...}.
  size_t HexEscape(size_t i) {
    uint32_t value = 0;
    size_t end = i + 2;
    if (end < re_.size() && re_[end] == '{') {
      const size_t close = re_.find('}', end);
      if (close == std::string_view::npos || close == end + 1) return Fail("bad \\x{...} escape");
      for (size_t j = end + 1; j < close; ++j) {
        const int digit = HexValue(re_[j]);
        if (digit < 0 || value > 0x10FFFF) return Fail("bad \\x{...} escape");
        value = value * 16 + static_cast<uint32_t>(digit);
      }
      end = close + 1;
    } else {
      if (end + 2 > re_.size() || HexValue(re_[end]) < 0 || HexValue(re_[end + 1]) < 0) {
        return Fail("bad \\x escape");
      }
      value = static_cast<uint32_t>(HexValue(re_[end]) * 16 + HexValue(re_[end + 1]));
      end += 2;
    }
    return AppendCode(value, re_.substr(i, end - i), end);
  }

  // RE2: \0 and up to two more octal digits, or \1-\7 followed by one or two (a lone \1 would be
  // a backreference, which RE2 rejects). Rust has no octal escapes.
  size_t OctalEscape(size_t i) {
    size_t end = i + 1;
    uint32_t value = 0;
    while (end < re_.size() && end < i + 4 && IsOctal(re_[end])) {
      value = value * 8 + static_cast<uint32_t>(re_[end] - '0');
      ++end;
    }
    return AppendCode(value, re_.substr(i, end - i), end);
  }

  size_t AppendCode(uint32_t value, std::string_view escape, size_t end) {
    if (value > 0xff) {
      return Fail(std::string(escape) +
                  " is above \\xFF: layersift runs rules as Latin-1, where it matches no byte");
    }
    AppendLiteral(static_cast<unsigned char>(value));
    return end;
  }

  // ASCII as itself: Rust's (?i) without Unicode folds ASCII letters as RE2 does, and nothing
  // else. A non-ASCII byte under (?i) becomes the set RE2 folds it to (\xC0 with \xE0).
  void AppendLiteral(unsigned char c) {
    if (c >= 0x80 && flags_.fold_case) {
      std::string atom = "\\x";
      constexpr char kHex[] = "0123456789ABCDEF";
      atom += kHex[c >> 4];
      atom += kHex[c & 0xf];
      AppendClass(atom);
      return;
    }
    if (c == '\n') needs_multiline_ = true;
    AppendByte(out_, c, /*in_class=*/false);
  }

  void AppendClass(std::string_view atom) {
    const std::optional<ByteSet> set = BytesMatched(atom, flags_.fold_case);
    if (!set) {
      Fail("RE2 rejects " + std::string(atom) + " on its own");
      return;
    }
    if (set->none()) {
      Fail(std::string(atom) + " matches no byte; Rust's regex does not allow an empty class");
      return;
    }
    std::string rendered;
    if (set->all()) {
      rendered = "(?s:.)";
    } else if (set->count() == 1) {
      size_t only = 0;
      while (!(*set)[only]) ++only;
      if (only == '\n') needs_multiline_ = true;
      AppendByte(rendered, static_cast<unsigned char>(only), /*in_class=*/false);
    } else {
      // Whichever is shorter: [^"] rather than 255 bytes listed.
      const std::string positive = ClassBody(*set);
      const std::string negative = ClassBody(~*set);
      rendered = negative.size() < positive.size() ? "[^" : "[";
      rendered += negative.size() < positive.size() ? negative : positive;
      rendered += ']';
    }
    if (flags_.fold_case && !ClosedUnderAsciiCase(*set)) {
      out_ += "(?-i:";
      out_ += rendered;
      out_ += ')';
    } else {
      out_ += rendered;
    }
  }

  std::string_view re_;
  RegexShape shape_;
  std::string out_;
  std::vector<Flags> scopes_;  // the flags to restore at each open group's ')'
  Flags flags_;
  std::string reason_;
  bool needs_multiline_ = false;
};

}  // namespace

RipgrepPattern ExportForRipgrep(const Rule& rule) {
  // The translation reads the pattern as RE2 does and assumes it is valid RE2.
  const RE2 regex(rule.pattern, RuleRegexOptions());
  if (!regex.ok()) {
    RipgrepPattern result;
    result.reason = "RE2 rejects the pattern: " + regex.error();
    return result;
  }
  RipgrepPattern result = Translator(rule.pattern).Run();
  if (result.ok()) {
    result.ripgrep_bytes_estimate =
        static_cast<size_t>(regex.ProgramSize()) * kRipgrepBytesPerRe2Instruction;
  }
  return result;
}

}  // namespace layersift
