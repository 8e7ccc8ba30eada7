// Internal to script/: encoders of HTML form bodies, independent of Lua.
// A Lua table body without a JSON content type is a form (k6's rule):
// `application/x-www-form-urlencoded` (WHATWG URL standard's serializer), or
// `multipart/form-data` (RFC 7578, the WHATWG HTML multipart encoding) when a
// field is a file. The http bindings turn the table into FormFields (views
// into Lua strings) and call these. Pure functions; any thread. Every
// encoder appends to `out` and never shrinks it, so a reused buffer keeps its
// capacity and steady state allocates nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace stampede::script::form {

// One field (one part of a multipart body). Views are borrowed: they must
// outlive the encoder call.
struct FormField {
  std::string_view name;
  std::string_view value;  // the text, or the file's bytes
  bool is_file = false;
  std::string_view filename;      // files only (sent even when empty)
  std::string_view content_type;  // files only; empty: no Content-Type line
};

// Appends `in` percent-encoded by the application/x-www-form-urlencoded byte
// serializer: ASCII alphanumerics and `*-._` stay, space becomes `+`, every
// other byte `%XX` (upper-case hex; UTF-8 encoded byte by byte).
void AppendFormUrlEncoded(std::string_view in, std::string& out);

// Appends `name=value&name=value...` in the order of `fields` (file fields
// contribute their bytes as the value). No fields: appends nothing.
void EncodeUrlEncoded(std::span<const FormField> fields, std::string& out);

// Appends `in` as a quoted-string parameter value of a Content-Disposition
// header, escaped as browsers do: `"` → %22, CR → %0D, LF → %0A.
void AppendEscapedQuoted(std::string_view in, std::string& out);

// Appends a fresh boundary ("stampede-" and 32 hex digits) made from two
// random words.
void AppendBoundary(uint64_t random_hi, uint64_t random_lo, std::string& out);

// True when `boundary` occurs in any field's name, value, filename or content
// type, so it cannot delimit their parts.
bool BoundaryOccurs(std::span<const FormField> fields, std::string_view boundary);

// Appends the multipart/form-data body delimited by `boundary` (which must
// not occur in the fields: see BoundaryOccurs), CRLF line endings:
//   --B CRLF Content-Disposition: form-data; name="n"[; filename="f"] CRLF
//   [Content-Type: t CRLF] CRLF value CRLF ... --B-- CRLF
void EncodeMultipart(std::span<const FormField> fields, std::string_view boundary,
                     std::string& out);

// The exact size EncodeMultipart appends; callers reserve it once so a large
// file is copied once.
size_t MultipartSize(std::span<const FormField> fields, std::string_view boundary);

// The `boundary` parameter of a Content-Type value (quotes removed), or empty.
std::string_view BoundaryParam(std::string_view content_type);

}  // namespace stampede::script::form
