// A C++ library the native tests load with ctypes: a namespace, a template and an
// inlined helper, to check demangling and inline frames at -O2 -g; and a thread
// started from C that never touches Python (for --native-all).
#include <pthread.h>
#include <unistd.h>

namespace pystack_test {

static int counter;

__attribute__((noinline)) void park() {
    for (;;) pause();
}

static inline void wait_here(int times) {
    counter += times;
    park();
}

template <typename T>
__attribute__((noinline)) T hold(T value) {
    wait_here(static_cast<int>(value));
    return value;
}

}  // namespace pystack_test

static void *c_thread_main(void *) {
    pystack_test::park();
    return nullptr;
}

extern "C" int block_in_cpp(int value) {
    return pystack_test::hold<int>(value);
}

extern "C" int start_c_thread() {
    pthread_t thread;
    return pthread_create(&thread, nullptr, c_thread_main, nullptr);
}
