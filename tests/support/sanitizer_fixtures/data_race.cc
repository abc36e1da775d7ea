// A deliberate data race: two threads write one int with nothing ordering them.
// Under --config=tsan the report must name the line marked below.
#include <thread>

int shared_counter = 0;

void Bump() {
  shared_counter += 1;  // The racing write (./tools/check looks for this line).
}

int main() {
  std::thread a(Bump);
  std::thread b(Bump);
  a.join();
  b.join();
  return shared_counter == 2 ? 0 : 1;
}
