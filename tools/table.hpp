#pragma once

// Aligned text tables and field lists for people (the default output; --json is for scripts).

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace modelreg::cli {

// Columns separated by two spaces, each as wide as its widest cell (in characters, counting a
// UTF-8 sequence as one); the last column is not padded. Cells are made printable (control
// characters escaped) and empty ones shown as "-".
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Adds a row; missing cells are empty, extra ones are an error (std::invalid_argument).
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  // Prints the header and the rows.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "label:  value" lines, the values aligned (show of one version). Values are made printable.
using Fields = std::vector<std::pair<std::string, std::string>>;
void print_fields(std::ostream& out, const Fields& fields);

// Width of `text` in characters (UTF-8 continuation bytes do not count).
std::size_t display_width(const std::string& text);

}  // namespace modelreg::cli
