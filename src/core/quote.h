// Quoting user input inside a one-line error message: control bytes would
// break the line (or the terminal), so they are shown escaped; quotes and
// backslashes are escaped too. Cold path.
#pragma once

#include <string>
#include <string_view>

namespace stampede::core {

// "text" with \xNN for control bytes and \" \\ for quote and backslash.
std::string QuoteInput(std::string_view text);

}  // namespace stampede::core
