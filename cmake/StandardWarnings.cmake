# Warnings for our own targets only: link automl_warnings PRIVATE. Third-party headers (torch, CLI11) come in
# as system includes and stay quiet.
add_library(automl_warnings INTERFACE)
target_compile_options(automl_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(AUTOML_WERROR)
  target_compile_options(automl_warnings INTERFACE -Werror)
endif()
