// SPDX-License-Identifier: BSD-2-Clause
#include "format.hpp"

#include <cstdio>
#include <cstring>

namespace guestmem {

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

namespace {

// strerror_r comes in two kinds: GNU's returns the message (in the buffer or
// a static string), POSIX's returns 0 and fills the buffer; the headers
// decide which one this build gets.
[[maybe_unused]] const char* strerror_r_result(const char* message, const char*) { return message; }
[[maybe_unused]] const char* strerror_r_result(int status, const char* buffer) {
    return status == 0 ? buffer : "unknown error";
}

}  // namespace

std::string errno_message(int err) {
    char buffer[256] = {};
    return strerror_r_result(strerror_r(err, buffer, sizeof buffer), buffer);
}

std::string describe(const Range& range) {
    std::string out = "[";
    out += hex(range.base);
    out += ", ";
    // A range ending exactly at 2^64 has no representable end.
    out += range.size != 0 && range.end() == 0 ? std::string("2^64") : hex(range.end());
    out += ")";
    return out;
}

}  // namespace guestmem
