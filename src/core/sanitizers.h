// Which sanitizer this translation unit is compiled with (the asan and tsan
// presets of CMakePresets.json), for the few tests that must know.
//
// ThreadSanitizer links its own operator new/delete statically, so a test
// binary that replaces them (to count allocations on the hot path) cannot
// link under TSan: such tests keep their replacement under
// STAMPEDE_CAN_REPLACE_NEW and skip their counting cases without it. The
// allocation figures are proven in the release and ASan trees.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define STAMPEDE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STAMPEDE_TSAN 1
#endif
#endif
#ifndef STAMPEDE_TSAN
#define STAMPEDE_TSAN 0
#endif

#define STAMPEDE_CAN_REPLACE_NEW (!STAMPEDE_TSAN)
