//! Tests of the emulator itself, with reqwest as a plain HTTP client.
