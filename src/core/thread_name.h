// Names the calling thread as `top -H`, perf and debuggers show it
// ("stampede-w0", "stampede-export"). Linux keeps at most 15 bytes; longer
// names are cut. Best effort: a failure changes nothing else.
#pragma once

#include <pthread.h>

#include <string>

namespace stampede::core {

inline void NameThisThread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace stampede::core
