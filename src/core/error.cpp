// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/error.hpp"

#include "guestmem/log.hpp"
#include "user_code.hpp"

namespace guestmem {

namespace api_call_detail {
thread_local constinit const char* t_name GUESTMEM_HOT_TLS = nullptr;
}  // namespace api_call_detail

std::string_view to_string(Errc code) {
    switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_initialized: return "not_initialized";
    case Errc::already_initialized: return "already_initialized";
    case Errc::overlap: return "overlap";
    case Errc::no_space: return "no_space";
    case Errc::unknown_reservation: return "unknown_reservation";
    case Errc::already_mapped: return "already_mapped";
    case Errc::bad_frame: return "bad_frame";
    case Errc::bad_capability: return "bad_capability";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::backend_error: return "backend_error";
    case Errc::reentrant_call: return "reentrant_call";
    case Errc::would_deadlock: return "would_deadlock";
    case Errc::io_error: return "io_error";
    case Errc::bad_snapshot: return "bad_snapshot";
    case Errc::unsupported: return "unsupported";
    case Errc::fault_error: return "fault_error";
    case Errc::not_mapped: return "not_mapped";
    case Errc::permission_denied: return "permission_denied";
    }
    return "unknown";
}

ApiCall::ApiCall(const char* name) : outermost_(api_call_detail::t_name == nullptr) {
    if (outermost_) api_call_detail::t_name = name;
}

ApiCall::~ApiCall() {
    if (outermost_) api_call_detail::t_name = nullptr;
}

const char* ApiCall::current() { return api_call_detail::t_name ? api_call_detail::t_name : "guestmem"; }

ApiCall::UserCode::UserCode() : saved_(api_call_detail::t_name) { api_call_detail::t_name = nullptr; }

ApiCall::UserCode::~UserCode() { api_call_detail::t_name = saved_; }

Error fail(Errc code, std::string reason) {
    std::string message = std::string(ApiCall::current()) + ": " + std::move(reason);
    log(LogLevel::error, message);
    return Error{code, std::move(message)};
}

}  // namespace guestmem
