// A deliberate use after free. Under --config=asan the report must name the
// line marked below.
int main() {
  int* value = new int(7);
  delete value;
  return *value;  // The read of freed memory (./tools/check looks here).
}
