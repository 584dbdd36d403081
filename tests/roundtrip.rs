//! Generated workbooks read back by the reader.
