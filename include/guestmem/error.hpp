// Typed errors and the Result type returned by every fallible guestmem call.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace guestmem {

/// What went wrong. Every failing call returns one of these with a message that
/// names the API function and the reason; the same message is logged.
enum class Errc {
    invalid_argument,     ///< an argument is out of its documented domain
    not_initialized,      ///< vm_memory_init / Vm::init_memory has not run
    already_initialized,  ///< vm_memory_init / Vm::init_memory ran before
    overlap,              ///< the range overlaps a reservation or an anonymous pool
    no_space,             ///< no anonymous pool has room for the request
    unknown_reservation,  ///< the handle is unknown, freed, or of another VM
    already_mapped,       ///< the reservation is mapped (or has a deferred mapping)
    bad_frame,            ///< a frame from an iterator or array is not mappable there
    bad_capability,       ///< the capability is null, deleted or never issued
    out_of_memory,        ///< host memory, frame budget or backend slots exhausted
    backend_error,        ///< the hypervisor refused an operation
    reentrant_call,       ///< called from a map iterator of the same VM
    unsupported,          ///< the operation does not exist on this backend
    fault_error,          ///< a guest access ended in an error (see the message)
};

/// Short stable name of an error code, e.g. "overlap".
std::string_view to_string(Errc code);

/// A typed error: a code to branch on and a message for people.
struct Error {
    Errc code;
    std::string message;
};

/// Either a value or an Error. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { assert(ok()); return std::get<0>(state_); }
    const T& value() const& { assert(ok()); return std::get<0>(state_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { assert(!ok()); return std::get<1>(state_); }
    Errc code() const { return error().code; }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { assert(failed_); return error_; }
    Errc code() const { return error().code; }

private:
    Error error_{Errc::invalid_argument, {}};
    bool failed_ = false;
};

/// Marks a call as an API entry point for error messages. The outermost entry
/// on a thread names the errors: a C call reports its C name, not the C++
/// method it is implemented with.
class ApiCall {
public:
    explicit ApiCall(const char* name);
    ~ApiCall();
    ApiCall(const ApiCall&) = delete;
    ApiCall& operator=(const ApiCall&) = delete;

    /// The name of the outermost API call on this thread ("guestmem" if none).
    static const char* current();

private:
    bool outermost_;
};

/// Builds an Error whose message names the current API call, and logs it.
Error fail(Errc code, std::string reason);

}  // namespace guestmem
