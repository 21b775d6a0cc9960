//! The `Manager` server and proxies. Not built yet: issue 6.
