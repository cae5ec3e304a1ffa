// Turning a KVM MMIO exit into guest accesses for Vm::dispatch.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "guestmem/fault.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::kvm {

/// Accesses covering one MMIO exit. KVM reports 1, 2, 4 or 8 bytes for
/// ordinary instructions, but it splits an access that crosses a page into
/// fragments, which can have any length up to 8 (e.g. 3 bytes at 0xffd). The
/// core takes only 1, 2, 4 and 8, so such a fragment becomes the fewest
/// naturally aligned accesses of 4, 2 and 1 bytes covering it, in address order.
struct MmioPieces {
    struct Piece {
        GuestAddr addr;
        std::uint8_t size;
        std::uint8_t offset;  ///< of the piece's first byte in the exit's data
    };
    std::array<Piece, 8> pieces{};
    std::size_t count = 0;
};

/// The pieces of an exit of `len` bytes at `addr`; count 0 if len is 0 or above 8.
MmioPieces split_mmio(GuestAddr addr, std::uint32_t len);

/// Performs the exit `data[0..len)` at `addr` through `vm.dispatch` on `vcpu`,
/// piece by piece; for a read fills `data` with what was read. Returns the
/// outcome of the first piece that fails (Vcpu::last_error says why).
AccessOutcome dispatch_mmio(Vm& vm, Vcpu& vcpu, GuestAddr addr, std::uint8_t* data, std::uint32_t len,
                            bool is_write);

}  // namespace guestmem::kvm
