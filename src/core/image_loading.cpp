// SPDX-License-Identifier: BSD-2-Clause
// Loading flat guest images: load_image and load_image_file of guestmem/guest_memory.hpp.
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "format.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem {

Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image) {
    ApiCall call("load_image");
    return write_guest(vm, addr, image, WriteRights::vmm);
}

Result<std::vector<std::byte>> read_image_file(const std::string& path, std::uint64_t max_bytes) {
    ApiCall call("read_image_file");
    // Checked before reading: a directory makes the stream throw, and a
    // device like /dev/zero never ends.
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (error) return fail(Errc::invalid_argument, "cannot open guest image " + path + ": " + error.message());
    if (!std::filesystem::is_regular_file(status)) {
        return fail(Errc::invalid_argument, "guest image " + path + " is not a regular file");
    }
    const std::uintmax_t size = std::filesystem::file_size(path, error);
    if (error) return fail(Errc::invalid_argument, "cannot read guest image " + path + ": " + error.message());
    if (size > max_bytes) {
        return fail(Errc::invalid_argument, "guest image " + path + " has " + std::to_string(size) +
                                                " bytes, more than the " + std::to_string(max_bytes) + " allowed");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(Errc::invalid_argument, "cannot open guest image " + path + ": " + errno_message(errno));
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    try {
        file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    } catch (const std::exception& e) {
        return fail(Errc::invalid_argument, "cannot read guest image " + path + ": " + e.what());
    }
    if (static_cast<std::uintmax_t>(file.gcount()) != size) {
        return fail(Errc::invalid_argument, "cannot read guest image " + path + ": it changed while being read");
    }
    return bytes;
}

Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path) {
    ApiCall call("load_image_file");
    auto bytes = read_image_file(path);
    if (!bytes) return bytes.error();
    if (auto loaded = write_guest(vm, addr, *bytes, WriteRights::vmm); !loaded) return loaded.error();
    return std::uint64_t{bytes->size()};
}

}  // namespace guestmem
