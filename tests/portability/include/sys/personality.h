/* Stand-in for a Linux-only header: building with __linux__ undefined (as on macOS) must not include it. */
#error "<sys/personality.h> is Linux-only: guard it with #ifdef __linux__"
