// Lesson 00: one test, to see the loop once: it fails, you edit, it passes.
#include "lessons/00_workflow/workflow.h"

#include "gtest/gtest.h"

namespace loop {
namespace {

TEST(WorkflowTest, GreetingSaysHelloToTheEventLoop) {
  EXPECT_EQ(Greeting(), "Hello, event loop!")
      << "Greeting() must return exactly \"Hello, event loop!\" (capital H, "
      << "comma, exclamation mark). Edit lessons/00_workflow/workflow.cc and "
      << "run the test again (see lessons/00_workflow/README.md)";
}

}  // namespace
}  // namespace loop
