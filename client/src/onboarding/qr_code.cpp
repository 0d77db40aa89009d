// QrCode and encode_qr: libqrencode's symbol copied into a wiped module array.
#include <qrencode.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "satchel/client/qr_code.h"
#include "satchel/crypto/secret.h"

namespace satchel::client {
namespace {

constexpr int kMinSize = 21;   // version 1
constexpr int kMaxSize = 177;  // version 40

// Encodes a NUL-terminated text at one level; the symbol's data is wiped before it is freed.
// On failure `err` is libqrencode's errno (ERANGE: too long for version 40 at this level).
Result<QrCode> encode_at(const char* text, QRecLevel level, int& err) {
  errno = 0;
  QRcode* symbol = QRcode_encodeString(text, 0, level, QR_MODE_8, 1);
  if (symbol == nullptr) {
    err = errno;
    return make_error(Errc::kInternal, "libqrencode failed");
  }
  const int size = symbol->width;
  const size_t count = static_cast<size_t>(size) * static_cast<size_t>(size);
  std::vector<uint8_t> dark(count);
  for (size_t i = 0; i < count; ++i) dark[i] = symbol->data[i] & 1;
  wipe(symbol->data, count);
  QRcode_free(symbol);
  return QrCode::from_modules(size, std::move(dark));
}

}  // namespace

Result<QrCode> QrCode::from_modules(int size, std::vector<uint8_t> dark) {
  if (size < kMinSize || size > kMaxSize || (size - kMinSize) % 4 != 0) {
    wipe(dark.data(), dark.size());
    return make_error(
        Errc::kInvalidArgument,
        "a QR code is 17 + 4 x version modules wide (21 to 177), not " + std::to_string(size));
  }
  if (dark.size() != static_cast<size_t>(size) * static_cast<size_t>(size)) {
    wipe(dark.data(), dark.size());
    return make_error(Errc::kInvalidArgument, "a QR code of " + std::to_string(size) +
                                                  " modules a side has " +
                                                  std::to_string(size * size) + " modules, not " +
                                                  std::to_string(dark.size()));
  }
  return QrCode(size, std::move(dark));
}

QrCode::~QrCode() {
  wipe_modules();
}

QrCode::QrCode(QrCode&& other) noexcept : size_(other.size_), dark_(std::move(other.dark_)) {
  other.size_ = 0;
}

QrCode& QrCode::operator=(QrCode&& other) noexcept {
  if (this != &other) {
    wipe_modules();  // the moved-in vector frees ours unwiped otherwise
    size_ = other.size_;
    dark_ = std::move(other.dark_);
    other.size_ = 0;
  }
  return *this;
}

void QrCode::wipe_modules() {
  wipe(dark_.data(), dark_.size());
}

Result<QrCode> encode_qr(std::string_view text) {
  if (text.empty()) return make_error(Errc::kInvalidArgument, "there is no text to encode");
  if (text.find('\0') != std::string_view::npos)
    return make_error(Errc::kInvalidArgument, "the text to encode holds a NUL byte");
  std::string terminated;
  terminated.reserve(text.size() + 1);
  terminated.assign(text);
  Result<QrCode> code = make_error(Errc::kInternal, "not encoded");
  int err = 0;
  for (QRecLevel level : {QR_ECLEVEL_M, QR_ECLEVEL_L}) {
    code = encode_at(terminated.c_str(), level, err);
    if (code.ok() || err != ERANGE) break;
  }
  wipe(terminated.data(), terminated.size());
  if (code.ok()) return code;
  if (err == ERANGE) {
    return make_error(Errc::kInvalidArgument,
                      "the text (" + std::to_string(text.size()) +
                          " characters) does not fit in a QR code: version 40 at error correction "
                          "level L holds at most 4,296 upper-case alphanumeric characters");
  }
  return make_error(Errc::kInternal,
                    std::string("libqrencode could not encode the text: ") + std::strerror(err));
}

}  // namespace satchel::client
