#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace stampede::core {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};  // process-wide setting, set once at startup
const char* Prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG ";
    case LogLevel::kInfo: return "";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR ";
  }
  return "";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view message) {
  std::string line = std::string("stampede: ") + Prefix(level) + std::string(message) + "\n";
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace stampede::core
