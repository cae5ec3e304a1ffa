// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Typed errors and the Result type returned by every fallible guestmem call.
#pragma once

#include <guestmem/export.h>

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
    not_mapped,           ///< a guest range is not wholly backed by mapped frames (or not RAM)
    permission_denied,    ///< a frame lacks the right the access needs (e.g. a write to read-only memory)
    would_deadlock,       ///< a free from a handler would wait for a handler that waits for this one
    io_error,             ///< a file could not be read or written (the message has the path and errno)
    bad_snapshot,         ///< a snapshot file is truncated, corrupt, of a newer format, or not the parent named
};

/// Short stable name of an error code, e.g. "overlap".
GUESTMEM_API std::string_view to_string(Errc code);

/// A typed error: a code to branch on and a message for people.
struct Error {
    Errc code;            ///< what went wrong, to branch on
    std::string message;  ///< "<function>: <reason>", as logged
};

/// Either a value or an Error. A small stand-in for C++23 std::expected.
/// Accessing the value of a failed Result (or the error of a successful one)
/// is a precondition violation (asserted in debug builds).
///
/// Thread safety: a Result is a plain value; distinct objects may be used on
/// distinct threads.
/// @tparam T the value's type
template <class T>
class [[nodiscard]] Result {
public:
    /// A successful result holding `value`.
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    /// A failed result holding `error`.
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    /// True when the result holds a value.
    bool ok() const { return state_.index() == 0; }
    /// ok().
    explicit operator bool() const { return ok(); }

    /// The value (requires ok()).
    T& value() & {
        assert(ok());
        return std::get<0>(state_);
    }
    /// The value (requires ok()).
    const T& value() const& {
        assert(ok());
        return std::get<0>(state_);
    }
    /// The value, moved out (requires ok()).
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(state_));
    }
    /// value().
    T& operator*() & { return value(); }
    /// value().
    const T& operator*() const& { return value(); }
    /// &value().
    T* operator->() { return &value(); }
    /// &value().
    const T* operator->() const { return &value(); }

    /// The error (requires !ok()).
    const Error& error() const {
        assert(!ok());
        return std::get<1>(state_);
    }
    /// error().code (requires !ok()).
    Errc code() const { return error().code; }

private:
    std::variant<T, Error> state_;
};

/// The result of a call that returns nothing: success, or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    /// Success.
    Result() = default;
    /// Failure with `error`.
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

    /// True on success.
    bool ok() const { return !failed_; }
    /// ok().
    explicit operator bool() const { return ok(); }
    /// The error (requires !ok()).
    const Error& error() const {
        assert(failed_);
        return error_;
    }
    /// error().code (requires !ok()).
    Errc code() const { return error().code; }

private:
    Error error_{Errc::invalid_argument, {}};
    bool failed_ = false;
};

/// Marks a call as an API entry point for error messages. The outermost entry
/// on a thread names the errors: a C call reports its C name, not the C++
/// method it is implemented with.
class GUESTMEM_API ApiCall {
public:
    /// Enters API call `name` (a string literal: it is kept, not copied).
    explicit ApiCall(const char* name);
    ~ApiCall();
    ApiCall(const ApiCall&) = delete;
    ApiCall& operator=(const ApiCall&) = delete;

    /// The name of the outermost API call on this thread ("guestmem" if none).
    static const char* current();

    /// Held while the library runs user code (a fault handler, a map
    /// iterator): API calls that code makes are outermost again and name
    /// their own errors, not the call that led to the user code.
    class UserCode {
    public:
        UserCode();
        ~UserCode();
        UserCode(const UserCode&) = delete;
        UserCode& operator=(const UserCode&) = delete;

    private:
        const char* saved_;
    };

private:
    bool outermost_;
};

/// Builds an Error whose message names the current API call, and logs it.
GUESTMEM_API Error fail(Errc code, std::string reason);

}  // namespace guestmem
