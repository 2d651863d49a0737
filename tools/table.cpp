#include "table.hpp"

#include <algorithm>
#include <stdexcept>

#include "exit_codes.hpp"

namespace modelreg::cli {
namespace {

std::string cell_text(const std::string& raw) {
  return raw.empty() ? "-" : printable(raw);
}

void pad(std::ostream& out, const std::string& text, std::size_t width) {
  out << text;
  for (std::size_t w = display_width(text); w < width; ++w) out << ' ';
}

}  // namespace

std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() > headers_.size()) throw std::invalid_argument("table row has too many cells");
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = cell_text(cell);
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) widths[c] = display_width(headers_[c]);
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  const auto print_row = [&](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c + 1 == row.size()) {
        out << row[c];
      } else {
        pad(out, row[c], widths[c]);
        out << "  ";
      }
    }
    out << '\n';
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

void print_fields(std::ostream& out, const Fields& fields) {
  std::size_t width = 0;
  for (const auto& field : fields) width = std::max(width, display_width(field.first) + 1);
  for (const auto& [label, value] : fields) {
    pad(out, label + ":", width);
    out << "  " << cell_text(value) << '\n';
  }
}

}  // namespace modelreg::cli
