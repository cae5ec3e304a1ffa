#include "mmio_exit.hpp"

#include <cstring>

namespace guestmem::kvm {

MmioPieces split_mmio(GuestAddr addr, std::uint32_t len) {
    MmioPieces out;
    if (len == 0 || len > 8) return out;
    if (len == 1 || len == 2 || len == 4 || len == 8) {
        out.pieces[0] = {addr, static_cast<std::uint8_t>(len), 0};
        out.count = 1;
        return out;
    }
    std::uint32_t done = 0;
    while (done < len) {
        const GuestAddr at = addr + done;
        const std::uint32_t left = len - done;
        std::uint8_t size = 1;
        for (std::uint8_t s : {4, 2}) {
            if (s <= left && (at & (s - 1)) == 0) {
                size = s;
                break;
            }
        }
        out.pieces[out.count++] = {at, size, static_cast<std::uint8_t>(done)};
        done += size;
    }
    return out;
}

AccessOutcome dispatch_mmio(Vm& vm, Vcpu& vcpu, GuestAddr addr, std::uint8_t* data, std::uint32_t len,
                            bool is_write) {
    const MmioPieces split = split_mmio(addr, len);
    if (split.count == 0) {
        // Not something KVM produces; let the core report it as an invalid access.
        Access access{addr, static_cast<std::uint8_t>(len > 255 ? 0 : len), is_write, 0};
        return vm.dispatch(vcpu, access);
    }
    for (std::size_t i = 0; i < split.count; ++i) {
        const auto& piece = split.pieces[i];
        Access access{piece.addr, piece.size, is_write, 0};
        // The guest's bytes are little-endian, as is the host (x86 on x86).
        if (is_write) std::memcpy(&access.data, data + piece.offset, piece.size);
        if (vm.dispatch(vcpu, access) != AccessOutcome::completed) return AccessOutcome::error;
        if (!is_write) std::memcpy(data + piece.offset, &access.data, piece.size);
    }
    return AccessOutcome::completed;
}

}  // namespace guestmem::kvm
