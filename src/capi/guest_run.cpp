// SPDX-License-Identifier: BSD-2-Clause
// Running guests from C: vm_run and vcpu_start (<sel4vm/guest_vm.h>), and
// guestmem's vcpu_run, run results, exits, stops and notifications
// (<sel4vm/guestmem.h>).
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "format.hpp"
#include "guestmem/log.hpp"
#include "guestmem/vcpu.hpp"
#include "handles.hpp"
#include "sel4vm/guest_vm.h"
#include "sel4vm/guestmem.h"

using namespace guestmem;

namespace {

// The C values are guestmem::StopReason's, in its order.
static_assert(static_cast<int>(StopReason::halted) == VM_STOP_HALTED &&
              static_cast<int>(StopReason::exited) == VM_STOP_EXITED &&
              static_cast<int>(StopReason::stopped) == VM_STOP_STOPPED &&
              static_cast<int>(StopReason::fault_error) == VM_STOP_FAULT_ERROR &&
              static_cast<int>(StopReason::port_io_error) == VM_STOP_PORT_IO_ERROR &&
              static_cast<int>(StopReason::exception) == VM_STOP_EXCEPTION &&
              static_cast<int>(StopReason::internal_error) == VM_STOP_INTERNAL_ERROR &&
              static_cast<int>(StopReason::entry_failed) == VM_STOP_ENTRY_FAILED &&
              static_cast<int>(StopReason::unexpected_exit) == VM_STOP_UNEXPECTED_EXIT);

vm_run_result_t to_c(const RunResult& run) {
    vm_run_result_t c{};
    c.reason = static_cast<vm_stop_reason_t>(run.reason);
    c.exit_status = run.exit_status;
    c.ip = run.ip;
    if (run.fault) {
        c.has_fault = true;
        c.fault_addr = run.fault->access.addr;
        c.fault_size = run.fault->access.size;
        c.fault_is_write = run.fault->access.is_write;
    }
    if (run.port) {
        c.has_port = true;
        c.port = run.port->port;
        c.port_size = run.port->size;
        c.port_is_write = run.port->is_write;
    }
    c.exits = run.exits.total;
    c.mmio_exits = run.exits.mmio;
    c.port_io_exits = run.exits.port_io;
    const std::size_t n = std::min(run.message.size(), sizeof c.message - 1);
    std::memcpy(c.message, run.message.data(), n);
    c.message[n] = '\0';
    return c;
}

/// A run that ended as the guest or the VMM asked, not in an error.
bool ended_well(const RunResult& run) {
    return run.reason == StopReason::halted || run.reason == StopReason::exited || run.reason == StopReason::stopped;
}

/// Runs the vCPU on this thread and records the result. A run the core
/// refuses (a vCPU in a handler, a backend error) is recorded as an internal
/// error, so that vm_run and vcpu_get_run_result report it like any stop.
RunResult run_and_record(capi::VcpuHandle& vcpu) {
    auto run = vcpu.core->run();
    RunResult result;
    if (run) {
        result = std::move(*run);
    } else {
        result.reason = StopReason::internal_error;
        result.message = run.error().message;
    }
    std::lock_guard lock(vcpu.run_mutex);
    vcpu.last_run = result;
    return result;
}

/// Claims the vCPU for one run; false (logged) if it runs already.
bool claim(capi::VcpuHandle& vcpu) {
    if (!vcpu.running.exchange(true)) return true;
    (void)fail(Errc::invalid_argument, "vCPU " + std::to_string(vcpu.view.vcpu_id) + " is running already");
    return false;
}

/// Pins the calling thread to the vCPU's target CPU, if it has one.
void pin_to_target(const capi::VcpuHandle& vcpu) {
    const int cpu = vcpu.view.target_cpu;
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0) {
        log(LogLevel::warning, "vm_run: cannot pin vCPU " + std::to_string(vcpu.view.vcpu_id) + " to CPU " +
                                   std::to_string(cpu) + " (" + errno_message(rc) + "); it runs unpinned");
    }
}

/// The vCPUs vm_run runs: those started, claimed for the run.
std::vector<capi::VcpuHandle*> claim_online_vcpus(capi::VmHandle& vm) {
    std::vector<capi::VcpuHandle*> online;
    std::lock_guard lock(vm.mutex);
    for (const auto& vcpu : vm.vcpus) {
        if (!vcpu->view.vcpu_online) continue;
        if (!claim(*vcpu)) {
            for (capi::VcpuHandle* claimed : online) claimed->running = false;
            return {};
        }
        online.push_back(vcpu.get());
    }
    if (online.empty()) (void)fail(Errc::invalid_argument, "no vCPU of the VM is started (vcpu_start)");
    return online;
}

void stop_all(capi::VmHandle& vm) {
    std::lock_guard lock(vm.mutex);
    for (const auto& vcpu : vm.vcpus) vcpu->core->request_stop();
}

/// vm_run's own loop on the calling thread: notifications until every vCPU
/// has stopped and those delivered until then are handled (a device's last
/// notification is not left for a later vm_run). After a callback failed, no
/// more are handled: they stay queued. False if a callback failed.
bool deliver_notifications(capi::VmHandle& vm, const std::size_t& running_vcpus) {
    std::unique_lock lock(vm.run_mutex);
    bool ok = true;
    while (true) {
        vm.run_wake.wait(lock, [&] { return running_vcpus == 0 || (ok && !vm.notifications.empty()); });
        if (!ok || vm.notifications.empty()) {
            if (running_vcpus == 0) return ok;
            continue;
        }
        const capi::Notification note = vm.notifications.front();
        vm.notifications.pop_front();
        const notification_callback_fn callback = vm.view.run.notification_callback;
        void* const cookie = vm.view.run.notification_callback_cookie;
        lock.unlock();
        const int rc = callback(&vm.view, note.badge, seL4_MessageInfo_new(note.label, 0, 0, 0), cookie);
        lock.lock();
        if (rc != 0) {
            log(LogLevel::error, "vm_run: the notification callback returned " + std::to_string(rc) + " for badge " +
                                     std::to_string(note.badge) + "; stopping the VM");
            ok = false;
            lock.unlock();
            stop_all(vm);
            lock.lock();
        }
    }
}

}  // namespace

extern "C" {

int vcpu_start(vm_vcpu_t* vcpu) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle) return -1;
    std::lock_guard lock(handle->owner->mutex);
    if (handle->view.vcpu_online) {
        (void)fail(Errc::invalid_argument, "vCPU " + std::to_string(handle->view.vcpu_id) + " is started already");
        return -1;
    }
    handle->view.vcpu_online = true;
    return 0;
}

int vm_run(vm_t* vm) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    {
        std::lock_guard lock(handle->run_mutex);
        if (handle->running) {
            (void)fail(Errc::invalid_argument, "vm_run runs on this VM already");
            return -1;
        }
        handle->running = true;
    }
    const std::vector<capi::VcpuHandle*> vcpus = claim_online_vcpus(*handle);
    if (vcpus.empty()) {
        std::lock_guard lock(handle->run_mutex);
        handle->running = false;
        return -1;
    }
    std::size_t running_vcpus = vcpus.size();  // under run_mutex
    std::vector<std::thread> threads;
    threads.reserve(vcpus.size());
    for (capi::VcpuHandle* vcpu : vcpus) {
        threads.emplace_back([handle, vcpu, &running_vcpus] {
            pin_to_target(*vcpu);
            (void)run_and_record(*vcpu);
            // vcpu->running stays claimed until vm_run returns: no vcpu_run
            // from a notification callback takes the vCPU in between.
            std::lock_guard lock(handle->run_mutex);
            --running_vcpus;
            handle->run_wake.notify_all();
        });
    }
    const bool notifications_ok = deliver_notifications(*handle, running_vcpus);
    for (std::thread& thread : threads) thread.join();
    for (capi::VcpuHandle* vcpu : vcpus) vcpu->running = false;

    bool ok = notifications_ok;
    for (capi::VcpuHandle* vcpu : vcpus) {
        std::lock_guard lock(vcpu->run_mutex);
        if (!ended_well(*vcpu->last_run)) {
            log(LogLevel::error, "vm_run: vCPU " + std::to_string(vcpu->view.vcpu_id) +
                                     " stopped: " + std::string(to_string(vcpu->last_run->reason)) +
                                     (vcpu->last_run->message.empty() ? "" : " (" + vcpu->last_run->message + ")"));
            ok = false;
        }
    }
    std::lock_guard lock(handle->run_mutex);
    handle->view.run.exit_reason = ok ? VM_GUEST_UNKNOWN_EXIT : VM_GUEST_ERROR_EXIT;
    handle->running = false;
    return ok ? 0 : -1;
}

int vcpu_run(vm_vcpu_t* vcpu, vm_run_result_t* result) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle || !claim(*handle)) return -1;
    const RunResult run = run_and_record(*handle);
    handle->running = false;
    if (result) *result = to_c(run);
    return ended_well(run) ? 0 : -1;
}

int vcpu_get_run_result(vm_vcpu_t* vcpu, vm_run_result_t* result) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle || !capi::present(result, "result")) return -1;
    std::lock_guard lock(handle->run_mutex);
    if (!handle->last_run) {
        (void)fail(Errc::invalid_argument, "vCPU " + std::to_string(handle->view.vcpu_id) + " has not run yet");
        return -1;
    }
    *result = to_c(*handle->last_run);
    return 0;
}

int vcpu_request_exit(vm_vcpu_t* vcpu, int64_t status) {
    ApiCall call(__func__);
    Vcpu* core = capi::live_vcpu(vcpu);
    if (!core) return -1;
    core->request_exit(status);
    return 0;
}

int vm_stop(vm_t* vm) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    stop_all(*handle);
    return 0;
}

int vm_register_notification_callback(vm_t* vm, notification_callback_fn notification_callback, void* cookie) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle || !capi::present(notification_callback, "callback")) return -1;
    std::lock_guard lock(handle->run_mutex);
    handle->view.run.notification_callback = notification_callback;
    handle->view.run.notification_callback_cookie = cookie;
    return 0;
}

int vm_notify(vm_t* vm, seL4_Word badge, seL4_Word label) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    std::lock_guard lock(handle->run_mutex);
    if (!handle->view.run.notification_callback) {
        (void)fail(Errc::invalid_argument, "the VM has no notification callback (vm_register_notification_callback)");
        return -1;
    }
    handle->notifications.push_back({badge, label});
    handle->run_wake.notify_all();
    return 0;
}

}  // extern "C"
