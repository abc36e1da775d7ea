// Lesson 00: the smallest possible lesson, to learn the edit -> test -> green
// loop.
//
// Nothing here is about event loops. Pure functions: thread-safe.
#ifndef LESSONS_00_WORKFLOW_WORKFLOW_H_
#define LESSONS_00_WORKFLOW_WORKFLOW_H_

#include <string>

namespace loop {

// The words every lesson's tests are waiting to hear: "Hello, event loop!".
std::string Greeting();

}  // namespace loop

#endif  // LESSONS_00_WORKFLOW_WORKFLOW_H_
