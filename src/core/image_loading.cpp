// SPDX-License-Identifier: BSD-2-Clause
// Loading flat guest images: load_image and load_image_file of guestmem/guest_memory.hpp.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "guestmem/guest_memory.hpp"

namespace guestmem {

Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image) {
    ApiCall call("load_image");
    return write_guest(vm, addr, image, WriteRights::vmm);
}

Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path) {
    ApiCall call("load_image_file");
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(Errc::invalid_argument, "cannot open guest image " + path + ": " + std::strerror(errno));
    std::vector<char> chars((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) return fail(Errc::invalid_argument, "cannot read guest image " + path);
    const auto* data = reinterpret_cast<const std::byte*>(chars.data());
    if (auto loaded = write_guest(vm, addr, {data, chars.size()}, WriteRights::vmm); !loaded) return loaded.error();
    return std::uint64_t{chars.size()};
}

}  // namespace guestmem
