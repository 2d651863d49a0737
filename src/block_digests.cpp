#include "block_digests.hpp"

#include <fmt/format.h>

#include "modelreg/error.hpp"
#include "sha256.hpp"

namespace modelreg::detail {
namespace {

// Reads up to `size` bytes, as many as the stream has; false if it failed before its end.
bool read_block(std::istream& in, char* data, std::size_t size, std::size_t& got) {
  got = 0;
  while (got < size && in) {
    in.read(data + got, static_cast<std::streamsize>(size - got));
    got += static_cast<std::size_t>(in.gcount());
  }
  return !in.bad();
}

}  // namespace

bool BlockDigests::read(std::istream& in) {
  std::vector<char> buffer(kBlockSize);
  Sha256 whole;
  blocks_.clear();
  size_ = 0;
  for (;;) {
    std::size_t got = 0;
    if (!read_block(in, buffer.data(), buffer.size(), got)) return false;
    if (got == 0) break;
    whole.update(buffer.data(), got);
    blocks_.push_back(sha256_hex(buffer.data(), got));
    size_ += got;
    if (got < buffer.size()) break;
  }
  whole_ = whole.hex_digest();
  return true;
}

void BlockDigests::copy_verified(std::istream& in, std::ostream& out,
                                 const std::string& what) const {
  std::vector<char> buffer(kBlockSize);
  const auto changed = [&](std::size_t block) {
    return DataLossError(fmt::format(
        "artifact of {} changed while it was being read (at block {} of {}): nothing of it past "
        "the verified bytes was written",
        what, block, blocks_.size()));
  };
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    std::size_t got = 0;
    if (!read_block(in, buffer.data(), buffer.size(), got)) {
      throw StorageError(fmt::format("cannot read the artifact of {}", what));
    }
    const bool last = i + 1 == blocks_.size();
    if ((!last && got != buffer.size()) || sha256_hex(buffer.data(), got) != blocks_[i]) {
      throw changed(i);
    }
    out.write(buffer.data(), static_cast<std::streamsize>(got));
    if (!out) throw StorageError(fmt::format("cannot copy the artifact of {} to the stream", what));
  }
  // Nothing may follow what the first pass read.
  char extra = 0;
  std::size_t got = 0;
  if (!read_block(in, &extra, 1, got)) {
    throw StorageError(fmt::format("cannot read the artifact of {}", what));
  }
  if (got != 0) throw changed(blocks_.size());
}

}  // namespace modelreg::detail
