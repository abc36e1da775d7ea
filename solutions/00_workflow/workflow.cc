#include "lessons/00_workflow/workflow.h"

namespace loop {

std::string Greeting() { return "Hello, event loop!"; }

}  // namespace loop
