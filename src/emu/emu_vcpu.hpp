// SPDX-License-Identifier: BSD-2-Clause
// A vCPU on the emulator: one Unicorn engine, used only by the vCPU's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "emu_backend.hpp"
#include "engine.hpp"
#include "engine_memory.hpp"
#include "guestmem/vcpu.hpp"

namespace guestmem::emu {

/// Runs a vCPU's guest code in its own engine. Map changes and stop requests
/// from other threads only set state that the engine's hooks act on, on the
/// vCPU's thread: a UC_HOOK_BLOCK hook at every translated block, and the
/// end of every callback into the VMM.
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
    RunResult finish(uc_engine* uc, uc_err err);

    // Hooks (static trampolines in the .cpp call these).
    void on_block(GuestAddr address, std::uint32_t size);
    void on_instruction(GuestAddr address);
    bool on_unmapped(uc_engine* uc, GuestAddr addr, int size);
    bool on_write_protected(GuestAddr addr, int size, std::int64_t value);
    void on_interrupt(uc_engine* uc, std::uint32_t number);
    std::uint32_t on_port(std::uint16_t port, int size, bool is_write, std::uint32_t value);
    std::uint64_t mmio_access(GuestAddr addr, unsigned size, bool is_write, std::uint64_t value) override;

    /// Code was translated from [address, address + size).
    void note_code(GuestAddr address, std::uint32_t size);
    void enter(Phase phase);
    void leave_callback();
    /// Applies the backend's current map; `full` false applies removals only.
    void sync_memory(bool full);
    /// Dispatches one access to the core; false (after recording the stop) on FAULT_ERROR.
    bool dispatch(Access& access);
    /// Ends the run (on the vCPU's thread) with `result` unless one is
    /// recorded: at once (the current instruction does not complete) or, with
    /// `after_instruction`, once the current instruction has completed.
    void stop_with(RunResult result, bool after_instruction = false);
    /// True while emulated accesses must not reach the VMM: the run is
    /// stopping at once, or the failed instruction is being completed.
    bool suppress_access() const;

    EmuBackend& backend_;
    Vcpu& vcpu_;
    const Arch arch_;
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

    // State of the current run (vCPU thread only).
    std::optional<RunResult> stop_;
    bool stopping_now_ = false;          // uc_emu_stop called: the instruction is abandoned
    bool stop_after_instruction_ = false;  // stop_ takes effect at the next instruction
    // An access that failed (FAULT_ERROR, ...) stops the run before its
    // instruction completes; the next run starts at that instruction and
    // completes its emulated accesses as ignored, as KVM completes a failed
    // MMIO access with 0 on re-entry.
    enum class Redo { none, pending, inside };
    Redo redo_ = Redo::none;
    GuestAddr redo_ip_ = 0;
    ExitCounts exits_;
    struct {
        GuestAddr next = 0;
        int remaining = 0;
    } byte_echo_;  // per-byte repeats of an unaligned read-only store, to skip
};

}  // namespace guestmem::emu
