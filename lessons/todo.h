// The marker for code the learner has not written yet.
//
//   int Epoll::Wait(...) {
//     LOOP_TODO("02", "02_raw_epoll", "Epoll::Wait: call epoll_wait ...");
//   }
//
// It throws loop::Todo so that starters compile and each unfinished test fails
// at run time with a pointer to the lesson's README instead of a build error.
// Where a function cannot throw (noexcept, destructors), a starter leaves a
// do-nothing body with a TODO(lesson NN) comment instead, and the tests
// explain what did not happen: aborting would stop the whole test binary and
// hide which tests fail.
#ifndef LESSONS_TODO_H_
#define LESSONS_TODO_H_

#include <stdexcept>
#include <string>

namespace loop {

class Todo : public std::logic_error {
 public:
  Todo(const std::string& lesson, const std::string& dir,
       const std::string& what)
      : std::logic_error("TODO(lesson " + lesson + "): " + what +
                         " - see lessons/" + dir + "/README.md") {}
};

}  // namespace loop

#define LOOP_TODO(lesson, dir, what) throw ::loop::Todo(lesson, dir, what)

#endif  // LESSONS_TODO_H_
