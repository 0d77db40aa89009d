// write_png: a QR code as a new 1-bit greyscale PNG (mode 0600), removed again on any failure.
#include <fcntl.h>
#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "satchel/client/qr_code.h"
#include "satchel/crypto/secret.h"

namespace satchel::client {
namespace {

constexpr int kMaxScale = 64;

struct PngFailure {
  char message[256] = "out of memory";
};

// libpng reports errors by calling this, which must not return: it jumps back into encode_png.
void on_png_error(png_structp png, png_const_charp message) {
  auto* failure = static_cast<PngFailure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// Sets the pixels of one module row into `row` (1 = white), `scale` pixels a module.
void fill_row(const QrCode& qr, int y, int scale, std::vector<png_byte>& row) {
  std::fill(row.begin(), row.end(), png_byte{0xFF});
  const int side = qr.size() + 2 * kQrQuietZone;
  const int qy = y - kQrQuietZone;
  if (qy < 0 || qy >= qr.size()) return;
  for (int x = 0; x < side; ++x) {
    const int qx = x - kQrQuietZone;
    if (qx < 0 || qx >= qr.size() || !qr.dark(qx, qy)) continue;
    for (int p = x * scale; p < (x + 1) * scale; ++p)
      row[static_cast<size_t>(p / 8)] &= static_cast<png_byte>(~(0x80u >> (p % 8)));
  }
}

// Writes the PNG to out. Only trivially destructible objects live in this frame (the row buffer
// belongs to the caller), so libpng's longjmp back to setjmp here skips no destructor.
bool encode_png(FILE* out, const QrCode& qr, int scale, std::vector<png_byte>& row,
                PngFailure& failure) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, on_png_error, on_png_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  const int side = qr.size() + 2 * kQrQuietZone;
  const auto pixels = static_cast<png_uint_32>(side * scale);
  png_init_io(png, out);
  png_set_IHDR(png, info, pixels, pixels, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < side; ++y) {
    fill_row(qr, y, scale, row);
    for (int i = 0; i < scale; ++i) png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

Status write_png(const QrCode& qr, const std::string& path, int scale) {
  if (scale < 1 || scale > kMaxScale) {
    return make_error(Errc::kInvalidArgument, "a QR code's PNG scale is 1 to " +
                                                  std::to_string(kMaxScale) +
                                                  " pixels a module, not " + std::to_string(scale));
  }
  // O_EXCL also refuses a symlink, dangling or not: nothing is ever written through one.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return make_error(Errc::kAlreadyExists,
                        path + " already exists; the QR code is never written over a file");
    }
    return make_error(Errc::kIoError, "cannot create " + path + ": " + std::strerror(errno));
  }
  FILE* out = ::fdopen(fd, "wb");
  if (out == nullptr) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return make_error(Errc::kIoError, "cannot write " + path + ": " + std::strerror(err));
  }
  const int side = qr.size() + 2 * kQrQuietZone;
  std::vector<png_byte> row(static_cast<size_t>((side * scale + 7) / 8));
  PngFailure failure;
  const bool encoded = encode_png(out, qr, scale, row, failure);
  wipe(row.data(), row.size());
  std::string error;
  if (!encoded) {
    error = std::string("cannot write the PNG ") + path + ": " + failure.message;
  } else if (std::fflush(out) != 0 || ::fsync(fd) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
  }
  if (std::fclose(out) != 0 && error.empty())
    error = "cannot write " + path + ": " + std::strerror(errno);
  if (!error.empty()) {
    ::unlink(path.c_str());
    return make_error(Errc::kIoError, error);
  }
  return Status::Ok();
}

}  // namespace satchel::client
