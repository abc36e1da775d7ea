// LOOP_TEST_SANITIZED is defined (as 1) when this translation unit is built
// with AddressSanitizer or ThreadSanitizer (--config=asan, --config=tsan):
// gcc says so with __SANITIZE_*__, clang with __has_feature.
#ifndef TESTS_SUPPORT_SANITIZED_H_
#define TESTS_SUPPORT_SANITIZED_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOOP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOOP_TEST_SANITIZED 1
#endif
#endif

#endif  // TESTS_SUPPORT_SANITIZED_H_
