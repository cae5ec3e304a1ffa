// SPDX-License-Identifier: BSD-2-Clause
#include "input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace vmm {

using guestmem::Errc;
using guestmem::fail;

namespace {

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

const char* kind_of(mode_t mode) {
    if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a file";
}

/// Closes the descriptor on every way out.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace

guestmem::Result<std::string> read_regular_file(const std::string& path, const std::string& what,
                                                std::uint64_t max_bytes) {
    const std::string name = what + " " + path;
    // O_NONBLOCK makes the open of a FIFO return at once instead of waiting
    // for a writer; reads from a regular file ignore it.
    const Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0) return fail(Errc::invalid_argument, name + ": cannot open: " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(Errc::invalid_argument, name + ": cannot stat: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::invalid_argument, name + ": not a regular file: it is " + kind_of(st.st_mode));
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
        return fail(Errc::invalid_argument, name + ": " + std::to_string(size) + " bytes, more than the " +
                                                std::to_string(max_bytes) + " allowed");
    }
    std::string text(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Errc::invalid_argument, name + ": cannot read: " + errno_text(errno));
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    // A file that shrank while being read is read as far as it went.
    text.resize(done);
    return text;
}

}  // namespace vmm
