// Test data shared read-only by every VU of every worker thread:
// `require("stampede.data")`, k6's SharedArray.
//
// A Dataset is parsed once per process from a CSV or JSON file and is then
// immutable (except for its unique() counter, an atomic). Row access copies
// bytes out of it into Lua values, so scripts never see (or corrupt) shared
// memory.
//
// Ownership: LoadShared() hands out std::shared_ptr<const Dataset>; the
// registry keeps only weak references, so a dataset lives while some Lua
// state (the main thread's runtime or a worker's) holds it.
// Threads: every function here may be called from any thread. Loading takes
// a process-wide mutex (init only, cold); a loaded Dataset is read without
// locks. Sizes and indexes are 0-based counts of rows/fields; sizes of text
// are bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::script::data {

enum class Format { kCsv, kJson };

// What decides how a file is parsed (and so which parse may be shared).
struct ParseOptions {
  Format format = Format::kCsv;
  bool header = false;   // CSV: the first record names the fields
  char separator = ',';  // CSV: the field separator (not '"', CR or LF)
};

class Dataset {
 public:
  Dataset() = default;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  Format format() const { return format_; }
  // The file's path as the script named it (resolved), for messages.
  const std::string& name() const { return name_; }
  size_t rows() const { return rows_; }

  // CSV: fields per row (every row has the same count); the header's names
  // (empty without header = true). Field(row, col): the unescaped bytes,
  // valid while the Dataset lives. Preconditions: row < rows(), col < fields().
  size_t fields() const { return fields_; }
  const std::vector<std::string>& header() const { return header_; }
  std::string_view Field(size_t row, size_t col) const { return Item(row * fields_ + col); }

  // JSON: element `row` of the top-level array as compact JSON text (valid
  // JSON, strings UTF-8, escapes limited to \" \\ and \u00XX for control
  // characters). Precondition: row < rows().
  std::string_view JsonRow(size_t row) const { return Item(row); }

  // unique(): the next value of a counter shared by every thread (0, 1, 2,
  // ...); the caller maps it to a row (or reports exhaustion).
  uint64_t NextUnique() const { return next_unique_.fetch_add(1, std::memory_order_relaxed); }

  // Bytes held (arena + offsets), for tests and messages.
  size_t memory_bytes() const { return arena_.capacity() + offsets_.capacity() * sizeof(uint64_t); }

 private:
  friend class DatasetBuilder;
  std::string_view Item(size_t i) const {
    return std::string_view(arena_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }

  Format format_ = Format::kCsv;
  std::string name_;
  size_t rows_ = 0;
  size_t fields_ = 1;
  std::vector<std::string> header_;
  // Item k (a CSV field, row-major, or a JSON element) is
  // arena_[offsets_[k], offsets_[k + 1]).
  std::string arena_;
  std::vector<uint64_t> offsets_;
  mutable std::atomic<uint64_t> next_unique_{0};
};

// Parsers. `text` is the file's content (ParseCsv takes it by value: it
// unescapes in place and keeps the buffer as the arena); `name` is used in
// messages. On failure return nullptr and set `*error` to one line:
// `"NAME" line N: what is wrong; how to fix it`.
std::shared_ptr<Dataset> ParseCsv(std::string text, const std::string& name,
                                  const ParseOptions& options, std::string* error);
std::shared_ptr<Dataset> ParseJson(std::string_view text, const std::string& name,
                                   std::string* error);

// The process-wide registry: the dataset of `path` parsed with `options`,
// read and parsed on the first call, the same pointer afterwards while any
// holder keeps it alive. `path` is resolved (for messages); the cache key is
// its canonical form (realpath) plus `options`. On failure (unreadable file,
// bad content) returns nullptr and sets `*error` (one line, as above).
std::shared_ptr<const Dataset> LoadShared(const std::string& path, const ParseOptions& options,
                                          std::string* error);

}  // namespace stampede::script::data
