#pragma once
// Asserting on user-facing errors: the exit code they map to and the words they must contain.

#include "core/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace automl::test {

// Expects `f` to throw InputError (exit code 2) whose message contains every one of `parts`.
template <typename F> void expect_input_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const InputError& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    for (const auto& p : parts) EXPECT_THAT(e.what(), testing::HasSubstr(p));
  }
}

// The message of the Error `f` throws; a test failure when it throws nothing or something else.
template <typename F> std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no automl::Error thrown";
  return "";
}

} // namespace automl::test
