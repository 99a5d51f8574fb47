// isal_inflate takes at most 4 GiB of input per call (uint32 avail_in), so the mapped input is fed in 1 GiB
// slices. The gzip header and trailer (CRC-32 and size) are checked by ISA-L itself (crc_flag = ISAL_GZIP); it
// returns ISAL_INCORRECT_CHECKSUM for either, so the size is compared again here to name the field that is wrong.
// After the last member only zero bytes may follow.
#include "host/io/gzip_reader.hpp"

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
  if (offset >= size_) return false;
  if (offset + 2 > size_ || data_[offset] != 0x1f || data_[offset + 1] != 0x8b) {
    // Zero padding (tape blocks, some writers) is accepted, as gzip(1) does; anything else is damage.
    bool zeros = true;
    for (std::size_t i = offset; i < size_ && zeros; ++i) zeros = data_[i] == 0;
    if (zeros) return false;
    FASTTAB_FAIL(file_, ": ", size_ - offset, " bytes of trailing data after the gzip stream at offset ", offset,
                 "; the file is damaged (download or copy it again)");
  }
  member_out_ = 0;
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
    member_out_ += room - state_->avail_out;
    if (status == ISAL_INCORRECT_CHECKSUM) {
      // ISA-L checks the trailer's CRC-32 and ISIZE together (and the header CRC when there is one). Tell a
      // wrong size apart: the trailer is the 8 bytes before the first byte not consumed.
      const std::size_t offset = fed_ - state_->avail_in;
      if (offset >= 8 && offset <= size_) {
        const unsigned char* t = data_ + offset - 4;
        const std::uint32_t isize = std::uint32_t{t[0]} | std::uint32_t{t[1]} << 8 | std::uint32_t{t[2]} << 16 |
                                    std::uint32_t{t[3]} << 24;
        if (isize != static_cast<std::uint32_t>(member_out_)) {
          FASTTAB_FAIL(file_, ": corrupt gzip stream: the uncompressed size in the gzip trailer (", isize,
                       ") does not match the data (", member_out_,
                       " bytes, modulo 2^32); download or copy the file again");
        }
      }
      FASTTAB_FAIL(file_, ": corrupt gzip stream (CRC-32 mismatch); download or copy the file again");
    }
    if (status < 0) {
      FASTTAB_FAIL(file_, ": corrupt gzip stream (igzip error ", status, "); download or copy the file again");
    }
  }
  return filled;
}

}  // namespace fasttab
