#include "script/form_body.h"

#include <strings.h>

namespace stampede::script::form {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::string_view kDisposition = "Content-Disposition: form-data; name=\"";
constexpr std::string_view kFilename = "\"; filename=\"";
constexpr std::string_view kContentType = "Content-Type: ";

bool Unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
         c == '-' || c == '.' || c == '_';
}

size_t EscapedQuotedSize(std::string_view in) {
  size_t n = in.size();
  for (char c : in) {
    if (c == '"' || c == '\r' || c == '\n') n += 2;
  }
  return n;
}

}  // namespace

void AppendFormUrlEncoded(std::string_view in, std::string& out) {
  for (char ch : in) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (Unreserved(c)) {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      const char esc[3] = {'%', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, 3);
    }
  }
}

void EncodeUrlEncoded(std::span<const FormField> fields, std::string& out) {
  bool first = true;
  for (const FormField& f : fields) {
    if (!first) out += '&';
    first = false;
    AppendFormUrlEncoded(f.name, out);
    out += '=';
    AppendFormUrlEncoded(f.value, out);
  }
}

void AppendEscapedQuoted(std::string_view in, std::string& out) {
  for (char c : in) {
    switch (c) {
      case '"':
        out.append("%22", 3);
        break;
      case '\r':
        out.append("%0D", 3);
        break;
      case '\n':
        out.append("%0A", 3);
        break;
      default:
        out += c;
    }
  }
}

void AppendBoundary(uint64_t random_hi, uint64_t random_lo, std::string& out) {
  out.append("stampede-");
  for (uint64_t word : {random_hi, random_lo}) {
    for (int shift = 60; shift >= 0; shift -= 4) out += "0123456789abcdef"[(word >> shift) & 15];
  }
}

bool BoundaryOccurs(std::span<const FormField> fields, std::string_view boundary) {
  for (const FormField& f : fields) {
    for (std::string_view s : {f.name, f.value, f.filename, f.content_type}) {
      if (s.find(boundary) != std::string_view::npos) return true;
    }
  }
  return false;
}

size_t MultipartSize(std::span<const FormField> fields, std::string_view boundary) {
  size_t n = 0;
  for (const FormField& f : fields) {
    n += 2 + boundary.size() + 2;  // --B CRLF
    n += kDisposition.size() + EscapedQuotedSize(f.name) + 1;
    if (f.is_file) n += kFilename.size() + EscapedQuotedSize(f.filename);
    n += 2;  // CRLF after the disposition line
    if (f.is_file && !f.content_type.empty()) n += kContentType.size() + f.content_type.size() + 2;
    n += 2 + f.value.size() + 2;  // CRLF, the value, CRLF
  }
  return n + 2 + boundary.size() + 4;  // --B-- CRLF
}

void EncodeMultipart(std::span<const FormField> fields, std::string_view boundary,
                     std::string& out) {
  out.reserve(out.size() + MultipartSize(fields, boundary));
  for (const FormField& f : fields) {
    out.append("--");
    out.append(boundary);
    out.append("\r\n");
    out.append(kDisposition);
    AppendEscapedQuoted(f.name, out);
    if (f.is_file) {
      out.append(kFilename);
      AppendEscapedQuoted(f.filename, out);
    }
    out.append("\"\r\n");
    if (f.is_file && !f.content_type.empty()) {
      out.append(kContentType);
      out.append(f.content_type);
      out.append("\r\n");
    }
    out.append("\r\n");
    out.append(f.value);
    out.append("\r\n");
  }
  out.append("--");
  out.append(boundary);
  out.append("--\r\n");
}

std::string_view BoundaryParam(std::string_view ct) {
  size_t pos = ct.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = ct.substr(pos + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    size_t next = rest.find(';');
    std::string_view param = rest.substr(0, next);
    if (param.size() > 9 && strncasecmp(param.data(), "boundary=", 9) == 0) {
      std::string_view v = param.substr(9);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
    if (next == std::string_view::npos) break;
    pos = (ct.size() - rest.size()) + next;
  }
  return {};
}

}  // namespace stampede::script::form
