// Lock-free single-producer / single-consumer ring of trivially copyable elements.
//
// Contract (after PortAudio's pa_ringbuffer.h and miniaudio's ma_pcm_rb):
//  - exactly one producer thread calls write()/writable(), exactly one consumer thread calls
//    read()/readable()/discard(); either may be the realtime audio callback;
//  - capacity is rounded up to a power of two and allocated once, in the constructor; nothing
//    allocates, locks or blocks afterwards, so both ends are safe on a realtime thread;
//  - only the producer moves the write index and only the consumer moves the read index. To
//    flush from another thread, ask the consumer to do it (see audio::playback's flush flag):
//    never reset the indexes from outside.
//  - indexes are free-running 64-bit counters (no wrap in practice), published with release and
//    read with acquire, so the data written before a publish is visible after the matching read.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

namespace ava::core {

template <typename T>
class spsc_ring {
    static_assert(std::is_trivially_copyable_v<T>, "spsc_ring copies elements with memcpy");

  public:
    /// Allocates room for at least `min_capacity` elements (rounded up to a power of two).
    explicit spsc_ring(std::size_t min_capacity)
        : capacity_(std::bit_ceil(std::max<std::size_t>(min_capacity, 2))),
          mask_(capacity_ - 1),
          data_(std::make_unique<T[]>(capacity_)) {}

    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    /// Producer: how many elements fit now.
    [[nodiscard]] std::size_t writable() const noexcept {
        return capacity_ -
               (write_.load(std::memory_order_relaxed) - read_.load(std::memory_order_acquire));
    }
    /// Consumer: how many elements are ready now.
    [[nodiscard]] std::size_t readable() const noexcept {
        return static_cast<std::size_t>(write_.load(std::memory_order_acquire) -
                                        read_.load(std::memory_order_relaxed));
    }

    /// Producer: copies as much of `in` as fits; returns how many elements were written.
    std::size_t write(std::span<const T> in) noexcept {
        const std::uint64_t w = write_.load(std::memory_order_relaxed);
        const std::size_t n = std::min(in.size(), writable());
        copy_in(w, in.first(n));
        write_.store(w + n, std::memory_order_release);
        return n;
    }

    /// Consumer: copies up to out.size() elements; returns how many were read.
    std::size_t read(std::span<T> out) noexcept {
        const std::uint64_t r = read_.load(std::memory_order_relaxed);
        const std::size_t n = std::min(out.size(), readable());
        copy_out(r, out.first(n));
        read_.store(r + n, std::memory_order_release);
        return n;
    }

    /// Consumer: copies up to out.size() elements without consuming them.
    std::size_t peek(std::span<T> out) const noexcept {
        const std::uint64_t r = read_.load(std::memory_order_relaxed);
        const std::size_t n = std::min(out.size(), readable());
        copy_out(r, out.first(n));
        return n;
    }

    /// Consumer: drops up to `n` ready elements; returns how many were dropped.
    std::size_t discard(std::size_t n) noexcept {
        const std::uint64_t r = read_.load(std::memory_order_relaxed);
        n = std::min(n, readable());
        read_.store(r + n, std::memory_order_release);
        return n;
    }

    /// Total elements ever written / read (monotonic; useful as clocks).
    [[nodiscard]] std::uint64_t total_written() const noexcept {
        return write_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::uint64_t total_read() const noexcept {
        return read_.load(std::memory_order_acquire);
    }

  private:
    void copy_in(std::uint64_t at, std::span<const T> in) noexcept {
        const std::size_t start = static_cast<std::size_t>(at) & mask_;
        const std::size_t first = std::min(in.size(), capacity_ - start);
        std::memcpy(data_.get() + start, in.data(), first * sizeof(T));
        std::memcpy(data_.get(), in.data() + first, (in.size() - first) * sizeof(T));
    }
    void copy_out(std::uint64_t at, std::span<T> out) const noexcept {
        const std::size_t start = static_cast<std::size_t>(at) & mask_;
        const std::size_t first = std::min(out.size(), capacity_ - start);
        std::memcpy(out.data(), data_.get() + start, first * sizeof(T));
        std::memcpy(out.data() + first, data_.get(), (out.size() - first) * sizeof(T));
    }

    const std::size_t capacity_;
    const std::size_t mask_;
    std::unique_ptr<T[]> data_;
    // Separate cache lines so the producer and the consumer do not false-share.
    alignas(64) std::atomic<std::uint64_t> write_{0};
    alignas(64) std::atomic<std::uint64_t> read_{0};
};

}  // namespace ava::core
