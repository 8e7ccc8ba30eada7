# W3C trace context, id generation and head sampling (no I/O): used by the
# engine and the script layer. Merged into src/otel/CMakeLists.txt later.
add_library(stampede_otel_context ${CMAKE_SOURCE_DIR}/src/otel/trace_context.cc)
target_link_libraries(stampede_otel_context PUBLIC stampede_core)
stampede_test(otel_context_test LABEL unit
  SOURCES ${CMAKE_SOURCE_DIR}/src/otel/trace_context_test.cc LIBS stampede_otel_context)
