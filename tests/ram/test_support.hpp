// Helpers shared by the guest RAM tests.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guestmem/log.hpp"
#include "guestmem/vm.hpp"

namespace ramtest {

/// Collects error log lines while alive (and keeps them off stderr).
class LogCapture {
public:
    LogCapture() {
        guestmem::set_log_handler([this](guestmem::LogLevel level, std::string_view message) {
            if (level != guestmem::LogLevel::error) return;
            std::lock_guard lock(mutex_);
            lines_.emplace_back(message);
        });
    }
    ~LogCapture() { guestmem::set_log_handler(nullptr); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    std::string last() const {
        std::lock_guard lock(mutex_);
        return lines_.empty() ? std::string() : lines_.back();
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return lines_.size();
    }
    /// True when some line contains every fragment.
    bool has(std::initializer_list<std::string_view> fragments) const {
        std::lock_guard lock(mutex_);
        for (const auto& line : lines_) {
            bool all = true;
            for (auto fragment : fragments) all = all && line.find(fragment) != std::string::npos;
            if (all) return true;
        }
        return false;
    }
    void clear() {
        std::lock_guard lock(mutex_);
        lines_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

/// A sim VM with initialised memory on its own capability space.
struct SimVm {
    std::shared_ptr<guestmem::CapabilitySpace> caps = std::make_shared<guestmem::CapabilitySpace>();
    std::unique_ptr<guestmem::Vm> vm;

    explicit SimVm(bool init = true) {
        auto created = guestmem::Vm::create(guestmem::BackendKind::sim, caps);
        if (created) vm = std::move(*created);
        if (vm && init) (void)vm->init_memory();
    }
    guestmem::Vm& operator*() const { return *vm; }
    guestmem::Vm* operator->() const { return vm.get(); }
};

inline guestmem::FaultHandler error_handler() {
    return [](guestmem::Fault&) { return guestmem::FaultResult::error; };
}

}  // namespace ramtest
