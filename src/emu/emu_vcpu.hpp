// SPDX-License-Identifier: BSD-2-Clause
// A vCPU on the emulator: one Unicorn engine, used only by the vCPU's thread.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <memory>
#include <optional>

#include "access_log.hpp"
#include "emu_backend.hpp"
#include "engine.hpp"
#include "engine_memory.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/interrupts.hpp"
#include "guestmem/vcpu.hpp"
#include "x86_local_apic.hpp"

namespace guestmem::emu {

/// Runs a vCPU's guest code in its own engine. Map changes and stop requests
/// from other threads only set state that the engine's hooks act on, on the
/// vCPU's thread: a UC_HOOK_BLOCK hook at every translated block, and the
/// end of every callback into the VMM.
///
/// Stopping at an instruction: x86-64 hooks every instruction (the emulator
/// then keeps the program counter and the lazily computed flags exact at
/// each one). AArch64 has no lazy state but the program counter, which a
/// memory hook makes the emulator store before every load and store: a run
/// stopped inside an access is exact once the backend puts back the counter
/// the emulator moved to the block's start. What must happen after an
/// instruction (a stop a handler asked for, completing a failed access) runs
/// that one instruction alone, with an instruction hook that exists only
/// for that step (see step()).
///
/// Dirty logging: while the backend logs, the vCPU marks every guest store
/// to RAM in the frames' DirtyLog after the emulator performed it, from a
/// store hook (always there on AArch64, added only while logging on x86-64);
/// see "Dirty logging" in the .cpp for the ordering and how x86-64 changes
/// its hooks in a run.
///
/// For EmuBackend::uninstall, a vCPU is in one of three phases: idle (not in
/// run()), guest (executing guest code) or callback (in VMM code on its own
/// thread, e.g. a fault handler). Only a vCPU in guest code must acknowledge a
/// change before the uninstall may return; the others apply it before they
/// execute guest code again.
class EmuVcpu final : public VcpuBackend, private MmioSink {
public:
    EmuVcpu(EmuBackend& backend, Vcpu& vcpu);
    ~EmuVcpu() override;

    GuestAddr instruction_pointer() override;
    Result<RunResult> run() override;
    void request_stop() noexcept override;
    Result<Registers> registers() override;
    Result<void> set_registers(const Registers& registers) override;
    Result<SystemState> system_state() override;
    Result<void> set_system_state(const SystemState& state) override;
    Result<void> set_port_io_handler(PortIoHandler handler) override;
    void interrupt_pending() noexcept override;

    /// A guest access to the local APIC page (the reservation
    /// EmuBackend::attach_interrupt_controller makes), on this vCPU's thread.
    FaultResult local_apic_access(Fault& fault);

    /// True when this vCPU no longer needs to act for uninstall `generation`
    /// to be safe. Any thread.
    bool settled(std::uint64_t generation) const;

private:
    enum class Phase { idle, guest, callback };
    class CallbackScope;  // phase callback while VMM code runs inside a hook
    friend struct Hooks;  // the engine's C callbacks

    Result<uc_engine*> engine();
    Result<void> add_hooks(uc_engine* uc);
    Result<RunResult> run_engine(uc_engine* uc);
    /// Runs the engine from `from` until a stop; puts back the program
    /// counter a stop inside a block recorded (resume_pc_).
    uc_err run_from(uc_engine* uc, GuestAddr from);
    enum class Step { replay, ignore };
    /// Runs the one instruction at the program counter by itself (AArch64):
    /// `replay` answers its accesses up to replay_end_ from the log and
    /// delivers the rest; `ignore` completes them all as ignored.
    uc_err step(uc_engine* uc, Step how);
    RunResult finish(uc_engine* uc, uc_err err);

    // Hooks (static trampolines in the .cpp call these).
    void on_block(GuestAddr address, std::uint32_t size);
    void on_instruction(GuestAddr address);
    bool on_unmapped(uc_engine* uc, GuestAddr addr, int size, bool is_write);
    /// An instruction fetch from memory the engine does not map: true (retry)
    /// once a deferred mapping there made it RAM.
    bool on_fetch_unmapped(GuestAddr addr);
    bool on_write_protected(GuestAddr addr, int size, std::int64_t value);
    void on_interrupt(uc_engine* uc, std::uint32_t number);
    std::uint32_t on_port(std::uint16_t port, int size, bool is_write, std::uint32_t value);
    std::uint64_t mmio_access(GuestAddr addr, unsigned size, bool is_write, std::uint64_t value) override;
    /// The answer to an access of the instruction being replayed, if the log has it.
    std::optional<std::uint64_t> replayed(GuestAddr addr, unsigned size, bool is_write);

    /// Code was translated from [address, address + size).
    void note_code(GuestAddr address, std::uint32_t size);
    void enter(Phase phase);
    void leave_callback();
    /// Where the vCPU applies a change of the backend's state: before a run,
    /// between instructions of a run (block and instruction hooks), or
    /// inside an instruction (a callback into the VMM).
    enum class Point { run_start, between, inside };
    /// Applies the backend's current map (`full` false: removals only) and
    /// dirty-logging flag; true when the run must restart at the current
    /// block or instruction (see apply_dirty_logging).
    bool sync_memory(bool full, Point where);
    /// Follows EmuBackend::dirty_logging() (see "Dirty logging" in the .cpp);
    /// true when x86-64 added its store hook inside a run, which must then
    /// restart so that no code translated without it runs.
    bool apply_dirty_logging(Point where);
    /// The store hook while logging: marks the previous store, records this one.
    void on_store(GuestAddr addr, std::uint64_t size);
    /// Records a store of `size` bytes at `addr` to be marked once performed.
    void record_store(GuestAddr addr, std::uint64_t size);
    /// Records "every writable run" as a pending store (logging started
    /// inside an instruction whose stores the hook did not see).
    void record_all_stores();
    /// Marks the recorded stores (performed by now), keeping the record.
    void mark_stores() noexcept;
    /// Marks the recorded stores and forgets them.
    void flush_stores() noexcept {
        if (pending_count_ != 0) {
            mark_stores();
            pending_count_ = 0;
        }
    }
    /// Stops the engine before anything of the block or instruction at
    /// `address` runs and makes run_from start it again there.
    void restart_at(GuestAddr address);
    /// The mapped run holding `addr` (cached), or nullptr.
    const RamSegment* segment_at(GuestAddr addr);
    /// Dispatches one access to the core; false (after recording the stop) on FAULT_ERROR.
    bool dispatch(Access& access);
    /// Ends the run (on the vCPU's thread) with `result` unless one is
    /// recorded: at once (the current instruction does not complete) or, with
    /// `after_instruction`, once the current instruction has completed.
    void stop_with(RunResult result, bool after_instruction = false);
    // Interrupts (x86-64; see "Interrupts" in the .cpp).
    struct IrqCandidate {
        std::uint8_t vector;
        int pin;  // the I/O APIC pin (InterruptController line), or -1: the local APIC's own (timer)
    };
    /// The interrupt the local APIC would present to the CPU now, if any.
    std::optional<IrqCandidate> pick_interrupt(InterruptController* irqs);
    /// Whether the instruction hook at `address` should stop the engine to deliver.
    bool interrupt_window(GuestAddr address);
    bool interrupt_flag(uc_engine* uc) const;
    /// Takes the interrupt pick_interrupt chooses and enters its IDT
    /// handler; false when there was none. Between engine runs.
    bool deliver_interrupt(uc_engine* uc);
    /// Performs the 64-bit IDT delivery of `vector`; a stop on failure.
    void enter_handler(uc_engine* uc, std::uint8_t vector);
    /// The engine stopped at HLT: with IF=1 and an interrupt controller,
    /// sleeps until an interrupt is deliverable and delivers it (true: run
    /// on); false: the run ends (halted as before, or stopped).
    bool halt_until_interrupt(uc_engine* uc);
    /// The guest's EOI ended `vector`.
    void end_of_interrupt(std::uint8_t vector);

    /// True while emulated accesses must not reach the VMM: the run is
    /// stopping at once, or the failed instruction is being completed.
    bool suppress_access() const;

    EmuBackend& backend_;
    Vcpu& vcpu_;
    const Arch arch_;
    const bool hook_every_instruction_;  // x86-64 (see the class comment)
    Engine engine_;
    std::unique_ptr<EngineMemory> memory_;
    std::optional<X86SystemState> x86_state_;  // x86: recorded, the engine runs long mode
    PortIoHandler port_io_;

    std::atomic<Phase> phase_{Phase::idle};
    std::atomic<std::uint64_t> acked_{0};  // generation whose removals this engine applied
    bool missing_windows_ = false;         // windows to map at the next block
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> running_{false};
    // Guest addresses code was translated from since translations were last
    // dropped (vCPU thread only).
    GuestAddr code_begin_ = ~GuestAddr{0};
    GuestAddr code_end_ = 0;

    // State of the current run (vCPU thread only). The fields every
    // emulated access reads come first, the large ones last.
    bool stopping_now_ = false;            // uc_emu_stop called: the instruction is abandoned
    bool stop_after_instruction_ = false;  // stop_ takes effect at the next instruction
    // An access that failed (FAULT_ERROR, ...) stops the run before its
    // instruction completes; the next run starts at that instruction and
    // completes its emulated accesses as ignored, as KVM completes a failed
    // MMIO access with 0 on re-entry.
    enum class Redo { none, pending, inside };
    Redo redo_ = Redo::none;
    // The step being run, and the instructions its hook has seen.
    std::optional<Step> step_;
    int step_instructions_ = 0;
    bool replay_done_ = false;
    // AArch64: a handler asked to stop inside an instruction; it is run again
    // by itself, its accesses up to log position replay_end_ answered from
    // access_log_.
    bool replay_pending_ = false;
    std::uint64_t replay_end_ = 0;
    ExitCounts exits_;
    struct {
        GuestAddr next = 0;
        int remaining = 0;
    } byte_echo_;  // per-byte repeats of an unaligned read-only store, to skip
    GuestAddr redo_ip_ = 0;
    // Where a stop inside a block left the guest (AArch64: the emulator moves
    // the program counter back to the block's start when it leaves a block early).
    std::optional<GuestAddr> resume_pc_;
    std::optional<GuestAddr> block_start_;  // while in the block hook
    std::optional<RunResult> stop_;
    AccessLog access_log_;

    // Dirty logging (vCPU thread only; see "Dirty logging" in the .cpp).
    bool logging_ = false;     // marking guest stores (the backend's flag as applied)
    bool x86_resync_ = false;  // x86-64: the flag changed inside an instruction
    bool restart_ = false;     // run_from restarts the engine where it stopped
    uc_hook write_hook_ = 0;   // x86-64's store hook while logging
    // Stores whose hook ran and which are marked once performed: one guest
    // store touches at most two runs (8 bytes across a boundary), plus one
    // entry with dirty == nullptr for all writable RAM (record_all_stores). They stay
    // valid when their run is uninstalled: arenas live as long as the
    // capability space, which the Vm (and so this vCPU) keeps alive.
    struct PendingStore {
        const std::byte* host;
        std::uint64_t bytes;
        DirtyLog* dirty;
    };
    std::array<PendingStore, 3> pending_{};
    unsigned pending_count_ = 0;
    const RamSegment* last_segment_ = nullptr;  // the last run stored to; reset when the map changes

    // Interrupts (x86-64). The local APIC and isr_pin_ belong to the vCPU's
    // thread; wake_mutex_ guards woken_, which interrupt_pending and
    // request_stop set for a vCPU sleeping in HLT.
    std::unique_ptr<LocalApic> lapic_;
    std::array<std::int16_t, 256> isr_pin_{};  // the pin of each vector in service, or -1
    bool irq_stop_ = false;                    // the instruction hook stopped the engine to deliver
    GuestAddr last_ip_ = ~GuestAddr{0};        // the previous instruction of this engine run (STI shadow)
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool woken_ = false;
};

}  // namespace guestmem::emu
