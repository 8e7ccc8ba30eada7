#include "script/shared_data.h"

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <tuple>

namespace stampede::script::data {

// Fills a Dataset's private fields while it is being parsed (before it is
// shared, so no synchronisation).
class DatasetBuilder {
 public:
  explicit DatasetBuilder(Dataset& d) : d_(d) {}
  std::string& arena() { return d_.arena_; }
  std::vector<uint64_t>& offsets() { return d_.offsets_; }
  std::vector<std::string>& header() { return d_.header_; }
  void Finish(Format format, const std::string& name, size_t fields) {
    d_.format_ = format;
    d_.name_ = name;
    d_.fields_ = fields == 0 ? 1 : fields;
    d_.rows_ = d_.offsets_.empty() ? 0 : (d_.offsets_.size() - 1) / d_.fields_;
    if (d_.offsets_.empty()) d_.offsets_.push_back(0);
  }

 private:
  Dataset& d_;
};

namespace {

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

std::string Printable(char c) {
  if (c == '\t') return "\\t";
  if (static_cast<unsigned char>(c) < 0x20) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
    return buf;
  }
  return std::string(1, c);
}

// 1-based line of byte `pos` of `text`.
size_t LineAt(std::string_view text, size_t pos) {
  if (pos > text.size()) pos = text.size();
  size_t line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

// ---- JSON: the top-level array's elements re-written compactly ----

constexpr int kMaxJsonDepth = 200;  // the decoder on access recurses per level

class CompactWriter {
 public:
  CompactWriter(std::string& arena, std::vector<uint64_t>& offsets)
      : out_(arena), offsets_(offsets) {}

  bool null() { return Scalar("null"); }
  bool boolean(bool v) { return Scalar(v ? "true" : "false"); }
  bool number_integer(int64_t v) { return Number(v); }
  bool number_unsigned(uint64_t v) { return Number(v); }
  bool number_float(double, const std::string& raw) { return Scalar(raw); }
  bool string(std::string& s) {
    if (!Prefix("a string")) return false;
    WriteString(s);
    Suffix();
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(size_t) { return Open('{', "an object"); }
  bool key(std::string& k) {
    if (need_comma_.back()) out_ += ',';
    need_comma_.back() = 1;
    WriteString(k);
    out_ += ':';
    after_key_ = true;
    return true;
  }
  bool end_object() { return Close('}'); }
  bool start_array(size_t) {
    if (top_state_ == kBefore) {
      top_state_ = kInside;
      return true;
    }
    return Open('[', "an array");
  }
  bool end_array() {
    if (need_comma_.empty()) {
      top_state_ = kAfter;
      return true;
    }
    return Close(']');
  }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    error_pos_ = position;
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line 3, column 5:
    // syntax error while parsing value - ..."; keep what follows the position.
    std::string what = ex.what();
    size_t colon = what.find(": ", what.find("parse error"));
    syntax_ = colon == std::string::npos ? what : what.substr(colon + 2);
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& syntax() const { return syntax_; }
  size_t error_pos() const { return error_pos_; }
  bool saw_array() const { return top_state_ != kBefore; }

 private:
  enum TopState { kBefore, kInside, kAfter };

  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }
  // Before a value: outside the top-level array it is an error; directly in
  // it, a new element starts; deeper, a comma may be due.
  bool Prefix(const char* what) {
    if (top_state_ != kInside) {
      return Fail(std::string("the top level is ") + what +
                  ", not an array; write the rows as a JSON array: [ {...}, {...} ]");
    }
    if (need_comma_.empty()) {
      offsets_.push_back(out_.size());
    } else if (after_key_) {
      after_key_ = false;
    } else {
      if (need_comma_.back()) out_ += ',';
      need_comma_.back() = 1;
    }
    return true;
  }
  void Suffix() {}  // an element's end is the next element's start (or the sentinel)
  bool Scalar(std::string_view text) {
    const char* what = text == "null"                        ? "null"
                       : (text == "true" || text == "false") ? "a boolean"
                                                             : "a number";
    if (!Prefix(what)) return false;
    out_ += text;
    return true;
  }
  template <typename T>
  bool Number(T v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return Scalar(std::string_view(buf, end - buf));
  }
  bool Open(char c, const char* what) {
    if (!Prefix(what)) return false;
    if (static_cast<int>(need_comma_.size()) >= kMaxJsonDepth) {
      return Fail("values nest deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    out_ += c;
    need_comma_.push_back(0);
    return true;
  }
  bool Close(char c) {
    out_ += c;
    need_comma_.pop_back();
    return true;
  }
  void WriteString(const std::string& s) {
    out_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
        out_ += buf;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }

  std::string& out_;
  std::vector<uint64_t>& offsets_;
  std::vector<char> need_comma_;  // one per open container inside an element
  bool after_key_ = false;
  TopState top_state_ = kBefore;
  std::string error_;
  std::string syntax_;
  size_t error_pos_ = 0;
};

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot read " + Quoted(path) + " (" + std::strerror(errno) +
             "); relative paths are relative to the script's directory";
    return false;
  }
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) {
    *error = "cannot read " + Quoted(path) + " (not a regular file)";
    std::fclose(f);
    return false;
  }
  out->resize(static_cast<size_t>(size));
  size_t got = size > 0 ? std::fread(out->data(), 1, out->size(), f) : 0;
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || got != out->size()) {
    *error = "cannot read " + Quoted(path) + " (short read)";
    return false;
  }
  return true;
}

}  // namespace

// Own parser rather than libcsv (Debian's libcsv-dev, not a dependency yet):
// errors need line numbers (a quoted field may span lines), and parsing in
// place lets the file's own buffer become the arena, so a 100 MB file costs
// 100 MB once instead of twice.
std::shared_ptr<Dataset> ParseCsv(std::string text, const std::string& name,
                                  const ParseOptions& options, std::string* error) {
  auto ds = std::make_shared<Dataset>();
  DatasetBuilder b(*ds);
  std::vector<uint64_t>& off = b.offsets();
  const char sep = options.separator;
  char* s = text.data();
  const size_t n = text.size();
  size_t r = 0;  // read position
  size_t w = 0;  // write position (w <= r: unescaping never grows a field)
  if (n >= 3 && std::memcmp(s, "\xEF\xBB\xBF", 3) == 0) r = 3;
  size_t line = 1;
  size_t expected = 0;    // fields per record, from the first record
  size_t first_line = 0;  // the line of that first record
  bool header_pending = options.header;
  size_t blank_lines = 0, first_blank = 0;
  auto fail = [&](size_t at_line, const std::string& what) {
    *error = Quoted(name) + " line " + std::to_string(at_line) + ": " + what;
    return nullptr;
  };
  auto at_record_end = [&](size_t i) {
    return i >= n || s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] == '\n'));
  };
  const std::string sep_text = Quoted(Printable(sep));
  {
    // Reserve once, from an upper bound of the field count (a separator or a
    // line feed ends at most one field): no growth copies of a large array.
    size_t bound = 1;
    for (size_t i = r; i < n; ++i) bound += s[i] == sep || s[i] == '\n';
    off.reserve(bound + 1);
  }
  while (r < n) {
    const size_t record_line = line;
    if (at_record_end(r)) {  // an empty line
      if (s[r] == '\r') ++r;
      if (r < n) ++r;
      ++line;
      if (blank_lines++ == 0) first_blank = record_line;
      continue;
    }
    if (blank_lines > 0) {
      if (expected == 1 && !header_pending) {
        for (; blank_lines > 0; --blank_lines) off.push_back(w);  // empty one-field rows
      } else if (expected != 0) {
        return fail(first_blank, "empty line inside the data (" + std::to_string(expected) +
                                     " fields expected); remove it");
      }
      blank_lines = 0;
    }
    const size_t record_first = off.size();
    size_t fields = 0;
    for (;;) {
      off.push_back(w);
      ++fields;
      if (r < n && s[r] == '"') {
        const size_t quote_line = line;
        ++r;
        for (;;) {
          if (r >= n) {
            return fail(quote_line,
                        "unterminated quote: a quoted field opened here is never closed; close it "
                        "with \" and write a quote inside a quoted field as \"\"");
          }
          const char c = s[r];
          if (c == '"') {
            if (r + 1 < n && s[r + 1] == '"') {
              s[w++] = '"';
              r += 2;
              continue;
            }
            ++r;
            break;
          }
          line += c == '\n';
          s[w++] = c;
          ++r;
        }
        if (r < n && s[r] != sep && !at_record_end(r)) {
          return fail(line, "unexpected " + Quoted(Printable(s[r])) +
                                " after a closing quote; write a quote inside a quoted field as "
                                "\"\" and separate fields with " +
                                sep_text);
        }
      } else {
        while (r < n && s[r] != sep && !at_record_end(r)) s[w++] = s[r++];
      }
      if (r < n && s[r] == sep) {
        ++r;
        continue;
      }
      if (r < n && s[r] == '\r') ++r;
      if (r < n && s[r] == '\n') {
        ++r;
        ++line;
      }
      break;
    }
    if (expected == 0) {
      expected = fields;
      first_line = record_line;
    } else if (fields != expected) {
      return fail(record_line, std::to_string(fields) + " field" + (fields == 1 ? "" : "s") +
                                   ", expected " + std::to_string(expected) + " as in " +
                                   (options.header ? "the header" : "the first row") + " (line " +
                                   std::to_string(first_line) +
                                   "); every row needs the same fields (quote " +
                                   "a field that contains the separator " + sep_text + ")");
    }
    if (header_pending) {
      header_pending = false;
      off.push_back(w);  // end of the last header field
      for (size_t i = record_first; i + 1 < off.size(); ++i) {
        b.header().emplace_back(s + off[i], off[i + 1] - off[i]);
      }
      w = off[record_first];
      off.resize(record_first);
    }
  }
  if (options.header && expected == 0) {
    *error = Quoted(name) + ": the file is empty but header = true expects a header line; add " +
             "one, or drop header = true";
    return nullptr;
  }
  if (!off.empty()) off.push_back(w);
  text.resize(w);  // keeps the buffer: it becomes the arena as it is
  b.arena() = std::move(text);
  b.Finish(Format::kCsv, name, expected);
  return ds;
}

std::shared_ptr<Dataset> ParseJson(std::string_view text, const std::string& name,
                                   std::string* error) {
  auto ds = std::make_shared<Dataset>();
  DatasetBuilder b(*ds);
  std::string& arena = b.arena();
  arena.reserve(text.size());
  CompactWriter writer(arena, b.offsets());
  const bool ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &writer);
  if (!ok || !writer.error().empty()) {
    if (!writer.error().empty()) {
      // A semantic error (not an array, too deep): sax stopped at the value.
      *error = Quoted(name) + ": " + writer.error();
    } else {
      size_t at = writer.error_pos() > 0 ? writer.error_pos() - 1 : 0;
      *error = Quoted(name) + " line " + std::to_string(LineAt(text, at)) +
               ": invalid JSON: " + writer.syntax() + "; the file must hold one JSON array of rows";
    }
    return nullptr;
  }
  b.offsets().push_back(arena.size());
  if (arena.size() < arena.capacity() / 4 * 3) arena.shrink_to_fit();  // mostly whitespace
  b.Finish(Format::kJson, name, 1);
  return ds;
}

std::shared_ptr<const Dataset> LoadShared(const std::string& path, const ParseOptions& options,
                                          std::string* error) {
  char canonical[PATH_MAX];
  if (realpath(path.c_str(), canonical) == nullptr) {
    *error = "cannot read " + Quoted(path) + " (" + std::strerror(errno) +
             "); relative paths are relative to the script's directory";
    return nullptr;
  }
  using Key = std::tuple<std::string, int, bool, char>;
  static std::mutex mu;
  static std::map<Key, std::weak_ptr<const Dataset>> registry;  // init only: cold
  Key key{canonical, static_cast<int>(options.format),
          options.format == Format::kCsv && options.header,
          options.format == Format::kCsv ? options.separator : ','};
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = registry.find(key); it != registry.end()) {
    if (auto ds = it->second.lock()) return ds;
  }
  std::string text;
  if (!ReadWholeFile(path, &text, error)) return nullptr;
  std::shared_ptr<const Dataset> ds = options.format == Format::kCsv
                                          ? ParseCsv(std::move(text), path, options, error)
                                          : ParseJson(text, path, error);
  if (ds == nullptr) return nullptr;
  registry[key] = ds;
  return ds;
}

}  // namespace stampede::script::data
