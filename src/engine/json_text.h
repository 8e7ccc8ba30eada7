// User input shown inside the one-line configuration errors of the script's
// options (plan.cc, script_options.cc). Cold path: setup only.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace stampede::engine::json_text {

// User text (a name, a key) quoted and escaped so the message stays one line.
inline std::string Q(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A JSON value rendered on one line for an error message (long ones cut).
inline std::string Shown(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace stampede::engine::json_text
