// Standard base64 (RFC 4648, with padding), for the few cold paths that
// carry bytes through text: the Kubernetes ConfigMap's binaryData, the files
// a coordinator ships to its agents. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stampede::core {

std::string Base64Encode(std::string_view bytes);
// nullopt unless `text` is padded base64 of the standard alphabet (length a
// multiple of 4, '=' only at the end).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace stampede::core
