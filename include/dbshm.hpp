/*
 * dbshm.hpp: header-only C++17 wrapper over dbshm.h.
 *
 *   dbshm::Buffer<uint8_t> camera = dbshm::Buffer<uint8_t>::open("camera");
 *   std::vector<uint8_t> frame(camera.len());
 *   dbshm::FrameInfo info = camera.wait(0, std::chrono::seconds(1), frame);
 *
 * Buffer<T> owns one handle (move-only, released by its destructor) and is
 * templated on the element type: one of those DBSHM_FOR_EACH_TYPE in dbshm.h
 * lists (uint8_t ... double); any other type is a compile-time error.
 * Reading, waiting and the queries are const member functions, as the C
 * functions under them take a const handle; one Buffer may be used by
 * several threads at once. Every failure throws dbshm::Error, carrying the
 * dbshm_status and the library's message (which names the segment).
 */
#ifndef DBSHM_HPP
#define DBSHM_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dbshm.h"

namespace dbshm {

/** A failed call: its status and the message dbshm_last_error() gave. */
class Error : public std::runtime_error {
public:
    Error(dbshm_status status, const char *message)
        : std::runtime_error(std::string(dbshm_status_str(status)) + ": " + message), status_(status) {}

    /** The status the C call returned. */
    dbshm_status status() const noexcept { return status_; }

private:
    dbshm_status status_;
};

/** The number and publish time of a frame (see dbshm_frame_info). */
using FrameInfo = dbshm_frame_info;

/** Waits without limit (DBSHM_WAIT_FOREVER). */
inline constexpr std::chrono::microseconds wait_forever{-1};

namespace detail {

/* A name for C: refuses a NUL byte, which would silently cut it short. */
inline const char *c_name(const std::string &name) {
    if (name.find('\0') != std::string::npos) {
        throw Error(DBSHM_ERR_INVALID_ARGUMENT, "a segment name must not contain a NUL byte");
    }
    return name.c_str();
}

inline void check(dbshm_status status) {
    if (status != DBSHM_OK) {
        throw Error(status, dbshm_last_error());
    }
}

/* The C functions of each element type, chosen at compile time. */
template <typename T>
struct Api;

/* One specialisation per element type of dbshm.h's list: X is the C name's
 * part (u8), T the element type (uint8_t). */
#define DBSHM_DETAIL_API(X, T)                                                                      \
    template <>                                                                                     \
    struct Api<T> {                                                                                 \
        using Handle = dbshm_##X;                                                                   \
        using View = dbshm_##X##_view;                                                              \
        static constexpr auto create_with = dbshm_##X##_create_with;                                \
        static constexpr auto open_with = dbshm_##X##_open_with;                                    \
        static constexpr auto pin = dbshm_##X##_pin;                                                \
        static constexpr auto wait_pin = dbshm_##X##_wait_pin;                                      \
        static constexpr auto unpin = dbshm_##X##_unpin;                                            \
        static constexpr auto buffers = dbshm_##X##_buffers;                                        \
        static constexpr auto dropped_writes = dbshm_##X##_dropped_writes;                          \
        static constexpr auto event_fd = dbshm_##X##_event_fd;                                      \
        static constexpr auto acknowledge_events = dbshm_##X##_acknowledge_events;                  \
        static constexpr auto new_ = dbshm_##X##_new;                                               \
        static constexpr auto create = dbshm_##X##_create;                                          \
        static constexpr auto open = dbshm_##X##_open;                                              \
        static constexpr auto open_readonly = dbshm_##X##_open_readonly;                            \
        static constexpr auto write = dbshm_##X##_write;                                            \
        static constexpr auto read = dbshm_##X##_read;                                              \
        static constexpr auto wait = dbshm_##X##_wait;                                              \
        static constexpr auto latest_seq = dbshm_##X##_latest_seq;                                  \
        static constexpr auto memory_size = dbshm_##X##_memory_size;                                \
        static constexpr auto len = dbshm_##X##_len;                                                \
        static constexpr auto ndim = dbshm_##X##_ndim;                                              \
        static constexpr auto shape = dbshm_##X##_shape;                                            \
        static constexpr auto free = dbshm_##X##_free;                                              \
    };

DBSHM_FOR_EACH_TYPE(DBSHM_DETAIL_API)

#undef DBSHM_DETAIL_API

template <typename T, typename = void>
struct is_element : std::false_type {};
template <typename T>
struct is_element<T, std::void_t<typename Api<T>::Handle>> : std::true_type {};

inline uint64_t timeout_us(std::chrono::microseconds timeout) {
    // Only wait_forever waits without limit; a deadline already past is 0.
    return timeout == wait_forever ? DBSHM_WAIT_FOREVER : static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0));
}

}  // namespace detail

template <typename T>
class Buffer;

/** A pinned frame: its elements in place in shared memory, which the writer
 *  leaves alone until this is destroyed (or moved from and destroyed). Made
 *  by Buffer::pin and Buffer::wait_pin; must not outlive its Buffer. */
template <typename T>
class Pinned {
    using Api = detail::Api<T>;

public:
    Pinned(Pinned &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)), view_(other.view_) {}
    Pinned &operator=(Pinned &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            view_ = other.view_;
        }
        return *this;
    }
    Pinned(const Pinned &) = delete;
    Pinned &operator=(const Pinned &) = delete;
    ~Pinned() { release(); }

    /** The frame's elements, row-major: size() of them. */
    const T *data() const noexcept { return view_.data; }
    size_t size() const noexcept { return view_.len; }
    const T *begin() const noexcept { return view_.data; }
    const T *end() const noexcept { return view_.data + view_.len; }
    const T &operator[](size_t i) const noexcept { return view_.data[i]; }
    /** The frame's number and timestamp. */
    FrameInfo info() const noexcept { return view_.info; }

private:
    friend class Buffer<T>;
    using Handle = typename Api::Handle;
    using View = typename Api::View;

    Pinned(const Handle *handle, View view) : handle_(handle), view_(view) {}

    void release() noexcept {
        if (handle_ != nullptr) {
            Api::unpin(handle_, &view_);
            handle_ = nullptr;
        }
    }

    const Handle *handle_;
    View view_;
};

/** A segment of T elements; see the file comment. */
template <typename T>
class Buffer {
#define DBSHM_DETAIL_NAME(X, T) " " #T
    static_assert(detail::is_element<T>::value,
                  "dbshm::Buffer<T>: T must be one of" DBSHM_FOR_EACH_TYPE(DBSHM_DETAIL_NAME));
#undef DBSHM_DETAIL_NAME
    using Api = detail::Api<T>;

public:
    /** Opens the segment if it exists (same type and shape), else creates it (mode 0600). */
    static Buffer open_or_create(const std::string &name, const std::vector<size_t> &shape) {
        return Buffer(with_out([&](auto **out) { return Api::new_(detail::c_name(name), shape.data(), shape.size(), out); }));
    }

    /** Creates the segment; throws DBSHM_ERR_ALREADY_EXISTS if the name is taken. */
    static Buffer create(const std::string &name, const std::vector<size_t> &shape) {
        return Buffer(with_out([&](auto **out) { return Api::create(detail::c_name(name), shape.data(), shape.size(), out); }));
    }

    /** Opens an existing segment; its shape comes from the segment. */
    static Buffer open(const std::string &name) {
        return Buffer(with_out([&](auto **out) { return Api::open(detail::c_name(name), out); }));
    }

    /** Creates the segment with options (mode, buffers: 3 or more to pin, max_pins). */
    static Buffer create(const std::string &name, const std::vector<size_t> &shape, const dbshm_options &options) {
        return Buffer(with_out([&](auto **out) {
            return Api::create_with(detail::c_name(name), shape.data(), shape.size(), &options, out);
        }));
    }

    /** Opens an existing segment with options (mode as a limit, max_pins, read_only). */
    static Buffer open(const std::string &name, const dbshm_options &options) {
        return Buffer(with_out([&](auto **out) { return Api::open_with(detail::c_name(name), &options, out); }));
    }

    /** Opens an existing segment read-only: it can read and wait, not write. */
    static Buffer open_readonly(const std::string &name) {
        return Buffer(with_out([&](auto **out) { return Api::open_readonly(detail::c_name(name), out); }));
    }

    Buffer(Buffer &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Buffer &operator=(Buffer &&other) noexcept {
        if (this != &other) {
            Api::free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { Api::free(handle_); }

    /** Publishes a frame of len() elements, row-major. The first write takes the writer role. */
    void write(const T *data, size_t len) { detail::check(Api::write(handle_, data, len)); }

    /** Publishes a frame of len() elements, row-major. */
    void write(const std::vector<T> &data) { write(data.data(), data.size()); }

    /** Copies the latest complete frame into out[0..len). */
    FrameInfo read(T *out, size_t len) const {
        FrameInfo info{};
        detail::check(Api::read(handle_, out, len, &info));
        return info;
    }

    /** Copies the latest complete frame into `out`, resized to len() first. */
    FrameInfo read(std::vector<T> &out) const {
        out.resize(len());
        return read(out.data(), out.size());
    }

    /** The latest complete frame, as a new vector. */
    std::vector<T> read() const {
        std::vector<T> out(len());
        read(out.data(), out.size());
        return out;
    }

    /** Waits for a frame newer than after_seq, then reads it into `out` (resized to len() first).
     *  `timeout` of wait_forever waits without limit; a negative one does not wait. */
    FrameInfo wait(uint64_t after_seq, std::chrono::microseconds timeout, std::vector<T> &out) const {
        out.resize(len());
        FrameInfo info{};
        detail::check(Api::wait(handle_, after_seq, detail::timeout_us(timeout), out.data(), out.size(), &info));
        return info;
    }

    /** Pins the latest complete frame: no copy; the writer leaves it alone
     *  while the Pinned lives. Needs a segment of 3 buffers or more. */
    Pinned<T> pin() const {
        typename Api::View view{};
        detail::check(Api::pin(handle_, &view));
        return Pinned<T>(handle_, view);
    }

    /** Waits for a frame newer than after_seq, then pins the latest one. */
    Pinned<T> wait_pin(uint64_t after_seq, std::chrono::microseconds timeout) const {
        typename Api::View view{};
        detail::check(Api::wait_pin(handle_, after_seq, detail::timeout_us(timeout), &view));
        return Pinned<T>(handle_, view);
    }

    /** A descriptor readable when a new frame is published, for poll/epoll/select
     *  (see dbshm_u8_event_fd); the handle's: do not close it. */
    int event_fd() const {
        int fd = -1;
        detail::check(Api::event_fd(handle_, &fd));
        return fd;
    }

    /** Reads the event descriptor: the frames announced since the last read. */
    uint64_t acknowledge_events() const {
        uint64_t count = 0;
        detail::check(Api::acknowledge_events(handle_, &count));
        return count;
    }

    /** The segment's number of buffers; this handle's writes dropped because all but the latest were pinned. */
    size_t buffers() const noexcept { return Api::buffers(handle_); }
    uint64_t dropped_writes() const noexcept { return Api::dropped_writes(handle_); }

    /** Number of the latest published frame; 0 before the first write. */
    uint64_t latest_seq() const noexcept { return Api::latest_seq(handle_); }
    size_t len() const noexcept { return Api::len(handle_); }
    size_t ndim() const noexcept { return Api::ndim(handle_); }
    size_t memory_size() const noexcept { return Api::memory_size(handle_); }

    std::vector<size_t> shape() const {
        std::vector<size_t> out(DBSHM_MAX_NDIM);
        detail::check(Api::shape(handle_, out.data(), out.size()));
        out.resize(ndim());
        return out;
    }

private:
    using Handle = typename Api::Handle;

    explicit Buffer(Handle *handle) : handle_(handle) {}

    template <typename F>
    static Handle *with_out(F &&make) {
        Handle *handle = nullptr;
        detail::check(make(&handle));
        return handle;
    }

    Handle *handle_;
};

}  // namespace dbshm

#endif /* DBSHM_HPP */
