# -DAUTOML_SANITIZE=ON builds everything (ours and the tests) with ASan + UBSan.
# Run the tests with ASAN_OPTIONS=detect_leaks=0: libtorch keeps global allocations alive until exit.
add_library(automl_sanitizers INTERFACE)
if(AUTOML_SANITIZE)
  target_compile_options(automl_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(automl_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
