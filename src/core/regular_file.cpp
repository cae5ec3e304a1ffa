// SPDX-License-Identifier: BSD-2-Clause
// open_regular_file: a read-only open that never blocks on a FIFO.
#include "regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "format.hpp"

namespace guestmem {

namespace {

const char* kind_of(mode_t mode) {
    if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "of another kind";
}

}  // namespace

Result<UniqueFd> open_regular_file(const std::filesystem::path& path, std::string_view what, Errc cannot_open) {
    const std::string name = std::string(what) + " " + path.string();
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return fail(cannot_open, "cannot open " + name + ": " + errno_message(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(cannot_open, "cannot stat " + name + ": " + errno_message(errno));
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::invalid_argument, name + " is not a regular file: it is " + kind_of(st.st_mode));
    }
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
        return fail(Errc::io_error, name + ": cannot set blocking reads: " + errno_message(errno));
    }
    return fd;
}

}  // namespace guestmem
