//! TCP, UDP and Unix-domain sockets.
