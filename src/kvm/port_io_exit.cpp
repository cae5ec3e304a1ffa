// SPDX-License-Identifier: BSD-2-Clause
#include "port_io_exit.hpp"

#include <cstring>
#include <exception>

#include "format.hpp"

namespace guestmem::kvm {

std::optional<PortFailure> handle_port_io(kvm_run& run, const PortIoHandler& handler) {
    const bool is_write = run.io.direction == KVM_EXIT_IO_OUT;
    const std::uint8_t size = run.io.size;
    auto* base = reinterpret_cast<std::uint8_t*>(&run) + run.io.data_offset;
    for (std::uint32_t i = 0; i < run.io.count; ++i) {
        std::uint8_t* element = base + std::size_t{i} * size;
        PortAccess access{run.io.port, size, is_write, 0};
        if (is_write) std::memcpy(&access.data, element, size);
        const std::string what = std::string(is_write ? "OUT to" : "IN from") + " port " + hex(access.port);
        if (!handler) return PortFailure{access, what + " and the vCPU has no port I/O handler"};
        PortResult result;
        try {
            result = handler(access);
        } catch (const std::exception& e) {
            return PortFailure{access, what + ": the port I/O handler threw: " + e.what()};
        } catch (...) {
            return PortFailure{access, what + ": the port I/O handler threw"};
        }
        switch (result) {
        case PortResult::handled: break;
        case PortResult::ignore: access.data = 0; break;
        case PortResult::error: return PortFailure{access, what + ": the port I/O handler returned an error"};
        default: return PortFailure{access, what + ": the port I/O handler returned an invalid result"};
        }
        if (!is_write) std::memcpy(element, &access.data, size);
    }
    return std::nullopt;
}

}  // namespace guestmem::kvm
