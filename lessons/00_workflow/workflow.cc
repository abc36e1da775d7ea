// Lesson 00: make Greeting() return "Hello, event loop!".
// lessons/00_workflow/README.md walks you through it.
#include "lessons/00_workflow/workflow.h"

#include "lessons/todo.h"

namespace loop {

std::string Greeting() {
  LOOP_TODO("00", "00_workflow",
            "replace this line with: return \"Hello, event loop!\";");
}

}  // namespace loop
