#include "net/transport.h"

namespace stampede::net {

IoResult PlainTransport::Read(char* buf, size_t len) { return net::Read(fd_, buf, len); }
IoResult PlainTransport::Write(const char* buf, size_t len) { return net::Write(fd_, buf, len); }
bool PlainTransport::HasBufferedData() const { return false; }
void PlainTransport::Shutdown() {}

IoResult TlsTransport::Read(char* buf, size_t len) { return session_.Read(buf, len); }
IoResult TlsTransport::Write(const char* buf, size_t len) { return session_.Write(buf, len); }
bool TlsTransport::HasBufferedData() const { return session_.HasBufferedData(); }
void TlsTransport::Shutdown() { session_.Shutdown(); }

}  // namespace stampede::net
