// SPDX-License-Identifier: BSD-2-Clause
// ApiCall::UserCode for the fault path, inline.
#pragma once

#include "hot_tls.hpp"

namespace guestmem {

namespace api_call_detail {
// The name of the outermost API call on this thread (ApiCall), or nullptr.
extern thread_local constinit const char* t_name GUESTMEM_HOT_TLS;
}  // namespace api_call_detail

/// What ApiCall::UserCode does (API calls from user code are outermost
/// again), without its two calls into error.cpp on every handler call.
class UserCodeScope {
public:
    // Stores only when a name is set: on a vCPU thread's run loop there is
    // none, and a store to the thread's block on every handler call costs
    // more than the test (about 1 ns per dispatch on the benchmark host).
    UserCodeScope() : saved_(api_call_detail::t_name) {
        if (saved_) api_call_detail::t_name = nullptr;
    }
    ~UserCodeScope() {
        if (saved_) api_call_detail::t_name = saved_;
    }
    UserCodeScope(const UserCodeScope&) = delete;
    UserCodeScope& operator=(const UserCodeScope&) = delete;

private:
    const char* saved_;
};

}  // namespace guestmem
