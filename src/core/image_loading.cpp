// SPDX-License-Identifier: BSD-2-Clause
// Loading flat guest images (load_image, load_image_file) and reading whole
// files the VMM is given (read_regular_file, read_image_file) of guestmem/guest_memory.hpp.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "format.hpp"
#include "regular_file.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem {

Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image) {
    ApiCall call("load_image");
    return write_guest(vm, addr, image, WriteRights::vmm);
}

Result<std::vector<std::byte>> read_regular_file(const std::string& path, std::string_view what,
                                                 std::uint64_t max_bytes) {
    ApiCall call("read_regular_file");
    const std::string name = std::string(what) + " " + path;
    // Checked on the open descriptor before anything is read: a FIFO would
    // block the open, a directory makes reads fail, /dev/zero never ends.
    auto fd = open_regular_file(path, what, Errc::invalid_argument);
    if (!fd) return fd.error();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0)
        return fail(Errc::invalid_argument, "cannot stat " + name + ": " + errno_message(errno));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
        return fail(Errc::invalid_argument, name + " has " + std::to_string(size) + " bytes, more than the " +
                                                std::to_string(max_bytes) + " allowed");
    }
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd->get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Errc::invalid_argument, "cannot read " + name + ": " + errno_message(errno));
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    if (done != size) return fail(Errc::invalid_argument, "cannot read " + name + ": it changed while being read");
    return bytes;
}

Result<std::vector<std::byte>> read_image_file(const std::string& path, std::uint64_t max_bytes) {
    ApiCall call("read_image_file");
    return read_regular_file(path, "guest image", max_bytes);
}

Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path) {
    ApiCall call("load_image_file");
    auto bytes = read_image_file(path);
    if (!bytes) return bytes.error();
    if (auto loaded = write_guest(vm, addr, *bytes, WriteRights::vmm); !loaded) return loaded.error();
    return std::uint64_t{bytes->size()};
}

}  // namespace guestmem
