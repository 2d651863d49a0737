#pragma once

// A verified copy of a seekable artifact stream to an std::ostream in bounded memory, in two
// passes: the first checks the whole (size, SHA-256 against the catalog) and records a SHA-256
// of every block; the second re-reads each block and hands it to `out` only once its digest is
// the one the first pass recorded. So a byte changed in place between the passes never reaches
// `out`: only ever bytes identical to those the whole-file check verified.

#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace modelreg::detail {

class BlockDigests {
 public:
  static constexpr std::size_t kBlockSize = std::size_t{1} << 20;

  // The first pass: reads `in` to its end, hashing the whole and each block. Returns false if
  // the stream failed before its end.
  bool read(std::istream& in);

  std::uint64_t size() const { return size_; }
  const std::string& hex_digest() const { return whole_; }

  // The second pass: copies `in`, positioned at its start, to `out`, block by block, each only
  // once it is verified. Throws DataLossError (naming `what`) if a block differs from the first
  // pass, or the stream got longer or shorter; StorageError if `in` or `out` fails. `out` may
  // then hold a verified prefix.
  void copy_verified(std::istream& in, std::ostream& out, const std::string& what) const;

 private:
  std::vector<std::string> blocks_;
  std::uint64_t size_ = 0;
  std::string whole_;
};

}  // namespace modelreg::detail
