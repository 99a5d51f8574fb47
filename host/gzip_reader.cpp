// isal_inflate takes at most 4 GiB of input per call (uint32 avail_in), so the mapped input is fed in 1 GiB
// slices. The gzip header and trailer (CRC-32 and size) are checked by ISA-L itself (crc_flag = ISAL_GZIP).
#include "host/gzip_reader.hpp"

#include <isa-l.h>

#include <algorithm>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {
constexpr std::size_t kInputSlice = std::size_t{1} << 30;
}

GzipReader::GzipReader(std::string file, const char* data, std::size_t size)
    : file_(std::move(file)), data_(reinterpret_cast<const unsigned char*>(data)), size_(size),
      state_(std::make_unique<inflate_state>()) {
  isal_inflate_init(state_.get());
  state_->crc_flag = ISAL_GZIP;
}

GzipReader::~GzipReader() = default;

bool GzipReader::start_next_member() {
  const std::size_t pending = state_->avail_in;
  const std::size_t offset = fed_ - pending;  // first byte not consumed by the finished member
  if (offset + 2 > size_ || data_[offset] != 0x1f || data_[offset + 1] != 0x8b) return false;  // padding: stop
  isal_inflate_reset(state_.get());
  state_->crc_flag = ISAL_GZIP;
  state_->next_in = const_cast<unsigned char*>(data_ + offset);
  state_->avail_in = static_cast<std::uint32_t>(pending);
  return true;
}

std::size_t GzipReader::read(char* out, std::size_t capacity) {
  std::size_t filled = 0;
  while (filled < capacity && !finished_) {
    if (state_->block_state == ISAL_BLOCK_FINISH) {
      if (!start_next_member()) {
        finished_ = true;
        break;
      }
    }
    if (state_->avail_in == 0) {
      if (fed_ == size_) {
        FASTTAB_FAIL(file_, ": truncated gzip stream (the file ends before the compressed data does); "
                     "download or copy it again");
      }
      const std::size_t slice = std::min(kInputSlice, size_ - fed_);
      state_->next_in = const_cast<unsigned char*>(data_ + fed_);
      state_->avail_in = static_cast<std::uint32_t>(slice);
      fed_ += slice;
    }
    const std::size_t room = std::min(capacity - filled, std::size_t{1} << 30);
    state_->next_out = reinterpret_cast<unsigned char*>(out + filled);
    state_->avail_out = static_cast<std::uint32_t>(room);
    const int status = isal_inflate(state_.get());
    filled += room - state_->avail_out;
    if (status == ISAL_INCORRECT_CHECKSUM) {
      FASTTAB_FAIL(file_, ": corrupt gzip stream (CRC-32 mismatch); download or copy the file again");
    }
    if (status < 0) {
      FASTTAB_FAIL(file_, ": corrupt gzip stream (igzip error ", status, "); download or copy the file again");
    }
  }
  return filled;
}

}  // namespace fasttab
