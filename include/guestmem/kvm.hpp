/// @file
/// guestmem on Linux KVM: real x86 guests on real vCPUs.
///
/// A Vm created with BackendKind::kvm (or with kvm::create_backend()) turns its
/// address space into a KVM VM: every mapped run of frames becomes a KVM memory
/// slot (read-only runs as KVM_MEM_READONLY), so guests run at native speed in
/// mapped memory, and every access to unmapped or read-only memory arrives as an
/// MMIO exit that kvm::run() hands to Vm::dispatch, with the same result
/// semantics as the sim backend (SPEC section 2, "Faults").
///
/// Typical use:
///
///     auto vm = Vm::create(BackendKind::kvm, caps);         // or Vm(kvm::create_backend(), caps)
///     vm->init_memory(); ... reserve and map RAM, reserve devices ...
///     Vcpu* vcpu = *vm->create_vcpu();
///     kvm::load_image_file(*vm, 0x10000, "guest.bin");
///     auto tables = kvm::write_boot_tables(*vm, 0x1000);
///     kvm::setup_long_mode(*vcpu, {.entry = 0x10000, .stack = 0x80000, .tables = *tables});
///     auto result = kvm::run(*vcpu);                         // until HLT or an error
///
/// Thread safety, type by type:
/// - The backend (kvm::create_backend) is used by its Vm only; the Vm serialises
///   install/uninstall/create_vcpu, which may run while vCPU threads run guests
///   (KVM lets memory slots change under running vCPUs).
/// - One thread per vCPU: run, setup_*, get/set_registers and
///   set_port_io_handler on a vCPU must not overlap each other (run() detects
///   an overlapping run() and fails with Errc::invalid_argument). Different
///   vCPUs, of one VM or of several, run on different threads at once.
/// - request_stop(vcpu) is the exception: any thread may call it at any time.
/// - While vCPUs run, any thread may reserve, map and free (Vm is thread safe):
///   a fault is looked up without a global lock and sees either the map before
///   or after the change.
/// - The Vm::dispatch contract: run() calls Vm::dispatch on the vCPU's own
///   thread for every MMIO exit, so fault handlers (and port I/O handlers) run
///   on that thread, possibly on several vCPU threads at once. A handler may
///   reserve, map and free (its own reservation too) and call request_stop;
///   run() on its own vCPU from inside a handler is refused.
/// - Guest RAM is shared with running guests without locks, by design: copy
///   with guestmem/guest_memory.hpp (write_boot_tables and load_image* do),
///   from any thread, also while guests run.
/// - memslot_usage may be called from any thread.
/// - No vCPU of a Vm may be running when the Vm is destroyed.
/// - BackendOptions, MemslotUsage, Registers, GuestArgs, RealModeSetup,
///   BootTables, LongModeSetup, PortAccess, ExitCounts and RunResult are plain
///   values: no shared state, thread safe like an int.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/types.hpp"

namespace guestmem {
class Vm;
class Vcpu;
}  // namespace guestmem

/// The KVM backend (VM_BACKEND_KVM): real x86 guests on /dev/kvm.
namespace guestmem::kvm {

// ---------------------------------------------------------------- the backend

/// True when /dev/kvm exists on this host (it may still refuse to open).
bool available();

/// Options of a KVM backend.
struct BackendOptions {
    /// Memory slots the VM may use; 0 means all KVM offers (KVM_CAP_NR_MEMSLOTS).
    /// A small number lets tests reach slot exhaustion cheaply.
    std::uint32_t max_slots = 0;
    /// Where KVM keeps its three private pages for real mode on Intel CPUs
    /// without unrestricted guest (KVM_SET_TSS_ADDR). Keep it outside guest RAM.
    std::uint32_t tss_address = 0xfffbd000;
};

/// A KVM backend for a Vm: `Vm vm(std::move(*kvm::create_backend()), caps)`.
/// Fails with Errc::unsupported when /dev/kvm is absent or lacks a needed
/// feature (the message says which), Errc::backend_error when KVM refuses.
Result<std::unique_ptr<Backend>> create_backend();
/// A KVM backend with `options`; errors as create_backend().
Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options);

/// Memory slots of a KVM backend.
struct MemslotUsage {
    std::size_t in_use = 0;  ///< slots holding guest memory (one per mapped run)
    std::size_t limit = 0;   ///< slots this VM may use
};
/// Errc::unsupported if `backend` is not a KVM backend.
Result<MemslotUsage> memslot_usage(const Backend& backend);

// --------------------------------------------------------------- vCPU state

/// The general-purpose registers, instruction pointer and flags of a vCPU.
struct Registers {
    std::uint64_t rax = 0;     ///< rax
    std::uint64_t rbx = 0;     ///< rbx
    std::uint64_t rcx = 0;     ///< rcx
    std::uint64_t rdx = 0;     ///< rdx
    std::uint64_t rsi = 0;     ///< rsi
    std::uint64_t rdi = 0;     ///< rdi
    std::uint64_t rsp = 0;     ///< rsp
    std::uint64_t rbp = 0;     ///< rbp
    std::uint64_t r8 = 0;      ///< r8
    std::uint64_t r9 = 0;      ///< r9
    std::uint64_t r10 = 0;     ///< r10
    std::uint64_t r11 = 0;     ///< r11
    std::uint64_t r12 = 0;     ///< r12
    std::uint64_t r13 = 0;     ///< r13
    std::uint64_t r14 = 0;     ///< r14
    std::uint64_t r15 = 0;     ///< r15
    std::uint64_t rip = 0;     ///< instruction pointer
    std::uint64_t rflags = 0x2;  ///< flags (bit 1 is always set)
};
/// Every function taking a Vcpu& fails with Errc::unsupported if the vCPU is
/// not a KVM vCPU.
Result<Registers> get_registers(Vcpu& vcpu);
/// Sets the vCPU's registers (Errc::unsupported if not a KVM vCPU).
Result<void> set_registers(Vcpu& vcpu, const Registers& registers);

/// Values handed to a guest in rdi, rsi, rdx and rcx (System V argument order);
/// in real mode their low 16 bits are DI, SI, DX and CX.
using GuestArgs = std::array<std::uint64_t, 4>;

/// 16-bit real mode at `entry`: CS = DS = ES = FS = GS = SS = entry >> 4 and
/// IP = 0, so a flat image linked at 0 runs wherever it is loaded.
struct RealModeSetup {
    GuestAddr entry = 0;             ///< 16-byte aligned, below 1 MiB
    std::uint16_t stack_pointer = 0; ///< SP within the segment (0: the first push lands at 0xfffe)
    GuestArgs args{};                ///< values for DI, SI, DX and CX
};
/// Puts the vCPU in 16-bit real mode as `setup` says (Errc::unsupported if not a KVM vCPU).
Result<void> setup_real_mode(Vcpu& vcpu, const RealModeSetup& setup);

/// The GDT, TSS and identity-mapping page tables long mode needs, as written
/// into guest RAM by write_boot_tables().
struct BootTables {
    GuestAddr base = 0;              ///< first byte (page aligned)
    std::uint64_t bytes = 0;         ///< bytes used from base
    GuestAddr gdt = 0;               ///< the GDT
    GuestAddr tss = 0;               ///< the TSS
    GuestAddr pml4 = 0;              ///< CR3
    std::uint64_t identity_mapped = 0;  ///< guest-virtual == guest-physical for [0, identity_mapped)
};
/// Bytes write_boot_tables needs to identity map `identity_bytes`.
std::uint64_t boot_tables_size(std::uint64_t identity_bytes);
/// Writes a GDT (64-bit code 0x08, data 0x10, TSS 0x18), a TSS and page tables
/// identity mapping [0, identity_bytes) with 2 MiB pages into guest RAM at
/// `base` (page aligned, writable RAM mapped or with a deferred mapping;
/// the tables must stay writable: the CPU sets accessed bits in them;
/// Errc::not_mapped / Errc::permission_denied otherwise).
/// `identity_bytes` is a multiple of 1 GiB, at most 512 GiB. One set of tables
/// serves every vCPU of the VM.
Result<BootTables> write_boot_tables(Vm& vm, GuestAddr base, std::uint64_t identity_bytes = std::uint64_t{4} << 30);

/// 64-bit long mode at `entry` with paging on the given tables, interrupts
/// off and no IDT (an exception shuts the guest down, which run() reports).
struct LongModeSetup {
    GuestAddr entry = 0;  ///< first instruction (guest-virtual == guest-physical)
    GuestAddr stack = 0;  ///< initial RSP
    BootTables tables;    ///< tables from write_boot_tables
    GuestArgs args{};     ///< values for rdi, rsi, rdx and rcx
};
/// Puts the vCPU in 64-bit long mode as `setup` says (Errc::unsupported if not a KVM vCPU).
Result<void> setup_long_mode(Vcpu& vcpu, const LongModeSetup& setup);

// ------------------------------------------------------------------ port I/O

/// One element of an IN or OUT instruction (a REP INS/OUTS gives one per element).
struct PortAccess {
    std::uint16_t port = 0;  ///< the I/O port
    std::uint8_t size = 0;   ///< 1, 2 or 4
    bool is_write = false;   ///< OUT
    std::uint32_t data = 0;  ///< OUT: the value written; IN: set it to the value read
};
/// What a port I/O handler decided.
enum class PortResult {
    handled,  ///< done (for IN, PortAccess::data is the value read)
    ignore,   ///< OUT dropped, IN yields 0
    error,    ///< stop the run with StopReason::port_io_error
};
/// Called on the vCPU's thread for each port access of that vCPU.
using PortIoHandler = std::function<PortResult(PortAccess&)>;
/// Sets (or with an empty handler removes) the vCPU's port I/O handler.
/// Without one, any IN or OUT stops the run with StopReason::port_io_error.
Result<void> set_port_io_handler(Vcpu& vcpu, PortIoHandler handler);

// -------------------------------------------------------------------- running

/// Why run() returned.
enum class StopReason {
    halted,          ///< the guest executed HLT
    fault_error,     ///< a memory access ended in an error; see RunResult::fault
    port_io_error,   ///< a port access had no handler or its handler said error
    stopped,         ///< request_stop() ended the run
    shutdown,        ///< the guest shut down (triple fault: e.g. an exception without IDT)
    internal_error,  ///< KVM could not go on (e.g. instruction fetch from MMIO it cannot emulate)
    entry_failed,    ///< the CPU refused to enter the guest (invalid guest state)
    unexpected_exit, ///< an exit reason this backend does not handle
};
/// Short stable name of a stop reason, e.g. "halted".
std::string_view to_string(StopReason reason);

/// VM exits of one run, by kind.
struct ExitCounts {
    std::uint64_t total = 0;        ///< KVM_RUN returns
    std::uint64_t mmio = 0;         ///< MMIO exits (accesses to unmapped or read-only memory)
    std::uint64_t port_io = 0;      ///< port I/O exits
    std::uint64_t interrupted = 0;  ///< returns because of a signal or request_stop
    /// Guest writes posted in KVM's coalesced MMIO ring (Vm::reserve_write_posting)
    /// and delivered during this run (they caused no exit of their own).
    std::uint64_t posted_writes = 0;
};

/// How a run ended.
struct RunResult {
    StopReason reason = StopReason::halted;  ///< why the run stopped
    /// For fault_error: the failed access (address, length, direction) and the
    /// instruction pointer. KVM reports the faulting instruction's address for
    /// reads; for writes it has already moved past the instruction, so `ip` is
    /// the address of the next one (the same holds for port I/O).
    std::optional<FaultReport> fault;
    /// For port_io_error: the port access.
    std::optional<PortAccess> port;
    GuestAddr ip = 0;     ///< RIP when the run stopped (after HLT for halted)
    std::string message;  ///< for people: why the run stopped (empty for halted)
    ExitCounts exits;     ///< VM exits during the run

    /// True when the guest executed HLT.
    bool halted() const { return reason == StopReason::halted; }
};

/// Runs the vCPU until it halts, an access ends in an error, it shuts down or
/// request_stop() ends the run. Guest misbehaviour is a RunResult, not an
/// error; the Result fails only when the vCPU cannot be run (not a KVM vCPU,
/// already running on another thread, KVM_RUN failing). Every non-halted
/// outcome is logged.
///
/// When run() returns, the vCPU's state is consistent: an access that ended in
/// an error was completed as if ignored (write dropped, read 0), so another
/// run() continues after it, and registers can be read or set up anew.
Result<RunResult> run(Vcpu& vcpu);

/// Makes the vCPU's current run (or, if none is in progress, its next one)
/// return StopReason::stopped soon. Any thread, any time. A vCPU thread inside
/// KVM_RUN is interrupted with kick_signal(), whose handler (installed on the
/// first call) does nothing; if that thread blocks the signal, the run stops
/// at its next exit instead.
Result<void> request_stop(Vcpu& vcpu);
/// The signal request_stop sends (SIGRTMIN + 3).
int kick_signal();

// -------------------------------------------------------------- guest memory

// Copying to and from guest RAM: guestmem/guest_memory.hpp (read_guest,
// write_guest, ...). Loading images is a write with WriteRights::vmm, so that
// a ROM (read-only frames) can be loaded too; the range must be mapped RAM
// (pending deferred mappings are completed first), else Errc::not_mapped.

/// Loads a flat image (e.g. made with objcopy -O binary) at `addr`.
Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image);
/// Loads a flat image file at `addr`; returns its size.
Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path);

}  // namespace guestmem::kvm
